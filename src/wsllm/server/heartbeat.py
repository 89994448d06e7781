"""Protocol pings for every WebSocket connection of a process, on one timer.

The connections are the process's live sessions (the heartbeat keeps no list of its own); each
tick pings the share of them whose id falls in that tick's slot, so every connection is pinged
once per interval. A connection that has not answered its last ping by then is cut off. One
timer in all, instead of one a connection: idle connections cost less.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Collection
from typing import Protocol


class Pinged(Protocol):
    """A connection the heartbeat looks after."""

    @property
    def id(self) -> int:
        """The session's number (which tick pings it)."""
        ...

    def heartbeat(self) -> None:
        """Ping, or hang up if the last ping went unanswered."""
        ...


class Heartbeat:
    """The process's pings."""

    def __init__(self, interval: float, members: Collection[Pinged]) -> None:
        self._interval = interval
        self._members = members
        self._slots = max(1, int(interval))
        self._turn = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    def wake(self) -> None:
        """A connection joined: tick, if not already ticking."""
        if self._interval and self._timer is None:
            tick = self._interval / self._slots
            self._timer = asyncio.get_running_loop().call_later(tick, self._tick)

    def _tick(self) -> None:
        self._timer = None
        slot, slots = next(self._turn) % self._slots, self._slots
        for connection in [c for c in self._members if c.id % slots == slot]:
            connection.heartbeat()
        if self._members:
            self.wake()

    def stop(self) -> None:
        """No more pings (shutting down)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
