"""The listening socket's first line of defence (no aiohttp inside): each TCP connection counts
toward its client's connection limit from its first byte, and one whose first request has not
arrived whole within the header timeout is closed.

Without it, half-sent requests ("slowloris") hold sockets for ever and escape the per-client limit,
so one address could starve every other client of the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from wsllm.server.limits import ConnectionLimits

_END_OF_HEAD = b"\r\n\r\n"
_MAX_HEAD = 64 * 1024
_REASONS = {429: "Too Many Requests", 503: "Service Unavailable"}


def refusal_response(status: int, reason: str) -> bytes:
    """A whole HTTP answer refusing the connection."""
    body = (reason + "\n").encode()
    head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Refused')}\r\nContent-Type: text/plain\r\n"
    return (head + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


class HandshakeGuard(asyncio.Protocol):
    """Wraps the HTTP protocol of one connection until its first request head is complete."""

    __slots__ = (
        "_client", "_forwarding", "_head", "_inner", "_limits", "_timeout", "_timer", "_transport",
    )  # fmt: skip

    def __init__(self, inner: asyncio.Protocol, limits: ConnectionLimits, timeout: float) -> None:
        self._inner = inner
        self._limits = limits
        self._timeout = timeout
        self._client = "unknown"
        self._timer: asyncio.TimerHandle | None = None
        self._head = b""
        self._transport: asyncio.Transport | None = None
        self._forwarding = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self._client = str(peer[0]) if peer else "unknown"
        refused = self._limits.refusal(self._client)
        if refused is not None:
            self._refuse(*refused)
            return
        self._limits.pending_opened(self._client)
        if self._timeout:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._timeout, self._expire)
        self._forwarding = True
        self._inner.connection_made(transport)

    def _refuse(self, status: int, reason: str) -> None:
        # Half-close after the answer and read what the client still sends: closing with unread
        # bytes would reset the connection, and the client would never see why.
        transport = self._transport
        assert transport is not None
        transport.write(refusal_response(status, reason))
        if transport.can_write_eof():
            transport.write_eof()
        asyncio.get_running_loop().call_later(1.0, transport.close)
        self._limits.rejected_early += 1

    def _expire(self) -> None:
        self._timer = None
        self._limits.pending_closed(self._client)
        self._limits.timed_out += 1
        if self._transport is not None:
            self._transport.abort()

    def _head_complete(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._limits.pending_closed(self._client)
        self._head = b""

    def data_received(self, data: bytes) -> None:
        if not self._forwarding:
            return
        if self._timer is not None:
            self._head = (self._head + data)[-_MAX_HEAD:]
            if _END_OF_HEAD in self._head:
                self._head_complete()
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._forwarding else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._head_complete()
        if self._forwarding:
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._forwarding:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._forwarding:
            self._inner.resume_writing()


def guarded(factory: Callable[[], Any], limits: ConnectionLimits, timeout: float
            ) -> Callable[[], HandshakeGuard]:  # fmt: skip
    """A protocol factory whose protocols are guarded."""
    return lambda: HandshakeGuard(factory(), limits, timeout)
