"""OpenAI's Responses API WebSocket mode (`/v1/responses`) over any backend: the I/O around
`server/responses_core.py`. Each response streams here as the Responses API's events."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import aclosing
from typing import Any

from websockets.server import ServerProtocol

from wsllm.backends import NO_COMPLETION, Completion
from wsllm.errors import CodedError, SlowConsumer
from wsllm.server import responses_core as core
from wsllm.server.connection import StopReason
from wsllm.server.context import ServerContext
from wsllm.server.responses_events import error_event
from wsllm.server.seed import RunStats, record_request
from wsllm.server.session import SocketSession

PATH = "/v1/responses"
log = logging.getLogger("wsllm.server")


def policy_of(ctx: ServerContext) -> core.ResponsesPolicy:
    """The Responses-mode policy the settings make (one, shared by its connections)."""
    made = ctx.policies.get(PATH)
    if isinstance(made, core.ResponsesPolicy):
        return made
    s = ctx.settings
    made = ctx.policies[PATH] = core.ResponsesPolicy(
        model=s.model, instructions=s.instructions, max_frame_bytes=s.max_frame_bytes,
        connection_limit_s=s.responses_connection_limit, memory_bytes=s.conversation_max_bytes,
        idle_timeout=s.idle_timeout,
    )  # fmt: skip
    return made


class ResponsesSession(SocketSession[core.ResponsesConnection]):
    """One connection on `/v1/responses`."""

    __slots__ = ("_identity",)

    def __init__(self, transport: asyncio.Transport, ws: ServerProtocol, ctx: ServerContext,
                 client: str, identity: str | None) -> None:  # fmt: skip
        connection = core.ResponsesConnection(policy_of(ctx), time.monotonic())
        super().__init__(transport, ws, ctx, connection, PATH, client)
        self._identity = identity

    async def _stream(self, run: core.ResponseRun) -> list[Any]:
        if run.create.generate and self._ctx.settings.rate_limit:
            wait = await self._rate_check(self._identity)
            if wait is not None:  # refused before it began: an `error` event, as OpenAI's
                why = f"Rate limit reached: try again in {wait:.1f} s"
                self._writer.send(error_event("rate_limit_exceeded", why, 429))
                self._forget(run.id)
                return self._core.on_refused(run, time.monotonic())
        stats = RunStats()
        outcome, completion = "ok", NO_COMPLETION
        try:
            text, completion = await self._answer(run, stats)
            actions = self._core.on_finished(run, text, completion, time.monotonic())
        except asyncio.CancelledError:
            outcome = (run.stop or StopReason.DISCONNECTED).value
            actions = self._core.on_failed(run, *self._core.failure_of(run), time.monotonic())
        except Exception as exc:
            outcome, actions = self._failure(run, exc)
        finally:
            self._forget(run.id)
            record_request(self._ctx, self.id, PATH, run.events.response_id, stats, outcome,
                           completion)  # fmt: skip
        return list(actions)

    def _failure(self, run: core.ResponseRun, exc: Exception) -> tuple[str, list[core.Action]]:
        now = time.monotonic()
        if isinstance(exc, CodedError):
            code = exc.code.value
            return code, self._core.on_failed(run, code, exc.message, now)
        if isinstance(exc, SlowConsumer):
            self._writer.give_up()
            return "slow_consumer", self._core.on_failed(run, "slow_consumer", str(exc), now)
        if isinstance(exc, ConnectionError):
            run.stop = run.stop or StopReason.DISCONNECTED
            return "disconnected", self._core.on_failed(run, "cancelled", "gone", now)
        log.error("response failed with an unexpected error", exc_info=exc)
        text = "The server failed while making this response; see its log"
        return "internal_error", self._core.on_failed(run, "internal_error", text, now)

    async def _answer(self, run: core.ResponseRun, stats: RunStats
                      ) -> tuple[str | None, Completion]:  # fmt: skip
        events, write = run.events, self._writer.write
        for frame in events.opening():
            await write(frame)
        if not run.create.generate:
            return None, NO_COMPLETION  # a warm-up: the state is kept, no model is asked
        for frame in events.text_opening():
            await write(frame)
        parts: list[str] = []
        reply = self._ctx.backend.stream(run.backend_request)
        async with aclosing(reply):
            async for delta in reply:
                if stats.first_delta is None:
                    stats.first_delta = time.perf_counter()
                parts.append(delta)
                await write(events.delta(delta))
        text = "".join(parts)
        stats.deltas = len(parts)
        for frame in events.text_closing(text):
            await write(frame)
        return text, reply.completion
