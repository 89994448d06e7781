"""The seed's WebSocket protocol as pure functions: client frames in, server frames out (no I/O).

Client to server: one JSON text frame per request, `{"input": "..."}`, optionally with an `id`
that every frame of that request echoes back and `"continue": true` to carry on the connection's
conversation. Control frames, all optional: `{"type": "cancel"}` (or, from any connection,
`{"type": "cancel", "stream": ID}`), `{"type": "ping"}`, `{"type": "reset"}` (forget the
conversation),
`{"type": "auth", "token": "..."}` and `{"type": "resume", "stream": ID, "after": SEQ}`.
Server to client: JSON text frames whose `type` is `ready`, `delta`, `message`, `response`,
`done`, `pong`, `reconnect` or `error`. Every frame of a request carries `seq` (1, 2, ...); its
first carries `stream`, the id to resume it by.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from wsllm.codes import ErrorCode
from wsllm.errors import ProtocolError

RequestId = str | int | None

_REQUEST_TYPES = frozenset({None, "request"})
CLIENT_CONTROLS = frozenset({"cancel", "ping", "reset", "auth", "resume"})


@dataclass(frozen=True, slots=True)
class Request:
    """One client request: the text to send to the model, and the id to echo back."""

    input: str
    id: RequestId = None
    continue_conversation: bool | None = None


@dataclass(frozen=True, slots=True)
class Control:
    """A control frame: cancel, ping, reset, auth or resume."""

    type: str
    id: RequestId = None
    token: str | None = None
    stream: str | None = None
    after: int = 0


def parse_message(raw: str | bytes, max_bytes: int) -> Request | Control:
    """Validate one client text frame: a request or a control frame."""
    if len(raw) > max_bytes:
        raise ProtocolError(
            ErrorCode.FRAME_TOO_LARGE, f"Frame of {len(raw)} bytes is over the limit of {max_bytes}"
        )
    payload = _load_object(raw)
    request_id = _request_id(payload)
    kind = payload.get("type")
    if kind is not None and not isinstance(kind, str):
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, '"type" must be a string')
    if kind in CLIENT_CONTROLS:
        return _control(kind, payload, request_id)
    if kind not in _REQUEST_TYPES:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"Unknown message type {kind!r}")
    text = payload.get("input")
    if not isinstance(text, str) or not text.strip():
        raise ProtocolError(
            ErrorCode.MISSING_INPUT, 'Missing "input" (non-empty string) in payload'
        )
    carry_on = payload.get("continue")
    if carry_on is not None and not isinstance(carry_on, bool):
        raise ProtocolError(ErrorCode.INVALID_REQUEST, '"continue" must be true or false')
    return Request(input=text, id=request_id, continue_conversation=carry_on)


def _control(kind: str, payload: dict[str, Any], request_id: RequestId) -> Control:
    token, stream, after = payload.get("token"), payload.get("stream"), payload.get("after", 0)
    if stream is not None and (not isinstance(stream, str) or not stream):
        raise ProtocolError(ErrorCode.INVALID_REQUEST, '"stream" must be a stream id string')
    if kind == "resume" and stream is None:
        raise ProtocolError(ErrorCode.INVALID_REQUEST, 'resume needs "stream" (and "after")')
    if type(after) is not int or after < 0:
        raise ProtocolError(ErrorCode.INVALID_REQUEST, '"after" must be a whole number')
    return Control(kind, request_id, token if isinstance(token, str) else None, stream, after)


def _load_object(raw: str | bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(ErrorCode.INVALID_JSON, "Invalid JSON payload") from exc
    if not isinstance(payload, dict):
        kind = type(payload).__name__
        raise ProtocolError(ErrorCode.INVALID_REQUEST, f"Payload must be a JSON object, got {kind}")
    return payload


def _request_id(payload: dict[str, Any]) -> RequestId:
    value = payload.get("id")
    if value is None or isinstance(value, str) or type(value) is int:
        return value
    raise ProtocolError(ErrorCode.INVALID_REQUEST, '"id" must be a string or an integer')


def _frame(fields: dict[str, Any], request_id: RequestId) -> bytes:
    if request_id is not None:
        fields["id"] = request_id
    # A copy of exactly its size: orjson's result is a kilobyte buffer cut down, and a server
    # keeps each frame for the life of its stream; kept, those buffers fragment the heap so
    # that every new one takes fresh memory (about 3x the cost of the copy, more on a VM).
    return memoryview(orjson.dumps(fields)).tobytes()


def ready_frame(path: str) -> bytes:
    """The frame sent once a connection opens."""
    return orjson.dumps({"type": "ready", "message": f"Connected to {path}"})


def delta_frame(text: str, request_id: RequestId = None) -> bytes:
    """A chunk of streamed text; `output` repeats it for the server README's client."""
    return _frame({"type": "delta", "message": text, "output": text}, request_id)


def message_frame(text: str, request_id: RequestId = None) -> bytes:
    """The full text at the end of a stream on `/ws-stream`."""
    return _frame({"type": "message", "message": text}, request_id)


def response_frame(text: str, request_id: RequestId = None) -> bytes:
    """The full text, the single answer on `/ws`."""
    return _frame({"type": "response", "message": text}, request_id)


_DONE = orjson.dumps({"type": "done"})


def done_frame(request_id: RequestId = None, usage: dict[str, int] | None = None) -> bytes:
    """The frame that closes a request, with the token usage when the backend reported it."""
    if request_id is None and usage is None:
        return _DONE
    fields: dict[str, Any] = {"type": "done"}
    if usage is not None:
        fields["usage"] = usage
    return _frame(fields, request_id)


def pong_frame(request_id: RequestId = None) -> bytes:
    """The answer to an application-level ping."""
    return _frame({"type": "pong"}, request_id)


def error_frame(code: ErrorCode, message: str, request_id: RequestId = None) -> bytes:
    """A failed request: a stable code, and a message a person can read."""
    return _frame({"type": "error", "code": code.value, "message": message}, request_id)


def reconnect_frame(stream: str | None, after: int, request_id: RequestId = None) -> bytes:
    """The server is going away: reconnect (through the balancer) and resume `stream` after
    `after`; with no stream, send the request again on a new connection."""
    fields: dict[str, Any] = {"type": "reconnect", "after": after}
    if stream is not None:
        fields["stream"] = stream
    return _frame(fields, request_id)


class RequestFrames:
    """The frames of one request, numbered: `seq` on each, `stream` on the first."""

    __slots__ = ("_request_id", "_tail", "seq", "stream")

    def __init__(self, request_id: RequestId, stream: str) -> None:
        self._request_id = request_id
        self.stream = stream
        self.seq = 0
        # What ends each frame after its `seq`: the same bytes `_frame` would write.
        self._tail = b"}" if request_id is None else b',"id":' + orjson.dumps(request_id) + b"}"

    def _frame(self, fields: dict[str, Any]) -> bytes:
        self.seq += 1
        fields["seq"] = self.seq
        if self.seq == 1:
            fields["stream"] = self.stream
        return _frame(fields, self._request_id)

    def delta(self, text: str) -> bytes:
        """A chunk of streamed text; `output` repeats it for the server README's client."""
        if not self.seq:  # the first frame names the stream
            return self._frame({"type": "delta", "message": text, "output": text})
        # The frame a stream sends most, so written out directly: the bytes are those of the
        # fields above, in their order, as `_frame` makes them.
        self.seq = seq = self.seq + 1
        quoted = orjson.dumps(text)
        return b'{"type":"delta","message":%b,"output":%b,"seq":%d%b' % (
            quoted, quoted, seq, self._tail
        )  # fmt: skip

    def message(self, text: str) -> bytes:
        """The full text at the end of a stream on `/ws-stream`."""
        return self._frame({"type": "message", "message": text})

    def response(self, text: str) -> bytes:
        """The full text, the single answer on `/ws`."""
        return self._frame({"type": "response", "message": text})

    def done(self, usage: dict[str, int] | None) -> bytes:
        """The frame that closes the request, with the token usage when the backend reported it."""
        fields: dict[str, Any] = {"type": "done"}
        if usage is not None:
            fields["usage"] = usage
        return self._frame(fields)

    def error(self, code: ErrorCode, message: str) -> bytes:
        """The request failed: a stable code, and a message a person can read."""
        return self._frame({"type": "error", "code": code.value, "message": message})


FINAL_STARTS = (b'{"type":"done"', b'{"type":"error"')


def is_final(frame: bytes) -> bool:
    """Whether a frame of a request is its last (`done` or `error`)."""
    return frame.startswith(FINAL_STARTS)
