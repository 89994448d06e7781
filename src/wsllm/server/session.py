"""One WebSocket connection: read client frames, serve requests, write frames.

Reading goes on while a request streams, so a cancel frame or a closed socket stops the request
(and with it the upstream call) at once. One request runs at a time; what a second one gets is the
`busy` setting's choice: an error (`busy`) or a place in a queue.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from contextlib import aclosing
from dataclasses import dataclass, field
from enum import Enum

from aiohttp import WSCloseCode, WSMsgType, web

from wsllm import protocol
from wsllm.backends import Completion, CompletionRequest, Turn
from wsllm.errors import CodedError, ProtocolError
from wsllm.protocol_codes import ErrorCode
from wsllm.server.auth import key_ok
from wsllm.server.context import ServerContext
from wsllm.server.writer import FrameWriter, SlowConsumer

log = logging.getLogger("wsllm.server")
request_log = logging.getLogger("wsllm.request")

MAX_QUEUED = 32
MAX_TURNS = 50
_CLOSING = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)
_connection_ids = itertools.count(1)


class Mode(Enum):
    """How a path answers: one `response` frame, or `delta` frames then the `message`."""

    WHOLE = "/ws"
    STREAM = "/ws-stream"


class StopReason(Enum):
    """Why a running request was stopped before it finished."""

    CANCELLED = "cancelled"
    DISCONNECTED = "disconnected"
    SHUTDOWN = "shutdown"


@dataclass(slots=True)
class Running:
    """The request being served and how it is going."""

    request: protocol.Request
    task: asyncio.Task[None] | None = None
    stop: StopReason | None = None
    started: float = field(default_factory=time.perf_counter)
    first_delta: float | None = None
    deltas: int = 0


@dataclass(slots=True)
class Conversation:
    """The connection's conversation: earlier turns, and the backend's id for the last reply."""

    turns: list[Turn] = field(default_factory=list)
    last_response_id: str | None = None


class Session:
    """The state of one connection."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport,
        ctx: ServerContext,
        mode: Mode,
        client: str,
        identity: str | None,
    ) -> None:
        settings = ctx.settings
        self.id = next(_connection_ids)
        self._ws = ws
        self._ctx = ctx
        self._settings = settings
        self._mode = mode
        self._client = client
        self._identity = identity
        self._writer = FrameWriter(
            ws, transport, settings.send_buffer_bytes, settings.slow_consumer_timeout
        )
        self._queue: deque[protocol.Request] = deque()
        self._running: Running | None = None
        self._conversation = Conversation()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def busy(self) -> bool:
        """Whether a request is running or waiting."""
        return self._running is not None or bool(self._queue)

    async def run(self) -> None:
        """Serve the connection until it closes."""
        try:
            if self._identity is None and self._settings.key_set and not await self._authenticate():
                return
            await self._send(protocol.ready_frame(self._mode.value))
            await self._read_loop()
        except ConnectionError:
            pass
        finally:
            self._stop_running(StopReason.DISCONNECTED)
            self._queue.clear()
            self._writer.flush()

    async def _authenticate(self) -> bool:
        try:
            message = await self._ws.receive(timeout=self._settings.auth_timeout or None)
        except TimeoutError:
            await self._refuse("No auth message arrived in time")
            return False
        if message.type is not WSMsgType.TEXT:
            return False
        try:
            control = protocol.parse_message(message.data, self._settings.max_frame_bytes)
        except ProtocolError:
            control = None
        if not isinstance(control, protocol.Control) or control.type != "auth" or not control.token:
            await self._refuse('The first message must be {"type": "auth", "token": KEY}')
            return False
        if not key_ok(control.token, self._settings.key_set):
            await self._refuse("The API key is not valid")
            return False
        self._identity = "key:" + control.token[-6:]
        return True

    async def _refuse(self, message: str) -> None:
        await self._send(protocol.error_frame(ErrorCode.UNAUTHORIZED, message))
        await self.close(WSCloseCode.POLICY_VIOLATION, b"unauthorized")

    async def _read_loop(self) -> None:
        while True:
            timeout = None if self.busy else (self._settings.idle_timeout or None)
            try:
                message = await self._ws.receive(timeout=timeout)
            except TimeoutError:
                await self.close(WSCloseCode.OK, b"idle timeout")
                return
            if message.type is WSMsgType.TEXT:
                await self._on_text(message.data)
            elif message.type is WSMsgType.BINARY:
                await self._reject(ErrorCode.BINARY_FRAME, _BINARY_HINT, None)
            elif message.type in _CLOSING:
                return

    async def close(self, code: int, reason: bytes) -> None:
        """Send what is queued, then close the connection with `code`."""
        self._writer.flush()
        await self._ws.close(code=code, message=reason)

    async def _on_text(self, raw: str) -> None:
        try:
            message = protocol.parse_message(raw, self._settings.max_frame_bytes)
        except ProtocolError as exc:
            await self._reject(exc.code, exc.message, None)
            return
        if isinstance(message, protocol.Control):
            await self._on_control(message)
        else:
            await self._on_request(message)

    async def _on_control(self, control: protocol.Control) -> None:
        if control.type == "ping":
            await self._send(protocol.pong_frame(control.id))
        elif control.type == "cancel":
            running = self._running
            if running is not None and control.id in (None, running.request.id):
                self._stop_running(StopReason.CANCELLED)
        elif control.type == "reset":
            self._conversation = Conversation()

    async def _on_request(self, request: protocol.Request) -> None:
        if self._ctx.draining:
            await self._reject(ErrorCode.SHUTTING_DOWN, "The server is shutting down", request.id)
            return
        wait = self._ctx.rate.retry_after(self._identity or self._client, time.monotonic())
        if wait is not None:
            await self._reject(
                ErrorCode.RATE_LIMITED, f"Too many requests; retry in {wait:.1f} s", request.id
            )
            return
        if self._running is None:
            self._start(request)
        elif self._settings.busy == "queue" and len(self._queue) < MAX_QUEUED:
            self._queue.append(request)
        else:
            await self._reject(
                ErrorCode.BUSY, "A request is already running on this connection", request.id
            )

    async def _reject(self, code: ErrorCode, message: str, request_id: protocol.RequestId) -> None:
        await self._send(protocol.error_frame(code, message, request_id))

    def _start(self, request: protocol.Request) -> None:
        running = Running(request)
        self._running = running
        self._idle.clear()
        running.task = asyncio.create_task(self._serve(running))

    def _stop_running(self, reason: StopReason) -> None:
        running = self._running
        if running is not None and running.task is not None and running.stop is None:
            running.stop = reason
            running.task.cancel()

    async def _serve(self, running: Running) -> None:
        outcome, completion = "ok", Completion()
        try:
            completion = await self._answer(running)
        except CodedError as exc:
            outcome = exc.code.value
            await self._send(protocol.error_frame(exc.code, exc.message, running.request.id))
        except asyncio.CancelledError:
            outcome = await self._stopped(running)
        except SlowConsumer as exc:
            outcome = ErrorCode.SLOW_CONSUMER.value
            self._writer.write_now(
                protocol.error_frame(
                    ErrorCode.SLOW_CONSUMER, f"Request cancelled: {exc}", running.request.id
                )
            )
        except ConnectionError:
            outcome = StopReason.DISCONNECTED.value
        except Exception:
            outcome = ErrorCode.INTERNAL.value
            log.exception("request failed with an unexpected error")
            message = "The server failed while serving this request; see its log"
            await self._send(protocol.error_frame(ErrorCode.INTERNAL, message, running.request.id))
        finally:
            self._finish(running, outcome, completion)

    async def _stopped(self, running: Running) -> str:
        if running.stop is StopReason.CANCELLED:
            await self._send(
                protocol.error_frame(ErrorCode.CANCELLED, "Request cancelled", running.request.id)
            )
        elif running.stop is StopReason.SHUTDOWN:
            message = "The server shut down before this request finished"
            await self._send(
                protocol.error_frame(ErrorCode.SHUTTING_DOWN, message, running.request.id)
            )
        return (running.stop or StopReason.DISCONNECTED).value

    async def _answer(self, running: Running) -> Completion:
        request = running.request
        backend_request = self._backend_request(request)
        if self._mode is Mode.STREAM:
            text, completion = await self._stream(backend_request, running)
        else:
            text, completion = await self._ctx.backend.complete(backend_request)
            running.first_delta = time.perf_counter()
            running.deltas = 1
            await self._send(protocol.response_frame(text, request.id))
        self._remember(request, backend_request, text, completion)
        await self._send(protocol.done_frame(request.id, completion.usage))
        return completion

    async def _stream(self, request: CompletionRequest, running: Running) -> tuple[str, Completion]:
        parts: list[str] = []
        completion = Completion()
        request_id = running.request.id
        async with aclosing(self._ctx.backend.stream(request)) as deltas:
            async for item in deltas:
                if isinstance(item, Completion):
                    completion = item
                    continue
                if running.first_delta is None:
                    running.first_delta = time.perf_counter()
                parts.append(item)
                await self._send(protocol.delta_frame(item, request_id))
        running.deltas = len(parts)
        text = "".join(parts)
        await self._send(protocol.message_frame(text, request_id))
        return text, completion

    def _continues(self, request: protocol.Request) -> bool:
        if request.continue_conversation is not None:
            return request.continue_conversation
        return self._settings.conversation == "continue"

    def _backend_request(self, request: protocol.Request) -> CompletionRequest:
        carry_on = self._continues(request)
        conversation = self._conversation
        return CompletionRequest(
            input=request.input,
            model=self._settings.model,
            instructions=self._settings.instructions,
            history=tuple(conversation.turns) if carry_on else (),
            previous_response_id=conversation.last_response_id if carry_on else None,
        )

    def _remember(self, request: protocol.Request, sent: CompletionRequest, text: str,
                  completion: Completion) -> None:  # fmt: skip
        turns = [*sent.history, Turn(request.input, text)][-MAX_TURNS:]
        self._conversation = Conversation(turns, completion.response_id)

    def _finish(self, running: Running, outcome: str, completion: Completion) -> None:
        now = time.perf_counter()
        ttft = None if running.first_delta is None else running.first_delta - running.started
        self._ctx.metrics.request_done(self._mode.value, outcome, ttft, now - running.started,
                                       running.deltas, completion.usage)  # fmt: skip
        _log_request(self, running, outcome, ttft, now - running.started, completion)
        self._running = None
        if self._queue and running.stop is not StopReason.DISCONNECTED:
            self._start(self._queue.popleft())
        else:
            self._idle.set()

    async def drain(self, timeout: float) -> None:
        """Refuse new requests, let the running one finish up to `timeout`, then close with 1001."""
        self._queue.clear()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            self._stop_running(StopReason.SHUTDOWN)
            await self._idle.wait()
        await self.close(WSCloseCode.GOING_AWAY, b"server shutting down")

    async def _send(self, frame: bytes) -> None:
        await self._writer.write(frame)

    @property
    def path(self) -> str:
        """The endpoint this connection is on."""
        return self._mode.value


def _log_request(session: Session, running: Running, outcome: str, ttft: float | None,
                 duration: float, completion: Completion) -> None:  # fmt: skip
    if not request_log.isEnabledFor(logging.INFO):
        return
    usage = completion.usage or {}
    fields = {
        "connection": session.id,
        "request_id": running.request.id,
        "path": session.path,
        "backend": session._ctx.backend.name,
        "model": session._settings.model,
        "outcome": outcome,
        "ttft_ms": None if ttft is None else round(ttft * 1000, 2),
        "duration_ms": round(duration * 1000, 2),
        "deltas": running.deltas,
        "input_tokens": usage.get("input_tokens"),
        "output_tokens": usage.get("output_tokens"),
    }
    request_log.info("request %s", outcome, extra={"fields": fields})


_BINARY_HINT = 'Binary frames are not accepted; send JSON text like {"input": "..."}'
