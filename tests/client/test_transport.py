"""The client transport: against aiohttp's server, and against a raw peer that fragments,
pings, sends bad UTF-8 and closes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct

import pytest

from tests.conftest import ServerFactory, ws_url
from wsllm.client.transport import connect
from wsllm.errors import ConnectionClosed, HandshakeError


def mask(payload: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


async def test_talks_to_a_real_server(start_server: ServerFactory) -> None:
    base = await start_server()
    frames: list[str] = []
    got_done = asyncio.Event()

    def on_message(data: str, size: int, at: float) -> None:
        frames.append(data)
        if '"done"' in data:
            got_done.set()

    ws = await connect(ws_url(base, "/ws-stream"), on_message)
    ws.send_text('{"input": "hello"}')
    await asyncio.wait_for(got_done.wait(), 10)
    ws.close()
    assert frames[0].startswith('{"type":"ready"')
    assert sum('"delta"' in f for f in frames) == 8


async def test_a_refused_handshake_raises_with_the_status(ws_targets: str) -> None:
    with pytest.raises(HandshakeError) as caught:
        await connect(f"{ws_targets}/reject", lambda data, size, at: None)
    assert caught.value.status == 403


async def test_fragments_pings_and_close_from_a_raw_peer() -> None:
    received: list[str] = []
    pong = asyncio.get_running_loop().create_future()

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b": ")[1]
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key")
        )
        accept = base64.b64encode(
            hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
        )
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")  # fmt: skip
        writer.write(
            b"\x01\x03hel" + b"\x89\x02hi" + b"\x80\x02lo"
        )  # text fragment, ping, final fragment
        long_text = b"x" * 300
        writer.write(b"\x81\x7e" + struct.pack("!H", 300) + long_text)
        header = await reader.readexactly(2)
        if header[0] & 0x0F == 0xA:
            masked = await reader.readexactly(4 + (header[1] & 0x7F))
            pong.set_result(mask(masked[4:], masked[:4]))
        writer.write(b"\x88\x02\x03\xe9")  # close 1001
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        ws = await connect(f"ws://127.0.0.1:{port}/", lambda data, size, at: received.append(data))
        assert await asyncio.wait_for(pong, 5) == b"hi"
        assert await asyncio.wait_for(ws.closed, 5) == 1001
    assert received == ["hello", "x" * 300]
    with pytest.raises(ConnectionClosed):
        ws.send_text("too late")


async def serve_raw(script: bytes) -> tuple[asyncio.Server, int]:
    """A peer that completes the handshake, then writes `script` and waits."""

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b": ")[1]
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key")
        )
        accept = base64.b64encode(
            hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
        )
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + script)  # fmt: skip
        await writer.drain()
        await reader.read()  # until the client closes
        writer.close()

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_invalid_utf8_closes_the_connection_with_1007_and_delivers_nothing() -> None:
    received: list[str] = []
    server, port = await serve_raw(b"\x81\x02\xc3\x28")
    async with server:
        ws = await connect(f"ws://127.0.0.1:{port}/", lambda data, size, at: received.append(data))
        await asyncio.wait_for(ws.closed, 5)
    assert received == []


async def test_the_client_closes_with_a_close_handshake(start_server: ServerFactory) -> None:
    base = await start_server()
    ws = await connect(ws_url(base, "/ws-stream"))
    ws.close()
    assert await asyncio.wait_for(ws.closed, 5) == 1000  # the server echoed our close frame


async def test_no_subprotocol_header_is_sent_when_none_is_offered() -> None:
    heads: list[bytes] = []

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        with pytest.raises(HandshakeError):
            await connect(f"ws://127.0.0.1:{port}/")
        with pytest.raises(HandshakeError):
            await connect(f"ws://127.0.0.1:{port}/", subprotocols=("wsllm",))
    assert b"sec-websocket-protocol" not in heads[0].lower()  # an empty one is refused by ws
    assert b"Sec-WebSocket-Protocol: wsllm" in heads[1]
