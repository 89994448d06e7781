"""A WebSocket client on websockets' sans-I/O protocol, for load generation and evals.

websockets parses and checks the frames (masking, fragmentation, control frames, the close
handshake); this module only moves bytes. Every message of one socket read is handed to a
callback in one synchronous pass, with the read's clock reading, so a burst of deltas costs no
await per frame and every frame of the burst carries the time it really arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable, Mapping
from typing import cast

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from wsllm.errors import ConnectionClosed, HandshakeError, TargetError

OnMessage = Callable[[str, int, float], None]
CLOSE_TIMEOUT = 2.0


def _ignore(data: str, size: int, now: float) -> None:
    """Messages that belong to no request."""


class _Protocol(asyncio.Protocol):
    """Feeds socket bytes to websockets' protocol and its output back to the socket."""

    def __init__(self, ws: ClientProtocol, on_message: OnMessage) -> None:
        self.ws = ws
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[Response] = loop.create_future()
        self.closed: asyncio.Future[int | None] = loop.create_future()
        self._parts: list[bytes] = []
        self._closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Frame):
                self._frame(event, now)
            elif isinstance(event, Response):
                self._handshake(event)
        self.flush()

    def _frame(self, frame: Frame, now: float) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY or opcode is Opcode.CONT:
            if not frame.fin:
                self._parts.append(bytes(frame.data))
                return
            data = b"".join([*self._parts, frame.data]) if self._parts else bytes(frame.data)
            self._parts = []
            try:
                text = data.decode()
            except UnicodeDecodeError:
                self.ws.fail(1007, "invalid UTF-8 in a text frame")
                return
            self.on_message(text, len(data), now)

    def _handshake(self, response: Response) -> None:
        if self.opened.done():
            return
        failure = self.ws.handshake_exc
        if failure is None:
            self.opened.set_result(response)
        else:
            self.opened.set_exception(_handshake_error(failure, response))

    def flush(self) -> None:
        """Write what the protocol has to send; close the socket when it expects us to."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        for chunk in self.ws.data_to_send():
            if chunk:
                transport.write(chunk)
            else:
                transport.write_eof() if transport.can_write_eof() else transport.close()
        if self.ws.close_expected() and not self._closing:
            self._closing = True
            asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, transport.close)

    def eof_received(self) -> bool:
        self.ws.receive_eof()
        self.flush()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        code = self.ws.close_rcvd.code if self.ws.close_rcvd is not None else None
        if not self.closed.done():
            self.closed.set_result(code)
        if not self.opened.done():
            self.opened.set_exception(ConnectionClosed(code))


def _handshake_error(failure: Exception, response: Response) -> TargetError:
    if isinstance(failure, InvalidStatus):
        status = failure.response.status_code
        return HandshakeError(status, failure.response.reason_phrase)
    return HandshakeError(response.status_code, f"({failure})")


class WebSocket:
    """One open client connection; messages go to the callback set with `on_message`."""

    def __init__(self, protocol: _Protocol, subprotocol: str | None) -> None:
        self._protocol = protocol
        self.subprotocol = subprotocol

    @property
    def closed(self) -> asyncio.Future[int | None]:
        """Resolves with the close code (None without one) when the connection ends."""
        return self._protocol.closed

    def on_message(self, handler: OnMessage) -> None:
        """Route the following messages to `handler(text, size, arrival_time)`."""
        self._protocol.on_message = handler

    @property
    def is_open(self) -> bool:
        """Whether frames can still be sent (no close frame has come or gone)."""
        return not self.closed.done() and self._protocol.ws.state is State.OPEN

    def send_text(self, text: str) -> None:
        """Send one text frame."""
        if not self.is_open or self._protocol.transport is None:
            raise ConnectionClosed(self.closed.result() if self.closed.done() else None)
        self._protocol.ws.send_text(text.encode())
        self._protocol.flush()

    def close(self, code: int = 1000) -> None:
        """Start the closing handshake; the socket closes when the server answers (or soon)."""
        self.on_message(_ignore)
        if self.closed.done():
            return
        with contextlib.suppress(Exception):  # already closing: no second close frame
            self._protocol.ws.send_close(code)
        self._protocol.flush()
        transport = self._protocol.transport
        if transport is not None:
            asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, transport.close)

    def abort(self) -> None:
        """Drop the connection at once."""
        if self._protocol.transport is not None:
            self._protocol.transport.abort()


async def connect(
    url: str,
    on_message: OnMessage = _ignore,
    headers: Mapping[str, str] | None = None,
    subprotocols: tuple[str, ...] = (),
    max_size: int | None = 64 * 1024 * 1024,
) -> WebSocket:
    """Open a connection to a ws:// or wss:// URL and complete the handshake."""
    try:
        uri = parse_uri(url)
    except InvalidURI as exc:
        raise TargetError(f"not a WebSocket URL: {url}") from exc
    offered = [Subprotocol(p) for p in subprotocols] or None  # no empty header: servers refuse it
    ws = ClientProtocol(uri, subprotocols=offered, max_size=max_size)
    loop = asyncio.get_running_loop()
    context = ssl.create_default_context() if uri.secure else None
    _, protocol = await loop.create_connection(
        lambda: _Protocol(ws, on_message), uri.host, uri.port, ssl=context
    )
    request = ws.connect()
    for name, value in (headers or {}).items():
        request.headers[name] = value
    ws.send_request(request)
    protocol.flush()
    try:
        response = await protocol.opened
    except InvalidHandshake as exc:
        raise HandshakeError(0, str(exc)) from exc
    except BaseException:
        if protocol.transport is not None:
            protocol.transport.abort()
        raise
    return WebSocket(protocol, response.headers.get("Sec-WebSocket-Protocol"))
