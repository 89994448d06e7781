"""One WebSocket connection's I/O, whatever its protocol: the read loop, timers, closing and
draining. A protocol core (no I/O) decides; a subclass says how a run streams its reply.

Reading goes on while a run streams, so a cancel or a closed socket stops the run, and with it
the upstream call, at once.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import WSMsgType, web

from wsllm.errors import SlowConsumer
from wsllm.server.connection import Close, Send, Start, State, Stop
from wsllm.server.context import ServerContext
from wsllm.server.writer import FrameWriter

CLOSE_TIMEOUT = 2.0
_CLOSING = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)
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


class SocketSession(Generic[C]):
    """A connection: feeds the core, carries out its actions, runs each reply in a task."""

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport,
                 ctx: ServerContext, core: C, path: str) -> None:  # fmt: skip
        self.id = next(_session_ids)
        self.path = path
        self._ws = ws
        self._transport = transport
        self._ctx = ctx
        self._core = core
        s = ctx.settings
        self._writer = FrameWriter(ws, transport, s.send_buffer_bytes, s.slow_consumer_timeout)
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._timers: list[asyncio.TimerHandle] = []
        self._tick_timer: asyncio.TimerHandle | None = None
        self._ended = asyncio.Event()

    @property
    def busy(self) -> bool:
        """Whether a request is running or waiting."""
        return self._core.busy

    async def run(self) -> None:
        """Serve the connection until it closes."""
        try:
            await self._do(self._opening())
            self._arm_timers()
            await self._read_loop()
        except (ConnectionError, SlowConsumer):
            pass
        finally:
            for timer in [*self._timers, self._tick_timer]:
                if timer is not None:
                    timer.cancel()
            await self._do_quietly(self._core.on_disconnect())
            self._writer.flush()
            self._ended.set()

    def _opening(self) -> list[Any]:
        """What the core says when the connection opens."""
        return []

    def _arm_timers(self) -> None:
        self._schedule_tick()

    def _schedule_tick(self) -> None:
        # One timer, for the next moment the core may act on its own (idle timeout, connection
        # limit). Activity in between only moves that moment: it is checked when it comes, and
        # the end of each run sets the timer again.
        if self._tick_timer is not None:
            self._tick_timer.cancel()
            self._tick_timer = None
        deadline = self._core.next_deadline()
        if deadline is not None:
            delay = max(deadline - time.monotonic(), 0.01)
            self._tick_timer = asyncio.get_running_loop().call_later(delay, self._tick)

    def _tick(self) -> None:
        self._tick_timer = None
        actions = self._core.on_tick(time.monotonic())
        if actions:
            self._later(lambda: actions)
        elif self._core.state is not State.CLOSED:
            self._schedule_tick()

    def _later(self, decide: Callable[[], list[Any]]) -> None:
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
            if self._core.state is State.CLOSED:
                return

    async def _do_quietly(self, actions: list[Any]) -> None:
        with suppress(ConnectionError, SlowConsumer):
            await self._do(actions)

    async def _do(self, actions: list[Any]) -> None:
        for action in actions:
            if isinstance(action, Send):
                await self._writer.write(action.frame)
            elif isinstance(action, Start):
                self._tasks[action.run.id] = asyncio.create_task(self._serve(action.run))
            elif isinstance(action, Stop):
                running = self._tasks.get(action.run.id)
                if running is not None:
                    running.cancel()
            elif isinstance(action, Close):
                await self.close(action.code, action.reason)
            else:
                await self._other(action)

    async def _other(self, action: Any) -> None:
        """A protocol's own action."""
        raise TypeError(f"unknown action {action!r}")

    async def _serve(self, run: Any) -> None:
        """Stream one run's reply, report its end to the core, and carry out what it says."""
        actions = await self._stream(run)
        await self._do_quietly(actions)
        if self._core.state is not State.CLOSED:
            self._schedule_tick()

    async def _stream(self, run: Any) -> list[Any]:
        """Stream one run's reply; the core's actions at its end."""
        raise NotImplementedError

    async def close(self, code: int, reason: str) -> None:
        """Send what is queued, then close; a client that does not read is cut off."""
        self._writer.flush()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self._ws.close(code=code, message=reason.encode())
        except TimeoutError:
            self._transport.abort()

    async def drain(self, timeout: float) -> None:
        """Take no new requests, let the running ones finish up to `timeout`, then close."""
        await self._do_quietly(self._core.on_drain())
        try:
            await asyncio.wait_for(self._ended.wait(), timeout)
        except TimeoutError:
            await self._do_quietly(self._core.on_drain_timeout())
            try:
                await asyncio.wait_for(self._ended.wait(), CLOSE_TIMEOUT * 2)
            except TimeoutError:
                self._transport.abort()
