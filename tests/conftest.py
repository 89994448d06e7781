"""Shared fixtures: the server and the fake upstream on 127.0.0.1 port 0, and a WebSocket client."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from tests.fakes.openai_upstream import FakeOpenAI
from wsllm.server.app import CONTEXT, create_app
from wsllm.server.run import WsllmSite
from wsllm.settings import Settings, load_settings

Frame = dict[str, Any]

# The simulated model at full speed, so tests wait on nothing but the code under test.
INSTANT = {"sim_ttft_ms": "0", "sim_itl_ms": "0", "sim_tokens": "8"}


@asynccontextmanager
async def running(app: web.Application) -> AsyncIterator[str]:
    """Serve `app` on 127.0.0.1 port 0; yield its base URL."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def running_server(app: web.Application) -> AsyncIterator[str]:
    """Serve wsllm's own `app` as `wsllm serve` does (its listener serves the WebSocket paths)
    on 127.0.0.1 port 0; yield its base URL."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    sock = socket.create_server(("127.0.0.1", 0))
    sock.setblocking(False)
    await WsllmSite(runner, sock, app[CONTEXT]).start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await runner.cleanup()


def make_settings(**overrides: Any) -> Settings:
    """Settings from the given overrides only: no environment, no .env file."""
    return load_settings({**INSTANT, **overrides}, environ={}, env_file=None)


ServerFactory = Callable[..., Awaitable[str]]


@pytest.fixture
async def start_server() -> AsyncIterator[ServerFactory]:
    """Start a wsllm server with settings overrides; returns its base URL. Stopped at teardown."""
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> str:
            app = create_app(make_settings(**overrides))
            url: str = await stack.enter_async_context(running_server(app))
            return url

        yield start


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    """The fake OpenAI upstream, served on 127.0.0.1 port 0."""
    fake = FakeOpenAI()
    async with running(fake.app()) as url:
        fake.base_url = f"{url}/v1"
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A real HTTP and WebSocket client."""
    async with aiohttp.ClientSession() as session:
        yield session


def ws_url(base: str, path: str) -> str:
    """The ws:// URL of `path` on a server whose base is `base`."""
    return base.replace("http://", "ws://") + path


async def receive(ws: aiohttp.ClientWebSocketResponse) -> Frame:
    """The next frame, parsed; fails the test if it is not a JSON text frame."""
    message = await ws.receive(timeout=10)
    assert message.type is aiohttp.WSMsgType.TEXT, message
    frame: Frame = orjson.loads(message.data)
    return frame


async def until_end(ws: aiohttp.ClientWebSocketResponse, raw: bool = False) -> list[Frame]:
    """Frames of one request, up to and including its `done` or `error`; without their stream
    bookkeeping (`seq`, `stream`: tests/server/test_resume.py reads those) unless `raw`."""
    frames: list[Frame] = []
    while not frames or frames[-1]["type"] not in ("done", "error"):
        frames.append(await receive(ws))
    if raw:
        return frames
    return [{k: v for k, v in f.items() if k not in ("seq", "stream")} for f in frames]


async def ask(ws: aiohttp.ClientWebSocketResponse, payload: str | Frame) -> list[Frame]:
    """Send one request frame and collect its frames."""
    await ws.send_str(payload if isinstance(payload, str) else orjson.dumps(payload).decode())
    return await until_end(ws)


@pytest.fixture
async def ws_targets() -> AsyncIterator[str]:
    """The misbehaving WebSocket targets; yields their ws:// base URL."""
    from tests.fakes.ws_targets import app

    async with running(app()) as url:
        yield url.replace("http://", "ws://")


@pytest.fixture
async def fake_grader() -> AsyncIterator[Any]:
    """The fake grading model, served on 127.0.0.1 port 0."""
    from tests.fakes.grader_upstream import FakeGrader

    fake = FakeGrader()
    async with running(fake.app()) as url:
        fake.base_url = f"{url}/v1"
        yield fake
