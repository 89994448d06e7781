"""One call to a WebSocket target: connect, send the request frame, fold the frames that come
back into a response, and record the stream, all under one deadline.

Differences from promptfoo, on purpose: the deadline covers the whole call (promptfoo clears its
timer at the first frame, so a stream that stalls afterwards hangs it), and a connection closed
before the final frame fails the call at once (promptfoo waits forever).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wsllm.client import frames, transport
from wsllm.client.fold import Fold
from wsllm.client.recorder import StreamRecorder
from wsllm.errors import HandshakeError, TargetError


@dataclass(frozen=True, slots=True)
class Request:
    """Where to call and what to send."""

    url: str
    message: str
    headers: Mapping[str, str]
    protocols: tuple[str, ...]
    timeout_s: float


class _Receiver:
    """Takes each message as it arrives: records it, folds it, resolves when the fold is done."""

    def __init__(self, fold: Fold, recorder: StreamRecorder) -> None:
        self.fold = fold
        self.recorder = recorder
        self.result: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.saw_done = False

    def __call__(self, data: str, size: int, now: float) -> None:
        if self.result.done():
            return
        kind, payload = frames.decode(data)
        if kind is frames.Kind.CONTROL and payload is not None and payload.get("type") == "done":
            self.saw_done = True
            self.recorder.ended_by_server(now)
        self.recorder.frame(now, data, size, kind)
        try:
            response = self.fold.step(data)
        except TargetError as exc:
            self.result.set_exception(exc)
            return
        if response is not None:
            self.result.set_result(response)


async def call(request: Request, fold: Fold, recorder: StreamRecorder) -> dict[str, Any]:
    """The folded response; TargetError (or TimeoutError at the deadline) when there is none."""
    receiver = _Receiver(fold, recorder)
    try:
        async with asyncio.timeout(request.timeout_s):
            ws = await _open(request, receiver)
            try:
                recorder.opened(time.perf_counter())
                ws.send_text(request.message)
                recorder.sent(time.perf_counter())
                return await _until_folded(receiver, ws)
            finally:
                ws.close()
    except TimeoutError:
        raise TimeoutError(_timeout_message(request.timeout_s, receiver)) from None


async def _open(request: Request, receiver: _Receiver) -> transport.WebSocket:
    try:
        return await transport.connect(request.url, receiver, request.headers, request.protocols)
    except HandshakeError as exc:
        raise TargetError(
            f"WebSocket handshake rejected by {request.url}: HTTP {exc.status}"
        ) from exc
    except TargetError as exc:
        raise TargetError(f"cannot open {request.url}: {exc}") from exc
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise TargetError(f"cannot connect to {request.url}: {reason}") from exc


async def _until_folded(receiver: _Receiver, ws: transport.WebSocket) -> dict[str, Any]:
    waiting: list[asyncio.Future[Any]] = [receiver.result, ws.closed]
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    if receiver.result.done():
        return receiver.result.result()
    code = ws.closed.result()
    shown = f"code {code}" if code is not None else "no close code"
    ending = " after `done`; streamResponse never returned true" if receiver.saw_done else ""
    raise TargetError(
        f"the server closed the connection ({shown}) before the final frame"
        f" ({receiver.recorder.frames} frames received{ending})"
    )


def _timeout_message(timeout_s: float, receiver: _Receiver) -> str:
    frames_in = receiver.recorder.frames
    if receiver.saw_done:
        return (
            f"timed out after {timeout_s * 1000:g} ms: the stream ended with `done` "
            f"({frames_in} frames), but streamResponse never returned true"
        )
    return (
        f"timed out after {timeout_s * 1000:g} ms with {frames_in} frames received "
        "and no final frame"
    )
