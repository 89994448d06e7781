"""A lean WebSocket client for load generation (RFC 6455, no extensions).

Every frame of one socket read is parsed in one synchronous pass and handed to a callback with the
read's clock reading, so a burst of deltas costs no extra awaits. Client frames are masked with a
random key, as the RFC requires.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import ssl
import struct
import time
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_LEN16 = struct.Struct("!H")
_LEN64 = struct.Struct("!Q")

OnMessage = Callable[[str, float], None]


class HandshakeError(Exception):
    """The server answered the upgrade with something other than 101."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"handshake rejected: HTTP {status} {reason}".strip())
        self.status = status


class ConnectionClosed(Exception):
    """The connection closed; `code` is the close code, if the server sent one."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"connection closed (code {code})" if code else "connection lost")
        self.code = code


def mask(payload: bytes, key: bytes) -> bytes:
    """XOR `payload` with the repeating 4-byte `key`."""
    if not payload:
        return payload
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    size = len(payload)
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(size, "big")


def client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A final, masked client frame."""
    key = os.urandom(4)
    size = len(payload)
    if size < 126:
        header = bytes((0x80 | opcode, 0x80 | size))
    elif size < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + _LEN16.pack(size)
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + _LEN64.pack(size)
    return header + key + mask(payload, key)


class _Protocol(asyncio.Protocol):
    def __init__(self, on_message: OnMessage) -> None:
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.handshake: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._parts: list[bytes] = []
        self._opcode = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            self.upgraded = True
            if not self.handshake.done():
                self.handshake.set_result(head)
        self._frames(now)

    def _frames(self, now: float) -> None:
        buffer = self.buffer
        offset = 0
        size = len(buffer)
        while size - offset >= 2:
            first, second = buffer[offset], buffer[offset + 1]
            length = second & 0x7F
            start = offset + 2
            if length == 126:
                if size - start < 2:
                    break
                length = _LEN16.unpack_from(buffer, start)[0]
                start += 2
            elif length == 127:
                if size - start < 8:
                    break
                length = _LEN64.unpack_from(buffer, start)[0]
                start += 8
            key = b""
            if second & 0x80:
                key = bytes(buffer[start : start + 4])
                start += 4
            if size - start < length:
                break
            payload = bytes(buffer[start : start + length])
            offset = start + length
            self._frame(first, mask(payload, key) if key else payload, now)
        if offset:
            del buffer[:offset]

    def _frame(self, first: int, payload: bytes, now: float) -> None:
        opcode = first & 0x0F
        if opcode == 0x9 and self.transport is not None:
            self.transport.write(client_frame(payload, 0xA))
        elif opcode == 0x8:
            code = _LEN16.unpack_from(payload)[0] if len(payload) >= 2 else None
            self._finish(code)
        elif opcode in (0x1, 0x2, 0x0):
            if opcode:
                self._opcode, self._parts = opcode, []
            self._parts.append(payload)
            if first & 0x80:
                data = b"".join(self._parts) if len(self._parts) > 1 else payload
                self._parts = []
                self.on_message(data.decode("utf-8", "replace"), now)

    def _finish(self, code: int | None) -> None:
        if not self.closed.done():
            self.closed.set_result(code)
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionClosed(code))
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(None)


class LeanWebSocket:
    """One client connection; messages go to the callback given at connect."""

    def __init__(self, protocol: _Protocol, subprotocol: str | None) -> None:
        self._protocol = protocol
        self.subprotocol = subprotocol

    @property
    def closed(self) -> asyncio.Future[int | None]:
        """Resolves with the close code when the connection ends."""
        return self._protocol.closed

    def set_handler(self, on_message: OnMessage) -> None:
        """Route following messages to `on_message`."""
        self._protocol.on_message = on_message

    def send_text(self, text: str) -> None:
        """Send one text frame."""
        transport = self._protocol.transport
        if transport is None or transport.is_closing() or self.closed.done():
            raise ConnectionClosed(self.closed.result() if self.closed.done() else None)
        transport.write(client_frame(text.encode()))

    def close(self) -> None:
        """Send a normal close and drop the connection."""
        transport = self._protocol.transport
        if transport is not None and not transport.is_closing():
            transport.write(client_frame(_LEN16.pack(1000), 0x8))
            transport.close()


async def connect(
    url: str,
    on_message: OnMessage,
    headers: dict[str, str] | None = None,
    subprotocols: tuple[str, ...] = (),
) -> LeanWebSocket:
    """Open a connection to a ws:// or wss:// URL and complete the handshake."""
    parts = urlsplit(url)
    secure = parts.scheme == "wss"
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a WebSocket URL: {url}")
    port = parts.port or (443 if secure else 80)
    loop = asyncio.get_running_loop()
    context = ssl.create_default_context() if secure else None
    _, protocol = await loop.create_connection(
        lambda: _Protocol(on_message), parts.hostname, port, ssl=context
    )
    key = base64.b64encode(os.urandom(16)).decode()
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    if subprotocols:
        lines.append(f"Sec-WebSocket-Protocol: {', '.join(subprotocols)}")
    assert protocol.transport is not None
    protocol.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = await protocol.handshake
    return LeanWebSocket(protocol, _check_handshake(head, key, protocol))


def _check_handshake(head: bytes, key: str, protocol: _Protocol) -> str | None:
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = status_line.split(" ", 2)
    status = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    expected = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
    if status != 101 or headers.get("sec-websocket-accept") != expected:
        if protocol.transport is not None:
            protocol.transport.close()
        raise HandshakeError(status, fields[2] if len(fields) > 2 else "")
    return headers.get("sec-websocket-protocol")
