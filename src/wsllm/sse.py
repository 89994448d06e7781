"""Server-sent events parser (no I/O): feed it bytes as they arrive, get whole events back.

A line or an event larger than `max_bytes` is an upstream protocol error: a server that never
ends its line cannot make us buffer without bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from wsllm.codes import ErrorCode
from wsllm.errors import UpstreamError

DEFAULT_MAX_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event: its `event:` name ("message" by default) and its joined `data:`."""

    event: str
    data: str


class SSEParser:
    """Incremental parser following the WHATWG event-stream rules for `event` and `data` fields."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []
        self._data_bytes = 0
        self._max = max_bytes

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add bytes; return the events they complete, in order."""
        buffer = self._buffer + chunk
        held = b""
        if b"\r" in buffer:
            # A trailing CR may be the first half of a CRLF: hold it back for the next chunk.
            if buffer.endswith(b"\r"):
                buffer, held = buffer[:-1], b"\r"
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        self._buffer = lines.pop() + held
        if len(self._buffer) > self._max:
            raise _too_large(self._max)
        events: list[SSEEvent] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, raw: bytes) -> SSEEvent | None:
        if not raw:
            return self._dispatch()
        if raw[0] == 0x3A:  # ":" starts a comment
            return None
        name, sep, value = raw.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data_bytes += len(value)
            if self._data_bytes > self._max:
                raise _too_large(self._max)
            self._data.append(value.decode("utf-8", "replace"))
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._data:
            self._event = ""
            return None
        event = SSEEvent(self._event or "message", "\n".join(self._data))
        self._event = ""
        self._data = []
        self._data_bytes = 0
        return event


def _too_large(limit: int) -> UpstreamError:
    return UpstreamError(
        ErrorCode.UPSTREAM_PROTOCOL,
        f"The model server sent an event larger than {limit} bytes; the request was abandoned",
    )
