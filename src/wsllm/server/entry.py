"""The listening socket's protocol: every TCP connection starts here.

A connection counts toward its client's limit from its first byte, and one whose first request
head has not arrived whole within the header timeout is closed (half-sent requests cannot hold
sockets or escape the limit). A WebSocket upgrade to one of our paths is then served here, on
websockets' sans-I/O protocol; anything else (`/health`, `/metrics`, the chat page) goes to
aiohttp. A WebSocket connection so costs its protocol state and its session, and no more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from websockets.datastructures import Headers
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from wsllm.server import handshake
from wsllm.server.context import ServerContext
from wsllm.server.session import SocketSession
from wsllm.timers import Due

_END_OF_HEAD = b"\r\n\r\n"
_NO_ID = uuid.UUID(int=0)
_MAX_HEAD = 64 * 1024
_REASONS = {401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests",
            431: "Request Header Fields Too Large", 503: "Service Unavailable"}  # fmt: skip
_QUIET = logging.getLogger("wsllm.wire")
_QUIET.setLevel(logging.WARNING)

SessionFactory = Callable[
    [asyncio.Transport, ServerProtocol, ServerContext, str, str | None], SocketSession[Any]
]


@dataclass(frozen=True, slots=True)
class Route:
    """A WebSocket path: how to make its session, and whether a key may come in a message."""

    make: SessionFactory
    first_message_auth: bool = True


def refusal_response(status: int, reason: str) -> bytes:
    """A whole HTTP answer refusing the connection."""
    body = (reason + "\n").encode()
    head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Refused')}\r\nContent-Type: text/plain\r\n"
    return (head + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


def _no_delay(transport: asyncio.BaseTransport) -> None:
    """Send each write at once. Without TCP_NODELAY the kernel holds a small write back while an
    earlier one is unacknowledged, and a stream's last frame waits for the client's delayed ACK
    (40 ms). asyncio sets it only on sockets made with IPPROTO_TCP, not on those accepted from a
    listening socket made with protocol 0."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def upgrade_path(head: bytes) -> str | None:
    """The path of a WebSocket upgrade request (None for any other request)."""
    line, _, rest = head.partition(b"\r\n")
    parts = line.split(b" ")
    if len(parts) != 3 or parts[0] != b"GET" or b"websocket" not in rest.lower():
        return None
    return parts[1].split(b"?", 1)[0].decode("latin-1")


class EntryProtocol(asyncio.Protocol):
    """One TCP connection, until it is a WebSocket session or an aiohttp request handler."""

    __slots__ = ("_client", "_ctx", "_head", "_http", "_pending", "_routes", "_target",
                 "_timer", "_transport")  # fmt: skip

    def __init__(self, http: Callable[[], Any], ctx: ServerContext, routes: dict[str, Route]):
        self._http = http
        self._ctx = ctx
        self._routes = routes
        self._client = "unknown"
        self._head = b""
        self._timer: Due | None = None
        self._transport: asyncio.Transport | None = None
        self._target: Any = None
        self._pending = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        _no_delay(transport)
        peer = transport.get_extra_info("peername")
        self._client = str(peer[0]) if peer else "unknown"
        limits = self._ctx.limits
        refused = limits.refusal(self._client)
        if refused is not None:
            limits.rejected_early += 1
            self._refuse(*refused)
            return
        limits.pending_opened(self._client)
        self._pending = True
        timeout = self._ctx.settings.handshake_timeout
        if timeout:
            self._timer = self._ctx.deadlines.call_later(timeout, self._expire)

    def _refuse(self, status: int, reason: str) -> None:
        # Half-close after the answer and ignore what the client still sends: closing with
        # unread bytes would reset the connection, and the client would never see why.
        transport = self._transport
        assert transport is not None
        self._target = _Ignore()
        transport.write(refusal_response(status, reason))
        if transport.can_write_eof():
            transport.write_eof()
        asyncio.get_running_loop().call_later(1.0, transport.close)

    def _expire(self) -> None:
        self._timer = None
        self._head_done()
        self._ctx.limits.timed_out += 1
        if self._transport is not None:
            self._transport.abort()

    def _head_done(self) -> None:
        if self._timer is not None:
            self._ctx.deadlines.cancel(self._timer)
            self._timer = None
        if self._pending:
            self._pending = False
            self._ctx.limits.pending_closed(self._client)

    def data_received(self, data: bytes) -> None:
        if self._target is not None:
            self._target.data_received(data)
            return
        self._head += data
        if _END_OF_HEAD not in self._head:
            if len(self._head) > _MAX_HEAD:
                self._head_done()
                self._refuse(431, "the request head is too large")
            return
        self._head_done()
        head, self._head = self._head, b""
        path = upgrade_path(head)
        route = self._routes.get(path) if path is not None else None
        if route is None:
            self._to_http(head)
        else:
            self._to_websocket(route, head)

    def _to_http(self, head: bytes) -> None:
        handler = self._http()
        self._target = handler
        handler.connection_made(self._transport)
        handler.data_received(head)

    def _to_websocket(self, route: Route, head: bytes) -> None:
        settings = self._ctx.settings
        ws = ServerProtocol(
            max_size=handshake.hard_frame_cap(settings), logger=_QUIET,
            select_subprotocol=_choose_subprotocol,
        )  # fmt: skip
        ws.id = _NO_ID  # only for websockets' own logs, which are off; sessions have ids
        ws.receive_data(head)
        events = ws.events_received()
        if not events or not isinstance(events[0], Request):
            self._refuse(400, "not a WebSocket handshake")
            return
        self._target = _Ignore()  # nothing should come before our answer
        asyncio.get_running_loop().create_task(self._handshake(route, ws, events[0]))

    async def _handshake(self, route: Route, ws: ServerProtocol, request: Request) -> None:
        headers = _plain(request.headers)
        client = handshake.client_of(self._client, headers, self._ctx.settings)
        decision = await handshake.decide(headers, client, self._ctx, route.first_message_auth)
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if isinstance(decision, handshake.Refusal):
            self._ctx.metrics.rejected[decision.label] += 1
            self._refuse(decision.status, decision.text)
            return
        response = ws.accept(request)
        ws.send_response(response)
        for chunk in ws.data_to_send():
            transport.write(chunk)
        # The protocol's parser keeps the request for the connection's life; what was needed
        # of its headers has been read.
        request.headers.clear()
        if response.status_code != 101:
            transport.close()
            return
        self._open(route.make(transport, ws, self._ctx, client, decision), client)

    def _open(self, session: SocketSession[Any], client: str) -> None:
        ctx = self._ctx
        assert self._transport is not None
        self._transport.set_write_buffer_limits(high=ctx.settings.send_buffer_bytes)
        self._client = client
        ctx.limits.opened(client)
        if ctx.hub.shared is not None:
            ctx.hub.shared.connection_changed(client, +1)
        ctx.sessions.add(session)
        ctx.metrics.connections_open += 1
        ctx.metrics.connections_total += 1
        self._target = session
        session.start()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_done()
        target = self._target
        if isinstance(target, SocketSession):
            self._close_session(target)
        elif target is not None and not isinstance(target, _Ignore):
            target.connection_lost(exc)

    def _close_session(self, session: SocketSession[Any]) -> None:
        ctx = self._ctx
        session.connection_lost()
        ctx.metrics.connections_open -= 1
        ctx.sessions.discard(session)
        ctx.limits.closed(self._client)
        if ctx.hub.shared is not None:
            ctx.hub.shared.connection_changed(self._client, -1)

    def eof_received(self) -> bool | None:
        target = self._target
        if target is not None and not isinstance(target, SocketSession | _Ignore):
            result: bool | None = target.eof_received()
            return result
        return None

    def pause_writing(self) -> None:
        # A client that does not read its answers is not read from either: what it sends
        # (pings, say) cannot make us queue answers without bound.
        target = self._target
        if isinstance(target, SocketSession) and self._transport is not None:
            self._transport.pause_reading()
        elif target is not None and not isinstance(target, _Ignore):
            target.pause_writing()

    def resume_writing(self) -> None:
        target = self._target
        if isinstance(target, SocketSession) and self._transport is not None:
            self._transport.resume_reading()
        elif target is not None and not isinstance(target, _Ignore):
            target.resume_writing()


def _choose_subprotocol(_: ServerProtocol, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    chosen = handshake.subprotocol(list(offered))
    return None if chosen is None else Subprotocol(chosen)


class _Ignore:
    """What a connection being refused (or awaiting our answer) does with more bytes."""

    def data_received(self, data: bytes) -> None:
        """Nothing."""


class _Plain(Mapping[str, str]):
    """Request headers for the checks: any case, repeated headers joined with commas."""

    def __init__(self, headers: Headers) -> None:
        self._headers = headers

    def __getitem__(self, name: str) -> str:
        values = self._headers.get_all(name)
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def __iter__(self) -> Iterator[str]:
        return iter(self._headers)

    def __len__(self) -> int:
        return len(self._headers)


def _plain(headers: Headers) -> Mapping[str, str]:
    return _Plain(headers)


def entry_factory(http: Callable[[], Any], ctx: ServerContext, routes: dict[str, Route]
                  ) -> Callable[[], EntryProtocol]:  # fmt: skip
    """A protocol factory for the listening socket."""
    return lambda: EntryProtocol(http, ctx, routes)
