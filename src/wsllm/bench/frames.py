"""What a request's frames mean to the load generator: which are deltas, and which ends it.

`SeedState` reads the seed protocol: `delta` frames (or a lone `response`) are deltas, `done`
ends the request and `error` fails it. `FoldState` reads any protocol through an eval target's
`streamResponse`: every content frame is a delta, and the function says when the answer is done.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from wsllm.evals.metrics import is_content
from wsllm.evals.target import CallFailed, Fold


class RequestState:
    """One request's timings as its frames arrive; `done` resolves when it ends."""

    def __init__(self) -> None:
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sent = 0.0
        self.times: list[float] = []
        self.chars = 0
        self.end = 0.0
        self.error: str | None = None
        self.detail = ""

    def begin(self, now: float) -> None:
        """The request frame is being sent now."""
        self.sent = now

    def on_message(self, data: str, now: float) -> None:
        """A frame arrived (frames before `begin` belong to no request and are ignored)."""
        if self.sent and not self.done.done():
            self.frame(data, now)

    def frame(self, data: str, now: float) -> None:
        """Interpret one frame."""
        raise NotImplementedError

    def delta(self, now: float, chars: int) -> None:
        """Count a delta."""
        self.times.append(now)
        self.chars += chars

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
        record.error, record.error_detail = self.error, self.detail
        record.deltas, record.chars = len(self.times), self.chars
        if self.times:
            record.ttft_ms = (self.times[0] - self.sent) * 1000
            pairs = zip(self.times, self.times[1:], strict=False)
            record.gaps_ms = [(b - a) * 1000 for a, b in pairs]
        if self.error is None and self.end:
            record.e2e_ms = (self.end - self.sent) * 1000


class SeedState(RequestState):
    """The seed protocol."""

    def frame(self, data: str, now: float) -> None:
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            self.fail("protocol", f"a frame that is not JSON: {data[:80]!r}", now)
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "delta":
            text = message.get("output") or message.get("message") or ""
            self.delta(now, len(text) if isinstance(text, str) else 0)
        elif kind == "response" and not self.times:
            text = message.get("message") or ""
            self.delta(now, len(text) if isinstance(text, str) else 0)
        elif kind == "done":
            self.complete(now)
        elif kind == "error":
            self.fail("error_frame", str(message.get("code") or message.get("message")), now)


class FoldState(RequestState):
    """Any protocol, read through a target's streamResponse."""

    def __init__(self, fold: Fold) -> None:
        super().__init__()
        self._fold = fold

    def frame(self, data: str, now: float) -> None:
        if is_content(data):
            self.delta(now, len(data))
        try:
            result = self._fold.step(data)
        except CallFailed as exc:
            self.fail("protocol", str(exc), now)
            return
        if result is None:
            return
        self._fold.close()
        if result.get("error"):
            self.fail("error_frame", str(result["error"]), now)
        else:
            self.complete(now)
