"""What a request's frames mean to the load generator: which are deltas (the client's one rule,
`client/frames.py`), and which frame ends the request.

`SeedState` reads the seed protocol: `done` ends the request and `error` fails it; it keeps the
request's stream and the last `seq` seen, so a client that resumes can pick the stream up again on
a new connection (frames seen before are not counted twice), and it notes a server's `reconnect`.
`FoldState`
reads any protocol through an eval target's `streamResponse`, which says when the answer is done.
`ResponsesState` reads OpenAI's Responses WebSocket mode: `response.completed` ends it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from wsllm.client import frames
from wsllm.client.fold import Fold
from wsllm.client.recorder import StreamRecorder
from wsllm.errors import TargetError


class RequestState:
    """One request's stream as its frames arrive; `done` resolves when it ends."""

    def __init__(self) -> None:
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.recorder = StreamRecorder(0.0)
        self.end = 0.0
        self.error: str | None = None
        self.detail = ""
        self.stream: str | None = None
        self.seq = 0
        self.moved: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.resumes = 0

    def begin(self, now: float) -> None:
        """The request frame is being sent now."""
        self.recorder.sent(now)

    def on_message(self, data: str, size: int, now: float) -> None:
        """A frame arrived (frames before `begin` belong to no request and are ignored)."""
        if self.recorder.sent_at is None or self.done.done():
            return
        kind, payload = frames.decode(data)
        if payload is not None and not self._new(payload):
            return
        chars = len(frames.text_of(payload, data)) if kind is not frames.Kind.CONTROL else 0
        self.recorder.frame(now, data, size, kind, chars)
        self.frame(data, payload, now)

    def _new(self, payload: dict[str, Any]) -> bool:
        """Whether a frame is new to this request (a resumed stream replays nothing twice)."""
        if payload.get("type") == "reconnect":
            self.stream = payload.get("stream") or self.stream
            if not self.moved.done():
                self.moved.set_result(None)
            return False
        seq = payload.get("seq")
        if type(seq) is not int:
            return True
        if seq <= self.seq:
            return False
        self.seq = seq
        if isinstance(payload.get("stream"), str):
            self.stream = payload["stream"]
        return True

    def resumed(self) -> str:
        """The frame that picks this request up on a new connection: a resume of its stream, or
        (when nothing of it arrived) nothing: the request is sent again."""
        self.resumes += 1
        self.moved = asyncio.get_running_loop().create_future()
        if self.stream is None:
            return ""
        return orjson.dumps({"type": "resume", "stream": self.stream, "after": self.seq}).decode()

    def frame(self, data: str, payload: dict[str, Any] | None, now: float) -> None:
        """Decide whether this frame ends the request."""
        raise NotImplementedError

    def complete(self, now: float) -> None:
        """The request ended well."""
        self.end = now
        if not self.done.done():
            self.done.set_result(None)

    def fail(self, kind: str, detail: str, now: float | None = None) -> None:
        """The request failed with an error of `kind`."""
        self.error = self.error or kind
        self.detail = self.detail or detail
        self.end = now or self.end
        if not self.done.done():
            self.done.set_result(None)

    def fill(self, record: Any) -> None:
        """Copy the figures into a RequestRecord."""
        r = self.recorder
        record.error, record.error_detail = self.error, self.detail
        record.resumes = self.resumes
        record.deltas, record.chars = r.deltas, r.chars
        sent = r.sent_at or 0.0
        if r.content_times:
            record.ttft_ms = (r.content_times[0] - sent) * 1000
            record.gaps_ms = [g * 1000 for g in r.gaps()]
        if self.error is None and self.end:
            record.e2e_ms = (self.end - sent) * 1000


class SeedState(RequestState):
    """The seed protocol."""

    def frame(self, data: str, payload: dict[str, Any] | None, now: float) -> None:
        if payload is None:
            self.fail("protocol", f"a frame that is not a JSON object: {data[:80]!r}", now)
            return
        kind = payload.get("type")
        if kind == "done":
            self.complete(now)
        elif kind == "error":
            self.fail("error_frame", str(payload.get("code") or payload.get("message")), now)


class ResponsesState(RequestState):
    """OpenAI's Responses API WebSocket mode."""

    def frame(self, data: str, payload: dict[str, Any] | None, now: float) -> None:
        kind = None if payload is None else payload.get("type")
        if kind == "response.completed":
            self.complete(now)
        elif kind in ("error", "response.failed", "response.incomplete"):
            error = (payload or {}).get("error") or ((payload or {}).get("response") or {}).get(
                "error"
            )
            code = error.get("code") if isinstance(error, dict) else None
            self.fail("error_frame", str(code or kind), now)


class FoldState(RequestState):
    """Any protocol, read through a target's streamResponse."""

    def __init__(self, fold: Fold) -> None:
        super().__init__()
        self._fold = fold

    def frame(self, data: str, payload: dict[str, Any] | None, now: float) -> None:
        try:
            result = self._fold.step(data)
        except TargetError as exc:
            self.fail("protocol", str(exc), now)
            return
        if result is None:
            return
        self._fold.close()
        if result.get("error"):
            self.fail("error_frame", str(result["error"]), now)
        else:
            self.complete(now)
