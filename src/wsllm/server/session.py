"""One WebSocket connection's I/O, whatever its protocol, on websockets' sans-I/O protocol.

Bytes from the socket go to the protocol; each whole message goes to the connection's core (no
I/O), whose actions are carried out at once. Nothing waits on an idle connection: no task, no
timer of its own (pings come from the process's heartbeat), so a connection costs little more than
its protocol state. Actions that must wait (asking Redis) run in a task, and the messages that
come meanwhile wait their turn, in order. Each request's reply streams in a task of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from websockets.frames import Frame, Opcode
from websockets.server import ServerProtocol

from wsllm.server import auth
from wsllm.server.connection import Close, Send, Start, State, Stop
from wsllm.server.context import ServerContext
from wsllm.server.streams import LocalStream
from wsllm.server.writer import FrameWriter
from wsllm.timers import Due

CLOSE_TIMEOUT = 2.0
_BINARY = b"\x00binary"  # marks a fragmented message as binary
_session_ids = itertools.count(1)


class Core(Protocol):
    """What a protocol core answers to (see `server/connection.py`)."""

    state: State

    @property
    def busy(self) -> bool: ...
    def on_text(self, raw: str, now: float) -> list[Any]: ...
    def on_binary(self, now: float) -> list[Any]: ...
    def on_tick(self, now: float) -> list[Any]: ...
    def next_deadline(self) -> float | None: ...
    def on_drain(self) -> list[Any]: ...
    def on_drain_timeout(self) -> list[Any]: ...
    def on_disconnect(self) -> list[Any]: ...


C = TypeVar("C", bound=Core)


class RunIO:
    """What a connection holds for one running request: the task that serves it and, on the
    seed protocol, the stream it follows and how many of its frames went out."""

    __slots__ = ("delivered", "stream", "stream_id", "task")

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.stream: LocalStream | None = None
        self.stream_id: str | None = None
        self.delivered = 0


class SocketSession(Generic[C]):
    """A connection: feeds the core, carries out its actions, runs each reply in a task."""

    __slots__ = ("_backlog", "_client", "_closing", "_core", "_ctx", "_ended", "_lost", "_parts",
                 "_pinged", "_runs", "_serial", "_tick_timer", "_timers", "_transport", "_writer",
                 "_ws", "id", "path")  # fmt: skip

    def __init__(self, transport: asyncio.Transport, ws: ServerProtocol, ctx: ServerContext,
                 core: C, path: str, client: str) -> None:  # fmt: skip
        self.id = next(_session_ids)
        self.path = path
        self._client = client
        self._transport = transport
        self._ws = ws
        self._ctx = ctx
        self._core = core
        s = ctx.settings
        self._writer = FrameWriter(transport, s.send_buffer_bytes, s.slow_consumer_timeout,
                                   ctx.cork)  # fmt: skip
        self._runs: dict[int, RunIO] | None = None  # made with the first request
        self._timers: list[Due] | None = None
        self._tick_timer: Due | None = None
        self._ended: asyncio.Future[None] | None = None  # made when a drain waits for it
        self._lost = False
        self._parts: list[bytes] | None = None  # a fragmented message's parts so far
        self._serial: asyncio.Task[None] | None = None
        self._backlog: list[tuple[str | None, float]] | None = None
        self._pinged = False
        self._closing = False

    def _rate_key(self, identity: str | None) -> str:
        """Whom a request counts against: the API key's holder, or the client's address while
        auth is off (so one client cannot use up everyone's allowance)."""
        return identity if identity is not None and identity != auth.ANONYMOUS else self._client

    async def _rate_check(self, identity: str | None) -> float | None:
        """Seconds to wait before this request, or None: counted across every node when Redis
        is there to ask, on this node otherwise."""
        who = self._rate_key(identity)
        per_minute, shared = self._ctx.settings.rate_limit, self._ctx.hub.shared
        if per_minute and shared is not None and shared.healthy:
            answered, wait = await shared.retry_after(who, per_minute)
            if answered:
                return wait
        return self._ctx.rate.retry_after(who, time.monotonic())

    def _run_io(self, run_id: int) -> RunIO:
        """The request's I/O record, made if it has none yet."""
        io = self._run_of(run_id)
        if io is None:
            io = RunIO()
            self._track(run_id, io)
        return io

    def _track(self, run_id: int, io: RunIO) -> None:
        """Hold `io` as the request's I/O record."""
        if self._runs is None:
            self._runs = {}
        self._runs[run_id] = io

    def _run_of(self, run_id: int) -> RunIO | None:
        return None if self._runs is None else self._runs.get(run_id)

    def _forget(self, run_id: int) -> None:
        if self._runs is not None:
            self._runs.pop(run_id, None)
            if not self._runs:
                self._runs = None

    def _add_timer(self, delay: float, callback: Callable[..., object], *args: Any) -> None:
        timer = self._ctx.deadlines.call_later(delay, callback, *args)
        if self._timers is None:
            self._timers = []
        else:  # forget those done with
            self._timers = [t for t in self._timers if t.pending]
        self._timers.append(timer)

    @property
    def busy(self) -> bool:
        """Whether a request is running or waiting."""
        return self._core.busy

    def start(self) -> None:
        """The handshake is done: greet the client, arm the timers, join the heartbeat."""
        self._act(self._opening())
        self._arm_timers()
        self._ctx.heartbeat.wake()

    def _opening(self) -> list[Any]:
        """What the core says when the connection opens."""
        return []

    def _arm_timers(self) -> None:
        self._schedule_tick()

    # Bytes in.

    def data_received(self, data: bytes) -> None:
        """Bytes from the client: every whole message goes to the core."""
        self._ws.receive_data(data)
        for event in self._ws.events_received():
            if isinstance(event, Frame):
                self._frame(event)
        self._send_protocol_output()

    def _frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.PONG:
            self._pinged = False
        elif opcode is Opcode.TEXT or opcode is Opcode.BINARY or opcode is Opcode.CONT:
            if opcode is not Opcode.CONT:
                self._parts = None if opcode is Opcode.TEXT else [_BINARY]
            if not frame.fin:
                if self._parts is None:
                    self._parts = []
                self._parts.append(bytes(frame.data))
                return
            self._message(self._parts or (), bytes(frame.data))

    def _message(self, parts: Sequence[bytes], last: bytes) -> None:
        if self._closing:
            return
        binary = bool(parts) and parts[0] is _BINARY
        data = b"".join([*parts[binary:], last]) if len(parts) > binary else last
        self._parts = None
        text: str | None = None
        if not binary:
            try:
                text = data.decode()
            except UnicodeDecodeError:
                self.close(1007, "invalid UTF-8 in a text frame")
                return
        self._pinged = False  # a client that sends has not vanished
        if self._serial is not None:
            if self._backlog is None:
                self._backlog = []
            self._backlog.append((text, time.monotonic()))
            return
        self._act(self._hear(text, time.monotonic()))

    def _hear(self, text: str | None, now: float) -> list[Any]:
        return self._core.on_text(text, now) if text is not None else self._core.on_binary(now)

    # Actions out.

    def _act(self, actions: list[Any]) -> None:
        for index, action in enumerate(actions):
            if self._must_wait(action):
                self._serial = asyncio.get_running_loop().create_task(
                    self._act_in_turn(actions[index:])
                )
                return
            self._do(action)

    async def _act_in_turn(self, actions: list[Any]) -> None:
        try:
            await self._do_all(actions)
            while self._backlog and not self._closing:
                await self._do_all(self._hear(*self._backlog.pop(0)))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._serial = None

    async def _do_all(self, actions: list[Any]) -> None:
        for action in actions:
            if self._must_wait(action):
                await self._do_later(action)
            else:
                self._do(action)

    def _must_wait(self, action: Any) -> bool:
        """Whether an action needs I/O of its own (a protocol's own actions may)."""
        return False

    async def _do_later(self, action: Any) -> None:
        """Carry out an action that waits."""
        raise TypeError(f"unknown action {action!r}")

    def _do(self, action: Any) -> None:
        if isinstance(action, Send):
            self._writer.send(action.frame)
        elif isinstance(action, Start):
            task = asyncio.get_running_loop().create_task(self._serve(action.run))
            self._run_io(action.run.id).task = task
        elif isinstance(action, Stop):
            running = self._run_of(action.run.id)
            if running is not None and running.task is not None:
                running.task.cancel()
        elif isinstance(action, Close):
            self.close(action.code, action.reason)
        else:
            self._other(action)

    def _other(self, action: Any) -> None:
        """A protocol's own action that needs no waiting."""
        raise TypeError(f"unknown action {action!r}")

    async def _serve(self, run: Any) -> None:
        """Stream one run's reply, report its end to the core, and carry out what it says."""
        self._run_ended(await self._stream(run))

    def _run_ended(self, actions: list[Any]) -> None:
        """A run is over: carry out what the core says next."""
        if not self._closing:
            self._act(actions)
            self._schedule_tick()

    async def _stream(self, run: Any) -> list[Any]:
        """Stream one run's reply; the core's actions at its end."""
        raise NotImplementedError

    # Time.

    def _schedule_tick(self) -> None:
        # One timer, for the next moment the core may act on its own (idle timeout, connection
        # limit); activity in between only moves that moment later, checked when it comes.
        deadline = None if self._closing else self._core.next_deadline()
        timer, deadlines = self._tick_timer, self._ctx.deadlines
        if timer is not None and timer.pending:
            if deadline is not None and timer.when <= deadline:
                return  # it will look again when it fires
            deadlines.cancel(timer)
        self._tick_timer = None
        if deadline is not None:
            when = max(deadline, time.monotonic() + 0.01)
            self._tick_timer = deadlines.call_at(when, self._tick)

    def _tick(self) -> None:
        self._tick_timer = None
        actions = self._core.on_tick(time.monotonic())
        if actions:
            self._act(actions)
        elif self._core.state is not State.CLOSED:
            self._schedule_tick()

    def _later(self, decide: Callable[[], list[Any]]) -> None:
        """A timer's decision, carried out."""
        self._act(decide())

    def heartbeat(self) -> None:
        """Ping the client; one that did not answer the last ping is cut off."""
        if self._pinged:
            self._transport.abort()
            return
        self._pinged = True
        self._ws.send_ping(b"")
        self._send_protocol_output()

    # Closing.

    def _send_protocol_output(self) -> None:
        """Write what the protocol has to say (pongs, close frames) after the queued frames."""
        output = self._ws.data_to_send()
        if not output:
            return
        self._writer.flush()
        for chunk in output:
            if chunk:
                self._transport.write(chunk)
            else:  # the closing handshake is over: the server closes the TCP connection
                self._transport.close()

    def close(self, code: int, reason: str) -> None:
        """Send what is queued, then a close frame; a client that never answers is cut off."""
        if self._closing:
            return
        self._closing = True
        self._writer.flush()
        self._writer.closed = True
        with contextlib.suppress(Exception):  # already closing: nothing more to say
            self._ws.send_close(code, reason)
        self._send_protocol_output()
        self._add_timer(CLOSE_TIMEOUT, self._transport.abort)

    def connection_lost(self) -> None:
        """The connection is gone: stop what runs, forget the timers."""
        self._closing = True
        self._writer.closed = True
        for timer in [*(self._timers or ()), self._tick_timer]:
            self._ctx.deadlines.cancel(timer)
        self._timers = self._tick_timer = None
        if self._serial is not None:
            self._serial.cancel()
        self._backlog = None
        self._lost = True
        self._act(self._core.on_disconnect())
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(None)

    async def drain(self, timeout: float) -> None:
        """Take no new requests, let the running ones finish up to `timeout`, then close."""
        ended = self._ended = asyncio.get_running_loop().create_future()
        if self._lost:
            ended.set_result(None)
        self._act(self._core.on_drain())
        try:
            await asyncio.wait_for(asyncio.shield(ended), timeout)
        except TimeoutError:
            self._act(self._core.on_drain_timeout())
            try:
                await asyncio.wait_for(asyncio.shield(ended), CLOSE_TIMEOUT * 2)
            except TimeoutError:
                self._transport.abort()
