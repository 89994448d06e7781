"""What every connection of one server process shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from wsllm.backends import Backend
from wsllm.server.heartbeat import Heartbeat
from wsllm.server.limits import ConnectionLimits, RateLimiter
from wsllm.server.metrics import ServerMetrics
from wsllm.server.streams import StreamHub
from wsllm.server.writer import Cork
from wsllm.settings import Settings
from wsllm.timers import Deadlines


class Session(Protocol):
    """A live connection, as the server's drain sees it."""

    @property
    def busy(self) -> bool:
        """Whether a request is running or waiting."""
        ...

    @property
    def id(self) -> int:
        """The session's number in this process."""
        ...

    async def drain(self, timeout: float) -> None:
        """Finish up within `timeout`, then close."""
        ...

    def heartbeat(self) -> None:
        """Ping, or hang up if the last ping went unanswered."""
        ...


@dataclass(slots=True)
class ServerContext:
    """Settings, backend, counters and the live sessions of one process."""

    settings: Settings
    backend: Backend
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
    limits: ConnectionLimits = field(init=False)
    rate: RateLimiter = field(init=False)
    sessions: set[Session] = field(default_factory=set)
    draining: bool = False
    hub: StreamHub = field(init=False)
    heartbeat: Heartbeat = field(init=False)
    deadlines: Deadlines = field(default_factory=Deadlines)
    cork: Cork = field(default_factory=Cork)
    policies: dict[object, object] = field(default_factory=dict)  # one per kind, shared

    def __post_init__(self) -> None:
        self.heartbeat = Heartbeat(self.settings.ping_interval, self.sessions)
        self.hub = StreamHub(
            self.settings.resume_ttl, self.settings.resume_grace,
            max_bytes=self.settings.resume_max_bytes,
        )  # fmt: skip
        self.limits = ConnectionLimits(
            self.settings.max_connections,
            self.settings.max_connections_per_client,
            self.settings.proxy_set,
        )
        self.rate = RateLimiter(self.settings.rate_limit)
