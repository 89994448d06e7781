"""Many timers on one event-loop timer.

An event-loop timer costs more than half a kilobyte (uvloop's handle and the libuv timer under
it) and a start and a stop in libuv; a server has one or two per connection (idle timeout, auth
deadline) and the simulated model one per token. `Deadlines` keeps each as a small entry in one
heap, cancellable; `Ticks` keeps the short-lived ones (tokens) in a list per millisecond. Either
way the loop holds a single timer, for the earliest. Times are `time.monotonic()` seconds.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import logging
import math
import time
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger("wsllm.server")

_COMPACT_AT = 256  # cancelled entries tolerated before the heap is rebuilt without them
EARLY = 0.001  # a timer may fire this much before its time: the loop's clock is in milliseconds


class _Homed(Protocol):
    _home: asyncio.AbstractEventLoop | None


def running_loop(owner: _Homed) -> asyncio.AbstractEventLoop:
    """The running loop, remembered in `owner._home`: asking asyncio costs a getpid() system
    call each time on Python 3.11, too much for a path taken for every frame."""
    loop = owner._home
    if loop is None or not loop.is_running():
        loop = owner._home = asyncio.get_running_loop()
    return loop


class Due:
    """One timer: `callback(*args)` at `when`, unless cancelled first."""

    __slots__ = ("args", "callback", "when")

    def __init__(self, when: float, callback: Callable[..., object], args: tuple[Any, ...]):
        self.when = when
        self.callback: Callable[..., object] | None = callback
        self.args = args

    @property
    def pending(self) -> bool:
        """Whether it has neither fired nor been cancelled."""
        return self.callback is not None


def _wake(future: asyncio.Future[None], now: int) -> None:
    if not future.done():  # a sleeper that was cancelled is not woken
        future.set_result(None)


class Deadlines:
    """A set of timers sharing one loop timer (one set for a loop at a time)."""

    def __init__(self) -> None:
        # (when, order, due): compared in C, the order keeping equal times first come first.
        self._heap: list[tuple[float, int, Due]] = []
        self._order = itertools.count()
        self._cancelled = 0
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for = float("inf")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._home: asyncio.AbstractEventLoop | None = None

    def __len__(self) -> int:
        """Timers waiting to fire."""
        return len(self._heap) - self._cancelled

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> Due:
        """Call `callback(*args)` at monotonic time `when`."""
        loop = running_loop(self)
        if loop is not self._loop:  # a new loop: the old one's timers cannot fire any more
            self.stop()
            self._loop = loop
        due = Due(when, callback, args)
        heapq.heappush(self._heap, (when, next(self._order), due))
        if when < self._armed_for:
            self._arm()
        return due

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any) -> Due:
        """Call `callback(*args)` in `delay` seconds."""
        return self.call_at(time.monotonic() + delay, callback, *args)

    def cancel(self, due: Due | None) -> None:
        """Forget `due` (nothing happens if it fired or was cancelled already)."""
        if due is None or due.callback is None:
            return
        due.callback, due.args = None, ()
        self._cancelled += 1
        if self._cancelled > _COMPACT_AT and self._cancelled * 2 > len(self._heap):
            self._heap = [entry for entry in self._heap if entry[2].callback is not None]
            heapq.heapify(self._heap)
            self._cancelled = 0

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._armed_for = float("inf")
        heap = self._heap
        while heap and heap[0][2].callback is None:
            heapq.heappop(heap)
            self._cancelled -= 1
        if heap:
            self._armed_for = heap[0][0]
            delay = max(self._armed_for - time.monotonic(), 0.0)
            assert self._loop is not None
            self._timer = self._loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._armed_for = float("inf")
        now, heap = time.monotonic(), self._heap
        while heap and heap[0][0] <= now + EARLY:
            due = heapq.heappop(heap)[2]
            callback, args = due.callback, due.args
            if callback is None:
                self._cancelled -= 1
                continue
            due.callback, due.args = None, ()
            try:
                callback(*args)
            except Exception:  # one connection's failure is not every connection's
                log.exception("a connection timer failed")
        self._arm()

    def stop(self) -> None:
        """Forget every timer (the loop is closing)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap, self._cancelled, self._armed_for = [], 0, float("inf")


def tick_of(when: float) -> int:
    """The millisecond a monotonic time is due in: the first whole one at or after it."""
    return math.ceil(when * 1000)


class Ticks:
    """Callbacks by the millisecond they are due, for the many that come and go every few
    milliseconds (a paced model's tokens): one loop timer for the earliest millisecond and a
    list for each, so adding one is a list append (no handle, no heap entry, no garbage for the
    collector). A callback runs in its millisecond, up to EARLY before it (the loop's clock is in
    milliseconds); none can be cancelled: one no longer wanted must do nothing when it runs.
    A callback is given the latest millisecond that may run now (see `now`)."""

    def __init__(self) -> None:
        self._due: dict[int, list[Callable[[int], object]]] = {}
        self._ticks: list[int] = []  # a heap of the milliseconds in `_due`
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._home: asyncio.AbstractEventLoop | None = None

    @staticmethod
    def now() -> int:
        """The latest millisecond whose callbacks may run now."""
        return int((time.monotonic() + EARLY) * 1000)

    def sleep_until(self, when: float) -> asyncio.Future[None]:
        """A future that is done in the millisecond of monotonic time `when` (await it)."""
        future: asyncio.Future[None] = running_loop(self).create_future()
        self.at(tick_of(when), functools.partial(_wake, future))
        return future

    def at(self, tick: int, callback: Callable[[int], object]) -> None:
        """Call `callback(now)` in millisecond `tick` (see `tick_of`)."""
        calls = self._due.get(tick)
        if calls is not None:
            calls.append(callback)
            return
        loop = running_loop(self)
        if loop is not self._loop:  # a new loop: the old one's timer cannot fire any more
            self._due, self._ticks, self._timer, self._loop = {}, [], None, loop
        self._due[tick] = [callback]
        heapq.heappush(self._ticks, tick)
        if self._timer is None or tick < self._armed_for:
            self._arm(tick)

    def _arm(self, tick: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        assert self._loop is not None
        self._armed_for = tick
        delay = max(tick / 1000 - time.monotonic(), 0.0)
        self._timer = self._loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        last, ticks, due = self.now(), self._ticks, self._due
        while ticks and ticks[0] <= last:  # what a callback adds is due after `last`
            for callback in due.pop(heapq.heappop(ticks)):
                try:
                    callback(last)
                except Exception:  # one stream's failure is not every stream's
                    log.exception("a timer callback failed")
        if ticks:
            self._arm(ticks[0])
