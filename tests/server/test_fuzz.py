"""Random and malformed input at the server: it never crashes, never leaks a stack trace, and
keeps serving."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_settings, running_server, ws_url
from wsllm.server.app import create_app

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
messages = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200),
    json_values.map(lambda v: orjson.dumps(v).decode()),
    st.fixed_dictionaries(
        {},
        optional={
            "input": json_values | st.text(max_size=50),
            "type": st.sampled_from(["cancel", "ping", "reset", "auth", "request", "x", ""])
            | json_values,
            "id": json_values,
            "continue": json_values,
            "token": json_values,
        },
    ).map(lambda v: orjson.dumps(v).decode()),
)

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def fuzz(test: Callable[..., None]) -> Callable[..., None]:
    return SETTINGS(test)


@fuzz
@given(batch=st.lists(messages, min_size=1, max_size=12))
def test_random_frames_never_break_the_server(batch: list[str | bytes]) -> None:
    asyncio.run(_frames(batch))


async def _frames(batch: list[str | bytes]) -> None:
    settings_ = make_settings(max_frame_bytes="150", busy="queue")
    async with running_server(create_app(settings_)) as base, aiohttp.ClientSession() as http:
        async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
            for message in batch:
                await (
                    ws.send_bytes(message) if isinstance(message, bytes) else ws.send_str(message)
                )
            await ws.send_json({"type": "ping", "id": "end-marker"})
            while True:
                reply = await ws.receive(timeout=10)
                assert reply.type is aiohttp.WSMsgType.TEXT, reply
                assert "Traceback" not in reply.data
                frame = orjson.loads(reply.data)
                assert frame["type"] in ("ready", "delta", "message", "done", "error", "pong")
                if frame.get("code") == "internal_error":
                    raise AssertionError(frame)
                if frame == {"type": "pong", "id": "end-marker"}:
                    break
        async with http.ws_connect(ws_url(base, "/ws")) as ws:
            await ws.receive(timeout=10)
            await ws.send_json({"input": "still serving?"})
            assert orjson.loads((await ws.receive(timeout=10)).data)["type"] == "response"


@fuzz
@given(chunks=st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=5))
def test_random_bytes_at_the_http_port(chunks: list[bytes]) -> None:
    asyncio.run(_bytes(chunks))


async def _bytes(chunks: list[bytes]) -> None:
    async with running_server(create_app(make_settings())) as base, aiohttp.ClientSession() as http:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        for chunk in chunks:
            writer.write(chunk)
        writer.write(b"\r\n\r\n")
        try:
            answer = await asyncio.wait_for(reader.read(4096), 5)
        except (TimeoutError, ConnectionError):
            answer = b""
        writer.close()
        assert b"Traceback" not in answer
        assert not answer or answer.startswith(b"HTTP/1.")
        async with http.get(f"{base}/health") as response:
            assert response.status == 200
