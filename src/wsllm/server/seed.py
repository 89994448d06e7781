"""The seed protocol on an aiohttp WebSocket: the I/O around `server/connection.py`.

It reads frames and feeds them to the connection core, carries out the actions it returns, and
streams each request's reply (the hot path: a frame per delta, corked into one write per loop
turn). Reading goes on while a request streams, so a cancel frame or a closed socket stops the
request, and with it the upstream call, at once.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from contextlib import aclosing, suppress

from aiohttp import WSMsgType, web

from wsllm import protocol
from wsllm.backends import Completion
from wsllm.codes import ErrorCode
from wsllm.errors import CodedError, SlowConsumer
from wsllm.server import connection as core
from wsllm.server.context import ServerContext
from wsllm.server.writer import FrameWriter

log = logging.getLogger("wsllm.server")
request_log = logging.getLogger("wsllm.request")

CLOSE_TIMEOUT = 2.0
_CLOSING = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)
_session_ids = itertools.count(1)


class RunStats:
    """What one request did, for the metrics and the request log."""

    __slots__ = ("deltas", "first_delta", "started")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first_delta: float | None = None
        self.deltas = 0


def policy_of(ctx: ServerContext, mode: core.Mode) -> core.Policy:
    """The connection policy the settings make for `mode`."""
    s = ctx.settings
    return core.Policy(
        mode=mode, max_frame_bytes=s.max_frame_bytes, keys=s.key_set, queue=s.busy == "queue",
        continue_by_default=s.conversation == "continue", model=s.model,
        instructions=s.instructions, idle_timeout=s.idle_timeout,
        memory_bytes=s.conversation_max_bytes,
    )  # fmt: skip


class SeedSession:
    """One connection on `/ws` or `/ws-stream`."""

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport,
                 ctx: ServerContext, mode: core.Mode, client: str,
                 identity: str | None) -> None:  # fmt: skip
        self.id = next(_session_ids)
        self._ws = ws
        self._transport = transport
        self._ctx = ctx
        self._client = client
        self._core = core.Connection(policy_of(ctx, mode), identity, time.monotonic())
        s = ctx.settings
        self._writer = FrameWriter(ws, transport, s.send_buffer_bytes, s.slow_consumer_timeout)
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._timers: list[asyncio.TimerHandle] = []
        self._ended = asyncio.Event()

    @property
    def busy(self) -> bool:
        """Whether a request is running or waiting."""
        return self._core.busy

    @property
    def path(self) -> str:
        """The endpoint this connection is on."""
        return self._core.policy.mode.value

    async def run(self) -> None:
        """Serve the connection until it closes."""
        try:
            await self._do(self._core.opened())
            self._arm_timers()
            await self._read_loop()
        except (ConnectionError, SlowConsumer):
            pass
        finally:
            for timer in self._timers:
                timer.cancel()
            await self._do_quietly(self._core.on_disconnect())
            self._writer.flush()
            self._ended.set()

    def _arm_timers(self) -> None:
        loop = asyncio.get_running_loop()
        wait = self._ctx.settings.auth_timeout
        if self._core.state is core.State.AUTHENTICATING and wait:
            self._timers.append(loop.call_later(wait, self._later, self._core.on_auth_timeout))
        self._schedule_idle_check()

    def _schedule_idle_check(self) -> None:
        # One timer per idle period, set for the moment the connection would have been idle for
        # the whole timeout; activity in between only moves that moment, checked when it comes.
        timeout = self._core.policy.idle_timeout
        if timeout:
            deadline = self._core.idle_deadline()
            delay = timeout if deadline is None else deadline - time.monotonic()
            loop = asyncio.get_running_loop()
            self._timers.append(loop.call_later(max(delay, 0.01), self._idle_check))

    def _idle_check(self) -> None:
        self._timers = [t for t in self._timers if not t.cancelled()]
        actions = self._core.on_tick(time.monotonic())
        if actions:
            self._later(lambda: actions)
        elif self._core.state is not core.State.CLOSED:
            self._schedule_idle_check()

    def _later(self, decide: Callable[[], list[core.Action]]) -> None:
        """Run a timer's decision in a task of its own (timers cannot await)."""
        asyncio.get_running_loop().create_task(self._do_quietly(decide()))

    async def _read_loop(self) -> None:
        while True:
            message = await self._ws.receive()
            if message.type is WSMsgType.TEXT:
                await self._do(self._core.on_text(message.data, time.monotonic()))
            elif message.type is WSMsgType.BINARY:
                await self._do(self._core.on_binary(time.monotonic()))
            elif message.type in _CLOSING:
                return
            if self._core.state is core.State.CLOSED:
                return

    async def _do_quietly(self, actions: list[core.Action]) -> None:
        with suppress(ConnectionError, SlowConsumer):
            await self._do(actions)

    async def _do(self, actions: list[core.Action]) -> None:
        for action in actions:
            if isinstance(action, core.Send):
                await self._writer.write(action.frame)
            elif isinstance(action, core.Admit):
                who = self._core.identity or self._client
                wait = self._ctx.rate.retry_after(who, time.monotonic())
                await self._do(self._core.on_admitted(action.request, wait))
            elif isinstance(action, core.Start):
                task = asyncio.create_task(self._serve(action.run))
                self._tasks[action.run.id] = task
            elif isinstance(action, core.Stop):
                running = self._tasks.get(action.run.id)
                if running is not None:
                    running.cancel()
            else:
                await self.close(action.code, action.reason)

    async def close(self, code: int, reason: str) -> None:
        """Send what is queued, then close; a client that does not read is cut off."""
        self._writer.flush()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self._ws.close(code=code, message=reason.encode())
        except TimeoutError:
            self._transport.abort()

    async def _serve(self, run: core.Run) -> None:
        stats = RunStats()
        outcome, completion = "ok", Completion()
        try:
            text, completion = await self._answer(run, stats)
            actions = self._core.on_finished(run, text, completion, time.monotonic())
        except asyncio.CancelledError:
            outcome = (run.stop or core.StopReason.DISCONNECTED).value
            actions = self._core.on_failed(run, *self._core.failure_of(run), time.monotonic())
        except Exception as exc:
            outcome, actions = self._failure(run, exc)
        finally:
            self._tasks.pop(run.id, None)
            self._record(run, stats, outcome, completion)
        await self._do_quietly(actions)

    def _failure(self, run: core.Run, exc: Exception) -> tuple[str, list[core.Action]]:
        now = time.monotonic()
        if isinstance(exc, CodedError):
            return exc.code.value, self._core.on_failed(run, exc.code, exc.message, now)
        if isinstance(exc, SlowConsumer):
            self._writer.give_up()
            code = ErrorCode.SLOW_CONSUMER
            return code.value, self._core.on_failed(run, code, f"Request cancelled: {exc}", now)
        if isinstance(exc, ConnectionError):
            run.stop = run.stop or core.StopReason.DISCONNECTED
            return "disconnected", self._core.on_failed(run, ErrorCode.CANCELLED, "gone", now)
        log.error("request failed with an unexpected error", exc_info=exc)
        text = "The server failed while serving this request; see its log"
        return ErrorCode.INTERNAL.value, self._core.on_failed(run, ErrorCode.INTERNAL, text, now)

    async def _answer(self, run: core.Run, stats: RunStats) -> tuple[str, Completion]:
        request_id = run.request.id
        streaming = self._core.policy.mode is core.Mode.STREAM
        reply = self._ctx.backend.stream(run.backend_request)
        parts: list[str] = []
        async with aclosing(reply):
            async for delta in reply:
                if stats.first_delta is None:
                    stats.first_delta = time.perf_counter()
                parts.append(delta)
                if streaming:
                    await self._writer.write(protocol.delta_frame(delta, request_id))
        text = "".join(parts)
        if streaming:
            stats.deltas = len(parts)
            await self._writer.write(protocol.message_frame(text, request_id))
        else:
            stats.deltas = 1
            await self._writer.write(protocol.response_frame(text, request_id))
        return text, reply.completion

    def _record(self, run: core.Run, stats: RunStats, outcome: str, completion: Completion
                ) -> None:  # fmt: skip
        now = time.perf_counter()
        ttft = None if stats.first_delta is None else stats.first_delta - stats.started
        duration = now - stats.started
        self._ctx.metrics.request_done(self.path, outcome, ttft, duration, stats.deltas,
                                       completion.usage)  # fmt: skip
        if request_log.isEnabledFor(logging.INFO):
            usage = completion.usage or {}
            fields = {
                "connection": self.id, "request_id": run.request.id, "path": self.path,
                "backend": self._ctx.backend.name, "model": self._ctx.settings.model,
                "outcome": outcome, "ttft_ms": None if ttft is None else round(ttft * 1000, 2),
                "duration_ms": round(duration * 1000, 2), "deltas": stats.deltas,
                "input_tokens": usage.get("input_tokens"),
                "output_tokens": usage.get("output_tokens"),
            }  # fmt: skip
            request_log.info("request %s", outcome, extra={"fields": fields})

    async def drain(self, timeout: float) -> None:
        """Take no new requests, let the running one finish up to `timeout`, then close."""
        await self._do_quietly(self._core.on_drain())
        try:
            await asyncio.wait_for(self._ended.wait(), timeout)
        except TimeoutError:
            await self._do_quietly(self._core.on_drain_timeout())
            try:
                await asyncio.wait_for(self._ended.wait(), CLOSE_TIMEOUT * 2)
            except TimeoutError:
                self._transport.abort()
