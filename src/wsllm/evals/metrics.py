"""Measure a stream as its frames arrive (no I/O: the caller passes the clock readings)."""

from __future__ import annotations

import orjson

from wsllm.evals.results import Frame, StreamMetrics

CONTROL_TYPES = frozenset(
    {
        "ready",
        "done",
        "error",
        "ping",
        "pong",
        "heartbeat",
        "keepalive",
        "status",
        "ack",
        "connected",
    }
)


def is_content(data: str) -> bool:
    """Whether a frame carries content: anything but a JSON object whose `type` is a control one."""
    if not data.startswith("{"):
        return True
    try:
        kind = orjson.loads(data).get("type")
    except (orjson.JSONDecodeError, AttributeError):
        return True
    return kind not in CONTROL_TYPES


class StreamRecorder:
    """Collects one call's timings; times are seconds from any fixed clock."""

    def __init__(self, started: float, frame_limit: int) -> None:
        self._started = started
        self._sent: float | None = None
        self._opened: float | None = None
        self._first_frame: float | None = None
        self._first_content: float | None = None
        self._last: float | None = None
        self._max_gap = 0.0
        self._frames = 0
        self._bytes = 0
        self._limit = frame_limit
        self.kept: list[Frame] = []
        self.dropped = 0

    @property
    def frames_so_far(self) -> int:
        """How many frames have arrived."""
        return self._frames

    def opened(self, now: float) -> None:
        """The connection is open."""
        self._opened = now

    def sent(self, now: float) -> None:
        """The request frame is sent."""
        self._sent = now

    def frame(self, now: float, data: str, size: int) -> None:
        """A frame arrived."""
        self._frames += 1
        self._bytes += size
        since = now - (self._sent if self._sent is not None else self._started)
        if self._first_frame is None:
            self._first_frame = now
        if self._first_content is not None and self._last is not None:
            self._max_gap = max(self._max_gap, now - self._last)
        elif is_content(data):
            self._first_content = now
        self._last = now
        if len(self.kept) < self._limit:
            self.kept.append(Frame(since * 1000, data))
        else:
            self.dropped += 1

    def finish(self, now: float) -> StreamMetrics:
        """The figures of the call so far."""
        base = self._sent if self._sent is not None else self._started

        def since(moment: float | None) -> float | None:
            return None if moment is None else (moment - base) * 1000

        return StreamMetrics(
            connect_ms=None if self._opened is None else (self._opened - self._started) * 1000,
            first_frame_ms=since(self._first_frame),
            first_delta_ms=since(self._first_content),
            total_ms=(now - self._started) * 1000,
            frames=self._frames,
            max_gap_ms=None if self._first_content is None else self._max_gap * 1000,
            bytes=self._bytes,
        )
