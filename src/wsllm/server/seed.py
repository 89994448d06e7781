"""The seed protocol (`/ws`, `/ws-stream`) on a WebSocket: the I/O around `server/connection.py`.

Each request's reply is made by a producer into a stream (`server/streams.py`): numbered frames
that outlive the connection; the connection follows its stream and writes the frames out (the
hot path: corked into one write per loop turn). A `resume` follows an existing stream instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import aclosing
from typing import Any

from websockets.server import ServerProtocol

from wsllm import protocol
from wsllm.backends import Completion
from wsllm.codes import ErrorCode
from wsllm.errors import CodedError, SlowConsumer, StreamError
from wsllm.server import auth
from wsllm.server import connection as core
from wsllm.server.context import ServerContext
from wsllm.server.session import RunIO, SocketSession
from wsllm.server.streams import LocalStream

log = logging.getLogger("wsllm.server")
request_log = logging.getLogger("wsllm.request")

_STOPPED = {
    "cancelled": (ErrorCode.CANCELLED, "Request cancelled"),
    "shutdown": (ErrorCode.SHUTTING_DOWN, "The server shut down before this request finished"),
    "disconnected": (ErrorCode.CANCELLED, "Nobody resumed the stream within its grace period"),
    "slow_consumer": (ErrorCode.SLOW_CONSUMER, "Request cancelled: the client stopped reading"),
    "lost": (
        ErrorCode.STREAM_LOST,
        "This node lost the stream: its lease ran out while Redis was out of reach",
    ),
}


class RunStats:
    """What one request did, for the metrics and the request log."""

    __slots__ = ("deltas", "first_delta", "started")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first_delta: float | None = None
        self.deltas = 0


def policy_of(ctx: ServerContext, mode: core.Mode) -> core.Policy:
    """The connection policy the settings make for `mode` (one, shared by its connections)."""
    key = (mode, ctx.hub.shared is not None)
    made = ctx.policies.get(key)
    if isinstance(made, core.Policy):
        return made
    s = ctx.settings
    made = ctx.policies[key] = core.Policy(
        mode=mode, max_frame_bytes=s.max_frame_bytes, keys=s.key_set, queue=s.busy == "queue",
        continue_by_default=s.conversation == "continue", model=s.model,
        instructions=s.instructions, idle_timeout=s.idle_timeout,
        memory_bytes=s.conversation_max_bytes, handoff=ctx.hub.shared is not None,
    )  # fmt: skip
    return made


class SeedSession(SocketSession[core.Connection]):
    """One connection on `/ws` or `/ws-stream`."""

    __slots__ = ()

    def __init__(self, transport: asyncio.Transport, ws: ServerProtocol, ctx: ServerContext,
                 mode: core.Mode, client: str, identity: str | None) -> None:  # fmt: skip
        connection = core.Connection(policy_of(ctx, mode), identity, time.monotonic())
        super().__init__(transport, ws, ctx, connection, mode.value, client)

    @property
    def _who(self) -> str:
        return self._core.identity or auth.ANONYMOUS

    def _opening(self) -> list[Any]:
        return list(self._core.opened())

    def _arm_timers(self) -> None:
        wait = self._ctx.settings.auth_timeout
        if self._core.state is core.State.AUTHENTICATING and wait:
            self._add_timer(wait, self._later, self._core.on_auth_timeout)
        super()._arm_timers()

    def _must_wait(self, action: Any) -> bool:
        if isinstance(action, core.CancelStream):
            return True
        shared = self._ctx.hub.shared
        limited = self._ctx.settings.rate_limit and shared is not None and shared.healthy
        return isinstance(action, core.Admit) and bool(limited)

    async def _do_later(self, action: Any) -> None:
        if isinstance(action, core.Admit):
            wait = await self._rate_check(self._core.identity)
            await self._do_all(self._core.on_admitted(action.request, wait))
        elif not await self._ctx.hub.cancel(action.stream, self._who):
            text = "No such stream (unknown, or it has expired)"
            frame = protocol.error_frame(ErrorCode.STREAM_NOT_FOUND, text, action.request_id)
            self._writer.send(frame)

    def _other(self, action: Any) -> None:
        if isinstance(action, core.Admit):
            who = self._rate_key(self._core.identity)
            wait = self._ctx.rate.retry_after(who, time.monotonic())
            self._act(self._core.on_admitted(action.request, wait))
        elif isinstance(action, core.Handoff):
            self._hand_off(action.run)
        else:
            super()._other(action)

    def _do(self, action: Any) -> None:
        if isinstance(action, core.Start) and action.run.resume is None:
            self._produce_for(action.run)
        stop = action.run.stop if isinstance(action, core.Stop) else None
        if stop is not None and stop is not core.StopReason.DISCONNECTED:
            io = self._run_of(action.run.id)
            if io is not None and io.stream is not None:  # the producer stops; its reader sees
                io.stream.stop(stop.value)
                return
        super()._do(action)

    def _produce_for(self, run: core.Run) -> None:
        stream = self._ctx.hub.open(self._who)
        self._run_io(run.id).stream = stream
        self._core.streaming(run, stream.id)
        self._ctx.hub.start(stream, self._produce(run, stream))

    async def _stream(self, run: core.Run) -> list[Any]:
        """Follow the run's stream (or the one it resumes) to the client."""
        io = self._run_io(run.id)
        stream = io.stream
        try:
            if stream is not None:
                await self._follow_local(io, stream)
            else:
                assert run.resume is not None
                await self._follow(io, run.resume.stream, run.resume.after)
        except StreamError as exc:
            return list(self._core.on_refused(run, exc.code, exc.message, time.monotonic()))
        except (asyncio.CancelledError, ConnectionError):
            return list(self._core.on_failed(run, time.monotonic()))
        finally:
            self._forget(run.id)
        outcome = stream.outcome if stream is not None else None
        if isinstance(outcome, tuple) and isinstance(outcome[0], str):
            return list(self._core.on_finished(run, outcome[0], outcome[1], time.monotonic()))
        return list(self._core.on_failed(run, time.monotonic()))

    async def _follow(self, io: RunIO, stream_id: str, after: int) -> None:
        io.stream_id, io.delivered = stream_id, after
        async for batch in self._ctx.hub.follow(stream_id, after, self._who):
            for frame in batch:
                try:
                    await self._writer.write(frame)
                except SlowConsumer:
                    self._writer.give_up()  # what is left goes out unwaited-for: the error last
                    if io.stream is not None:
                        io.stream.stop("slow_consumer")
                io.delivered += 1

    async def _follow_local(self, io: RunIO, stream: LocalStream) -> None:
        """Follow the stream this connection's request makes: the backlog with waits for a slow
        client, then, once caught up, each frame as it is made (no task switch a frame)."""
        hub, writer = self._ctx.hub, self._writer
        io.stream_id = stream.id

        def sink(frame: bytes) -> bool:
            if not writer.write_nowait(frame):
                return False
            io.delivered += 1
            return True

        hub.attach(stream)
        try:
            while True:
                while io.delivered < len(stream.frames):
                    await self._write_one(stream, stream.frames[io.delivered])
                    io.delivered += 1
                if stream.final:
                    return
                stream.sink = sink
                await stream.more()
        finally:
            stream.sink = None
            hub.detach(stream)

    async def _write_one(self, stream: LocalStream, frame: bytes) -> None:
        try:
            await self._writer.write(frame)
        except SlowConsumer:
            self._writer.give_up()  # what is left goes out unwaited-for: the error last
            stream.stop("slow_consumer")

    def _hand_off(self, run: core.Run) -> None:
        io = self._run_of(run.id)
        stream_id, seq = (io.stream_id, io.delivered) if io is not None else (None, 0)
        if stream_id is None and io is not None and io.stream is not None:
            stream_id = io.stream.id
        if io is not None and io.task is not None:
            io.task.cancel()  # stop following; the stream goes on, on this node
        self._writer.send(protocol.reconnect_frame(stream_id, seq, run.request.id))
        self.close(core.CLOSE_GOING_AWAY, "server shutting down: reconnect and resume")

    async def _produce(self, run: core.Run, stream: LocalStream) -> None:
        frames = protocol.RequestFrames(run.request.id, stream.id)
        stats, outcome, completion = RunStats(), "ok", Completion()
        emit = self._ctx.hub.emit
        try:
            text, completion = await self._answer(run, stream, frames, stats)
            emit(stream, frames.done(completion.usage))
            stream.outcome = (text, completion)
        except asyncio.CancelledError:
            outcome = stream.stop_reason or "cancelled"
            emit(stream, frames.error(*_STOPPED.get(outcome, _STOPPED["cancelled"])))
        except CodedError as exc:
            outcome = exc.code.value
            emit(stream, frames.error(exc.code, exc.message))
        except Exception as exc:
            outcome = ErrorCode.INTERNAL.value
            log.error("request failed with an unexpected error", exc_info=exc)
            text = "The server failed while serving this request; see its log"
            emit(stream, frames.error(ErrorCode.INTERNAL, text))
        finally:
            record_request(self._ctx, self.id, self.path, run.request.id, stats, outcome,
                           completion)  # fmt: skip

    async def _answer(self, run: core.Run, stream: LocalStream, frames: protocol.RequestFrames,
                      stats: RunStats) -> tuple[str, Completion]:  # fmt: skip
        assert run.backend_request is not None
        streaming, emit = self._core.policy.mode is core.Mode.STREAM, self._ctx.hub.emit
        reply = self._ctx.backend.stream(run.backend_request)
        parts: list[str] = []

        def take(delta: str) -> None:
            if stats.first_delta is None:
                stats.first_delta = time.perf_counter()
            parts.append(delta)
            if streaming:
                emit(stream, frames.delta(delta))

        async with aclosing(reply):
            await reply.pump(take)
        text = "".join(parts)
        stats.deltas = len(parts) if streaming else 1
        emit(stream, frames.message(text) if streaming else frames.response(text))
        return text, reply.completion


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
