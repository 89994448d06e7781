"""One WebSocket connection: read client frames, serve requests in arrival order, write frames.

Reading goes on while a request streams, so a closed socket cancels the request (and with it the
upstream call) at once instead of when the next frame fails to send.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from contextlib import aclosing
from enum import Enum

from aiohttp import WSMsgType, web

from wsllm import protocol
from wsllm.backends import Backend, CompletionRequest
from wsllm.errors import CodedError, ProtocolError
from wsllm.protocol_codes import ErrorCode
from wsllm.server.writer import FrameWriter
from wsllm.settings import Settings

log = logging.getLogger("wsllm.server")


class Mode(Enum):
    """How a path answers: one `response` frame, or `delta` frames then the `message`."""

    WHOLE = "/ws"
    STREAM = "/ws-stream"


class Session:
    """The state of one connection: its socket, its queue of requests and the one being served."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport,
        backend: Backend,
        settings: Settings,
        mode: Mode,
    ) -> None:
        self._ws = ws
        self._backend = backend
        self._settings = settings
        self._mode = mode
        self._pending: deque[protocol.Request] = deque()
        self._writer = FrameWriter(ws, transport)
        self._worker: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Serve the connection until the client closes it."""
        await self._send(protocol.ready_frame(self._mode.value))
        try:
            async for message in self._ws:
                if message.type is WSMsgType.TEXT:
                    await self._on_text(message.data)
                elif message.type is WSMsgType.BINARY:
                    await self._reject(ProtocolError(ErrorCode.BINARY_FRAME, _BINARY_HINT))
        except ConnectionError:
            pass
        finally:
            if self._worker is not None:
                self._worker.cancel()
            self._writer.flush()

    async def close(self, code: int, reason: bytes) -> None:
        """Send what is queued, then close the connection with `code`."""
        self._writer.flush()
        await self._ws.close(code=code, message=reason)

    async def _on_text(self, raw: str) -> None:
        try:
            request = protocol.parse_request(raw, self._settings.max_frame_bytes)
        except ProtocolError as exc:
            await self._reject(exc)
            return
        self._pending.append(request)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())

    async def _reject(self, error: ProtocolError) -> None:
        await self._send(protocol.error_frame(error.code, error.message))

    async def _drain(self) -> None:
        try:
            while self._pending:
                await self._serve(self._pending.popleft())
        except ConnectionError:
            pass

    async def _serve(self, request: protocol.Request) -> None:
        model_request = CompletionRequest(input=request.input, model=self._settings.model)
        try:
            if self._mode is Mode.STREAM:
                await self._stream(model_request, request.id)
            else:
                text = await self._backend.complete(model_request)
                await self._send(protocol.response_frame(text, request.id))
        except CodedError as exc:
            log.warning("request failed: %s: %s", exc.code.value, exc.message)
            await self._send(protocol.error_frame(exc.code, exc.message, request.id))
            return
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("request failed with an unexpected error")
            message = "The server failed while serving this request; see its log"
            await self._send(protocol.error_frame(ErrorCode.INTERNAL, message, request.id))
            return
        await self._send(protocol.done_frame(request.id))

    async def _stream(self, request: CompletionRequest, request_id: protocol.RequestId) -> None:
        parts: list[str] = []
        async with aclosing(self._backend.stream(request)) as deltas:
            async for text in deltas:
                parts.append(text)
                await self._send(protocol.delta_frame(text, request_id))
        await self._send(protocol.message_frame("".join(parts), request_id))

    async def _send(self, frame: bytes) -> None:
        await self._writer.write(frame)


_BINARY_HINT = 'Binary frames are not accepted; send JSON text like {"input": "..."}'
