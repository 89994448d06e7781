"""The seed protocol (`/ws`, `/ws-stream`) on a WebSocket: the I/O around `server/connection.py`.

A run's reply streams here (the hot path: a frame per delta, corked into one write per loop
turn); everything else the connection core decides.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import aclosing
from typing import Any

from aiohttp import web

from wsllm import protocol
from wsllm.backends import Completion
from wsllm.codes import ErrorCode
from wsllm.errors import CodedError, SlowConsumer
from wsllm.server import connection as core
from wsllm.server.context import ServerContext
from wsllm.server.session import SocketSession

log = logging.getLogger("wsllm.server")
request_log = logging.getLogger("wsllm.request")


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


class SeedSession(SocketSession[core.Connection]):
    """One connection on `/ws` or `/ws-stream`."""

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport,
                 ctx: ServerContext, mode: core.Mode, client: str,
                 identity: str | None) -> None:  # fmt: skip
        connection = core.Connection(policy_of(ctx, mode), identity, time.monotonic())
        super().__init__(ws, transport, ctx, connection, mode.value)
        self._client = client

    def _opening(self) -> list[Any]:
        return list(self._core.opened())

    def _arm_timers(self) -> None:
        wait = self._ctx.settings.auth_timeout
        if self._core.state is core.State.AUTHENTICATING and wait:
            loop = asyncio.get_running_loop()
            self._timers.append(loop.call_later(wait, self._later, self._core.on_auth_timeout))
        super()._arm_timers()

    async def _other(self, action: Any) -> None:
        assert isinstance(action, core.Admit)
        who = self._core.identity or self._client
        wait = self._ctx.rate.retry_after(who, time.monotonic())
        await self._do(self._core.on_admitted(action.request, wait))

    async def _stream(self, run: core.Run) -> list[Any]:
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
        return list(actions)

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
        record_request(self._ctx, self.id, self.path, run.request.id, stats, outcome, completion)


def record_request(ctx: ServerContext, connection: int, path: str, request_id: object,
                   stats: RunStats, outcome: str, completion: Completion) -> None:  # fmt: skip
    """Count a finished request in the metrics, and log its story."""
    duration = time.perf_counter() - stats.started
    ttft = None if stats.first_delta is None else stats.first_delta - stats.started
    ctx.metrics.request_done(path, outcome, ttft, duration, stats.deltas, completion.usage)
    if not request_log.isEnabledFor(logging.INFO):
        return
    usage = completion.usage or {}
    fields = {
        "connection": connection, "request_id": request_id, "path": path,
        "backend": ctx.backend.name, "model": ctx.settings.model, "outcome": outcome,
        "ttft_ms": None if ttft is None else round(ttft * 1000, 2),
        "duration_ms": round(duration * 1000, 2), "deltas": stats.deltas,
        "input_tokens": usage.get("input_tokens"), "output_tokens": usage.get("output_tokens"),
    }  # fmt: skip
    request_log.info("request %s", outcome, extra={"fields": fields})
