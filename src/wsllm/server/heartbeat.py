"""Protocol pings for every WebSocket connection of a process, on one timer.

Each connection sits in one of a few buckets; each tick pings the connections of the next bucket,
so every connection is pinged once per interval. A connection that has not answered its last ping
by then is cut off. One timer in all, instead of one a connection: idle connections cost less.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Protocol


class Pinged(Protocol):
    """A connection the heartbeat looks after."""

    def heartbeat(self) -> None:
        """Ping, or hang up if the last ping went unanswered."""
        ...


class Heartbeat:
    """The process's pings."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        slots = max(1, int(interval))
        self._buckets: list[set[Pinged]] = [set() for _ in range(slots)]
        self._turn = itertools.count()
        self._placed = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, connection: Pinged) -> None:
        """Look after `connection` from now on."""
        if not self._interval:
            return
        self._buckets[next(self._placed) % len(self._buckets)].add(connection)
        if self._timer is None:
            self._schedule()

    def discard(self, connection: Pinged) -> None:
        """Stop looking after `connection`."""
        for bucket in self._buckets:
            bucket.discard(connection)

    def _schedule(self) -> None:
        tick = self._interval / len(self._buckets)
        self._timer = asyncio.get_running_loop().call_later(tick, self._tick)

    def _tick(self) -> None:
        self._timer = None
        bucket = self._buckets[next(self._turn) % len(self._buckets)]
        for connection in list(bucket):
            connection.heartbeat()
        if any(self._buckets):
            self._schedule()

    def stop(self) -> None:
        """No more pings (shutting down)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
