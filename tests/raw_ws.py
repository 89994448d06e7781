"""A raw WebSocket client on a plain socket, for tests that need a client that misbehaves:
one that never reads, or never answers pings."""

from __future__ import annotations

import asyncio
import base64
import os
import socket

from websockets.frames import Frame, Opcode


async def raw_connect(base: str, path: str, receive_buffer: int | None = None
                      ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:  # fmt: skip
    """Open a socket (with a kernel receive buffer of `receive_buffer` bytes, to make a client
    that falls behind soon), send the upgrade, read the 101 response; return the streams."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


def client_frame(payload: bytes, opcode: Opcode = Opcode.TEXT) -> bytes:
    """A final, masked client frame."""
    return Frame(opcode, payload).serialize(mask=True)


def send_text(writer: asyncio.StreamWriter, text: str) -> None:
    """Send one masked text frame."""
    writer.write(client_frame(text.encode()))


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The next frame's opcode and payload (server frames are not masked)."""
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    return first & 0x0F, await reader.readexactly(length)
