"""Connection counts per client and in all, and a per-client token bucket for requests (no I/O)."""

from __future__ import annotations

from collections import defaultdict


class ConnectionLimits:
    """Open connections, in all and per client address; 0 means no limit.

    WebSocket connections count, and so do connections still sending their first request head
    ("pending"), so half-sent requests cannot escape the per-client limit.
    """

    def __init__(self, total: int, per_client: int, trusted: frozenset[str] = frozenset()) -> None:
        self.trusted = trusted
        self._total_limit = total
        self._client_limit = per_client
        self.total = 0
        self._by_client: defaultdict[str, int] = defaultdict(int)
        self._pending: defaultdict[str, int] = defaultdict(int)
        self._pending_total = 0
        self.rejected_early = 0
        self.timed_out = 0

    def refusal(self, client: str, elsewhere: int = 0) -> tuple[int, str] | None:
        """(HTTP status, reason) if one more connection from `client` is over a limit; it holds
        `elsewhere` more on other nodes."""
        if self._total_limit and self.total + self._pending_total >= self._total_limit:
            return 503, "the server is at its connection limit"
        if client in self.trusted:  # a balancer: its clients are counted one by one, later
            return None
        count = self._by_client.get(client, 0) + self._pending.get(client, 0) + elsewhere
        if self._client_limit and count >= self._client_limit:
            return 429, "too many connections from this client"
        return None

    def held_by(self, client: str) -> int:
        """The WebSocket connections `client` holds here."""
        return self._by_client.get(client, 0)

    def pending_opened(self, client: str) -> None:
        """A connection is sending its first request head."""
        self._pending[client] += 1
        self._pending_total += 1

    def pending_closed(self, client: str) -> None:
        """Its head arrived whole (or it went away)."""
        self._pending[client] -= 1
        self._pending_total -= 1
        if self._pending[client] <= 0:
            del self._pending[client]

    def opened(self, client: str) -> None:
        """Count a new connection."""
        self.total += 1
        self._by_client[client] += 1

    def closed(self, client: str) -> None:
        """Forget a closed connection."""
        self.total -= 1
        self._by_client[client] -= 1
        if self._by_client[client] <= 0:
            del self._by_client[client]


class RateLimiter:
    """Requests per minute per client: a token bucket holding a minute's worth; 0 turns it off."""

    def __init__(self, per_minute: float) -> None:
        self._rate = per_minute / 60.0
        self._capacity = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}

    def retry_after(self, client: str, now: float) -> float | None:
        """None if `client` may send a request now (and count it), else seconds to wait."""
        if self._capacity <= 0:
            return None
        tokens, last = self._buckets.get(client, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - last) * self._rate)
        if tokens >= 1:
            self._buckets[client] = (tokens - 1, now)
            return None
        self._buckets[client] = (tokens, now)
        return (1 - tokens) / self._rate
