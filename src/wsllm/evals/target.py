"""Call a WebSocket target as promptfoo's WebSocket provider does, and measure the stream.

Differences from promptfoo, on purpose: one deadline covers the whole call (promptfoo clears its
timer at the first frame, so a stream that stalls afterwards hangs), and a connection closed before
the final frame fails the call at once (promptfoo waits forever).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import orjson

from wsllm.evals.jsengine import JsEngine
from wsllm.evals.metrics import StreamRecorder
from wsllm.evals.model import Function, Target
from wsllm.evals.results import TargetResponse
from wsllm.evals.templates import render

_CLOSING = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)


class CallFailed(Exception):
    """The call could not produce a response; the message says why, for the test's ERROR."""


def process_result(value: Any) -> dict[str, Any]:
    """promptfoo's processResult: an object with a truthy output or error as is, else the output."""
    if isinstance(value, dict) and (_truthy(value.get("output")) or _truthy(value.get("error"))):
        return value
    return {"output": value}


def _truthy(value: Any) -> bool:
    return value is not None and value is not False and value != "" and value != 0


class Fold:
    """Folds frames into a response with the target's streamResponse (or the first frame)."""

    def __init__(self, target: Target, js: JsEngine | None, context: dict[str, Any]) -> None:
        self._stream = target.stream_response
        self._transform = target.transform_response
        self._js = js
        self._accumulator: Any = {"error": "unknown error occurred"}
        self._call_id: int | None = None
        if self._stream is not None and self._stream.kind == "js":
            assert js is not None
            self._call_id = js.begin_stream(context)
        self._context = context
        self._frames = 0

    def step(self, data: str) -> dict[str, Any] | None:
        """Feed one frame; the response once complete, else None."""
        if self._stream is None:
            return process_result(self._transform_first(data))
        self._frames += 1
        try:
            return self._stream_step(self._stream, data)
        except Exception as exc:  # JsError, or anything a Python function raised
            shown = data if len(data) <= 120 else data[:117] + "..."
            raise CallFailed(
                f"Error executing streamResponse function: {exc} (on frame {self._frames}: "
                f"{json.dumps(shown, ensure_ascii=False)})"
            ) from exc

    def _stream_step(self, stream: Function, data: str) -> dict[str, Any] | None:
        if stream.kind == "js":
            assert self._js is not None
            assert self._call_id is not None
            final = self._js.stream_step(stream.js_index, self._call_id, data)
            if final is None:
                return None
            self._call_id = None
            return process_result(orjson.loads(final))
        assert stream.python is not None
        result = stream.python(self._accumulator, {"data": data}, self._context)
        if not isinstance(result, tuple | list) or len(result) < 2:
            raise TypeError(f"streamResponse must return (response, done), got {result!r}")
        self._accumulator = result[0]
        return process_result(result[0]) if result[1] else None

    def _transform_first(self, data: str) -> Any:
        try:
            parsed: Any = orjson.loads(data)
        except orjson.JSONDecodeError:
            parsed = data
        transform = self._transform
        if transform is None:
            return parsed
        try:
            if transform.kind == "js":
                assert self._js is not None
                return self._js.call(transform.js_index, parsed)
            assert transform.python is not None
            return transform.python(parsed)
        except Exception as exc:
            raise CallFailed(f"Failed to process response: {exc}") from exc

    def close(self) -> None:
        """Release the JS accumulator of an unfinished stream."""
        if self._call_id is not None and self._js is not None:
            self._js.end_stream(self._call_id)
            self._call_id = None


class WebSocketCaller:
    """Makes calls to targets over one shared HTTP client."""

    def __init__(self, session: aiohttp.ClientSession, js: JsEngine | None, frame_limit: int):
        self._session = session
        self._js = js
        self._frame_limit = frame_limit

    async def call(
        self, target: Target, prompt: str, variables: dict[str, Any], timeout_ms: float
    ) -> TargetResponse:
        """Send the rendered message, fold the frames, and return the response with its metrics."""
        scope = {**variables, "prompt": prompt}
        context = {"vars": variables, "prompt": {"raw": prompt, "label": prompt}}
        recorder = StreamRecorder(time.perf_counter(), self._frame_limit)
        fold = Fold(target, self._js, context)
        response = TargetResponse()
        try:
            url = render(target.url, scope)
            message = render(target.message_template, scope)
            async with asyncio.timeout(timeout_ms / 1000):
                result = await self._exchange(target, url, message, fold, recorder)
            _apply(result, response)
        except TimeoutError:
            response.error = _timeout_message(timeout_ms, recorder)
        except CallFailed as exc:
            response.error = str(exc)
        except Exception as exc:  # a user template or function failed: data for the report
            response.error = f"{type(exc).__name__}: {exc}"
        finally:
            fold.close()
        response.metrics = recorder.finish(time.perf_counter())
        response.frames = recorder.kept
        response.frames_dropped = recorder.dropped
        return response

    async def _exchange(
        self, target: Target, url: str, message: str, fold: Fold, recorder: StreamRecorder
    ) -> dict[str, Any]:
        try:
            ws = await self._session.ws_connect(
                url,
                headers=target.headers or None,
                protocols=target.protocols,
                max_msg_size=64 * 1024 * 1024,
                autoclose=False,
            )
        except aiohttp.WSServerHandshakeError as exc:
            raise CallFailed(f"WebSocket handshake rejected by {url}: HTTP {exc.status}") from exc
        except aiohttp.ClientConnectorError as exc:
            raise CallFailed(f"cannot connect to {url}: {exc.os_error.strerror or exc}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise CallFailed(f"cannot connect to {url}: {type(exc).__name__}: {exc}") from exc
        recorder.opened(time.perf_counter())
        try:
            await ws.send_str(message)
            recorder.sent(time.perf_counter())
            return await _receive_until_done(ws, fold, recorder)
        finally:
            await _close_quietly(ws)


async def _receive_until_done(
    ws: aiohttp.ClientWebSocketResponse, fold: Fold, recorder: StreamRecorder
) -> dict[str, Any]:
    while True:
        message = await ws.receive()
        now = time.perf_counter()
        if message.type is aiohttp.WSMsgType.TEXT:
            data: str = message.data
            size = len(data)
        elif message.type is aiohttp.WSMsgType.BINARY:
            data = message.data.decode("utf-8", "replace")
            size = len(message.data)
        elif message.type in _CLOSING:
            code = ws.close_code
            raise CallFailed(
                f"the server closed the connection (code {code}) before the final frame"
                f" ({recorder.frames_so_far} frames received)"
            )
        else:
            raise CallFailed(f"the connection failed: {ws.exception() or message.type.name}")
        recorder.frame(now, data, size)
        result = fold.step(data)
        if result is not None:
            return result


async def _close_quietly(ws: aiohttp.ClientWebSocketResponse) -> None:
    try:
        async with asyncio.timeout(1):
            await ws.close()
    except (TimeoutError, aiohttp.ClientError, OSError):
        pass


def _apply(result: dict[str, Any], response: TargetResponse) -> None:
    error = result.get("error")
    if _truthy(error):
        response.error = str(error)
    else:
        response.output = result.get("output")


def _timeout_message(timeout_ms: float, recorder: StreamRecorder) -> str:
    return (
        f"timed out after {timeout_ms:g} ms with {recorder.frames_so_far} frames received "
        "and no final frame"
    )
