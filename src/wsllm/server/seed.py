"""The seed protocol (`/ws`, `/ws-stream`) on a WebSocket: the I/O around `server/connection.py`.

Each request's reply is made by a producer into a stream (`server/streams.py`): numbered frames
that outlive the connection; the connection follows its stream and writes the frames out (the
hot path: corked into one write per loop turn). A `resume` follows an existing stream instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from websockets.server import ServerProtocol

from wsllm import protocol
from wsllm.backends import NO_COMPLETION, Completion
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


class _Answer(RunStats):
    """One seed request's reply as the model makes it: each delta goes into the stream as a
    frame (on `/ws-stream`) and is kept for the full text."""

    __slots__ = ("emit", "frames", "parts", "streaming")

    def __init__(self, emit: Callable[[bytes], None], frames: protocol.RequestFrames,
                 streaming: bool) -> None:  # fmt: skip
        super().__init__()
        self.emit, self.frames = emit, frames
        self.streaming = streaming
        self.parts: list[str] = []

    def take(self, delta: str) -> None:
        """The model's next delta."""
        if self.first_delta is None:
            self.first_delta = time.perf_counter()
        self.parts.append(delta)
        if self.streaming:
            self.emit(self.frames.delta(delta))


class _LiveRun(RunIO):
    """A seed request's I/O record that also hands the frames of its stream to the client as the
    model makes them, with no task while the client keeps up (see `SeedSession._fell_behind`)."""

    __slots__ = ("_run", "_session", "_writer")

    def __init__(self, session: SeedSession, run: core.Run, stream: LocalStream) -> None:
        super().__init__()
        self._session, self._run, self._writer = session, run, session._writer
        self.stream, self.stream_id = stream, stream.id

    def take(self, frame: bytes) -> bool:
        """Send a frame on, if the client has room for it."""
        if not self._writer.write_nowait(frame):
            return False
        self.delivered += 1
        return True

    def behind(self) -> None:
        """The stream ended, or the client fell behind."""
        try:
            self._session._fell_behind(self._run, self)
        except Exception:  # the connection's failure must not become the producer's
            log.exception("following a stream failed")
            self._session.close(core.CLOSE_INTERNAL_ERROR, "internal error")


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
            return
        if isinstance(action, core.Stop):
            stop, io = action.run.stop, self._run_of(action.run.id)
            if stop not in (None, core.StopReason.DISCONNECTED) and io is not None \
                    and io.stream is not None:  # fmt: skip
                io.stream.stop(stop.value)
                return  # the producer stops; its reader tells the client
            if isinstance(io, _LiveRun) and io.task is None:
                self._run_ended(self._unfollow(action.run, io))
                return
        super()._do(action)

    def _produce_for(self, run: core.Run) -> None:
        """Start the run's producer, and follow its stream from here with no task (a task takes
        over if the client falls behind)."""
        hub = self._ctx.hub
        stream = hub.open(self._who)
        io = _LiveRun(self, run, stream)
        self._track(run.id, io)
        self._core.streaming(run, stream.id)
        hub.start(stream, self._produce(run, stream))
        hub.attach(stream)
        stream.reader = io

    def _fell_behind(self, run: core.Run, io: _LiveRun) -> None:
        """The run's stream has frames its follower was not handed. At its end, with room for
        them, they go out now and the connection moves on; otherwise a task writes them, waiting
        for the client, and follows the stream from there."""
        stream = io.stream
        if io.task is not None or stream is None:
            return  # the task following it is woken by the stream
        frames, write = stream.frames, self._writer.write_nowait
        if stream.final:
            while io.delivered < len(frames) and write(frames[io.delivered]):
                io.delivered += 1
            if io.delivered == len(frames):
                self._release(run, io)
                self._run_ended(self._outcome(run, stream))
                return
        io.task = asyncio.get_running_loop().create_task(self._serve(run))

    def _release(self, run: core.Run, io: _LiveRun) -> None:
        """Follow the run's stream no more from here (it goes on, for its grace period if
        nobody else follows it), and forget the run."""
        stream = io.stream
        if stream is not None:
            if stream.reader is io:
                stream.reader = None
            self._ctx.hub.detach(stream)
        self._forget(run.id)

    def _unfollow(self, run: core.Run, io: _LiveRun) -> list[Any]:
        """Stop following the run's stream before its end; what the core says then."""
        self._release(run, io)
        return list(self._core.on_failed(run, time.monotonic()))

    def _outcome(self, run: core.Run, stream: LocalStream | None) -> list[Any]:
        """What the core says once the client has the run's whole stream."""
        outcome = stream.outcome if stream is not None else None
        if isinstance(outcome, tuple) and isinstance(outcome[0], str):
            return list(self._core.on_finished(run, outcome[0], outcome[1], time.monotonic()))
        return list(self._core.on_failed(run, time.monotonic()))

    async def _stream(self, run: core.Run) -> list[Any]:
        """Follow the run's stream (or the one it resumes) to the client, in a task."""
        io = self._run_io(run.id)
        stream = io.stream
        try:
            if isinstance(io, _LiveRun) and stream is not None:
                await self._catch_up(io, stream)
            else:
                assert run.resume is not None
                await self._follow(io, run.resume.stream, run.resume.after)
        except StreamError as exc:
            return list(self._core.on_refused(run, exc.code, exc.message, time.monotonic()))
        except (asyncio.CancelledError, ConnectionError):
            return list(self._core.on_failed(run, time.monotonic()))
        finally:
            if isinstance(io, _LiveRun):
                self._release(run, io)
            else:
                self._forget(run.id)
        return self._outcome(run, stream)

    async def _follow(self, io: RunIO, stream_id: str, after: int) -> None:
        io.stream_id, io.delivered = stream_id, after
        async for batch in self._ctx.hub.follow(stream_id, after, self._who):
            for frame in batch:
                try:
                    await self._writer.write(frame)
                except SlowConsumer:
                    self._writer.give_up()  # what is left goes out unwaited-for: the error last
                io.delivered += 1

    async def _catch_up(self, io: _LiveRun, stream: LocalStream) -> None:
        """Write the stream's backlog, waiting for a slow client, then, once caught up, hand
        it back to its follower (each frame as it is made) until there is a backlog again."""
        while True:
            while io.delivered < len(stream.frames):
                await self._write_one(stream, stream.frames[io.delivered])
                io.delivered += 1
            if stream.final:
                return
            stream.reader = io
            await stream.more()

    async def _write_one(self, stream: LocalStream, frame: bytes) -> None:
        try:
            await self._writer.write(frame)
        except SlowConsumer:
            self._writer.give_up()  # what is left goes out unwaited-for: the error last
            stream.stop("slow_consumer")

    def _hand_off(self, run: core.Run) -> None:
        io = self._run_of(run.id)
        stream_id, seq = (io.stream_id, io.delivered) if io is not None else (None, 0)
        if io is not None and io.task is not None:
            io.task.cancel()  # stop following; the stream goes on, on this node
        elif isinstance(io, _LiveRun):
            self._unfollow(run, io)  # the core has closed: it says nothing more
        self._writer.send(protocol.reconnect_frame(stream_id, seq, run.request.id))
        self.close(core.CLOSE_GOING_AWAY, "server shutting down: reconnect and resume")

    async def _produce(self, run: core.Run, stream: LocalStream) -> None:
        frames = protocol.RequestFrames(run.request.id, stream.id)
        emit = self._ctx.hub.emitter(stream)
        answer = _Answer(emit, frames, self._core.policy.mode is core.Mode.STREAM)
        outcome, completion = "ok", NO_COMPLETION
        try:
            text, completion = await self._answer(run, answer)
            stream.outcome = (text, completion)  # before its end: the reader moves on with it
            emit(frames.done(completion.usage))
        except asyncio.CancelledError:
            outcome = stream.stop_reason or "cancelled"
            emit(frames.error(*_STOPPED.get(outcome, _STOPPED["cancelled"])))
        except CodedError as exc:
            outcome = exc.code.value
            emit(frames.error(exc.code, exc.message))
        except Exception as exc:
            outcome = ErrorCode.INTERNAL.value
            log.error("request failed with an unexpected error", exc_info=exc)
            text = "The server failed while serving this request; see its log"
            emit(frames.error(ErrorCode.INTERNAL, text))
        finally:
            record_request(self._ctx, self.id, self.path, run.request.id, answer, outcome,
                           completion)  # fmt: skip

    async def _answer(self, run: core.Run, answer: _Answer) -> tuple[str, Completion]:
        assert run.backend_request is not None
        reply = self._ctx.backend.stream(run.backend_request)
        try:
            await reply.pump(answer.take)
        finally:
            await reply.aclose()
        text = "".join(answer.parts)
        answer.deltas = len(answer.parts) if answer.streaming else 1
        frames = answer.frames
        last = frames.message(text) if answer.streaming else frames.response(text)
        answer.emit(last)
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
