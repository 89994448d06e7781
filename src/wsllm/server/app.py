"""The web application: routes, handshake checks, CORS as the seed's server allows it, and the
backend's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web
from websockets.server import ServerProtocol

from wsllm.backends import Backend, create_backend
from wsllm.server import worker_metrics
from wsllm.server.connection import Mode
from wsllm.server.context import ServerContext
from wsllm.server.entry import Route, SessionFactory
from wsllm.server.responses_ws import PATH as RESPONSES_PATH
from wsllm.server.responses_ws import ResponsesSession
from wsllm.server.seed import SeedSession
from wsllm.server.session import SocketSession
from wsllm.settings import Settings

CONTEXT: web.AppKey[ServerContext] = web.AppKey("context")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_PREFLIGHT_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE"
log = logging.getLogger("wsllm.server")


def create_app(settings: Settings, backend: Backend | None = None) -> web.Application:
    """The server's application; it owns the backend and closes it on cleanup."""
    app = web.Application(middlewares=[cors_preflight])
    app[CONTEXT] = ServerContext(
        settings, backend if backend is not None else create_backend(settings)
    )
    app.router.add_get("/", chat_page)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    for path in websocket_routes():
        app.router.add_get(path, _websocket_only(path))
    app.on_response_prepare.append(_allow_any_origin)
    if settings.redis_url:
        app.on_startup.append(_share_streams)
    if worker_metrics.folder() is not None:
        app.cleanup_ctx.append(_write_worker_metrics)
    app.on_shutdown.append(drain)
    app.on_cleanup.append(_close_backend)
    return app


async def _write_worker_metrics(app: web.Application) -> AsyncIterator[None]:
    where = worker_metrics.folder()
    assert where is not None
    task = asyncio.create_task(worker_metrics.keep_writing(app[CONTEXT].metrics, where))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _share_streams(app: web.Application) -> None:
    from wsllm.server.shared import SharedEngine  # Redis is loaded only by nodes that use it

    ctx = app[CONTEXT]
    assert ctx.settings.redis_url
    shared = SharedEngine(ctx.settings.redis_url, ctx.settings.resume_ttl,
                           ctx.settings.resume_grace)  # fmt: skip
    ctx.hub.shared = shared
    await shared.start(ctx.hub)


async def health(request: web.Request) -> web.Response:
    """`GET /health`: the process is up and serving, and which backend and model answer."""
    ctx = request.app[CONTEXT]
    body = {"status": "ok", "backend": ctx.backend.name, "model": ctx.settings.model}
    if ctx.hub.shared is not None:
        body["redis"] = "ok" if ctx.hub.shared.healthy else "down: streams stay on this node"
    return web.json_response(body)


async def metrics(request: web.Request) -> web.Response:
    """`GET /metrics`: Prometheus text format."""
    counts = request.app[CONTEXT].metrics
    where = worker_metrics.folder()
    if where is not None:  # one worker of several: the answer is the whole server's
        counts = counts.merged(worker_metrics.others(where))
    text = counts.render()
    return web.Response(text=text, content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})  # fmt: skip


async def chat_page(request: web.Request) -> web.Response:
    """`GET /`: a chat page that streams from `/ws-stream`."""
    page = resources.files("wsllm.server").joinpath("chat.html").read_text()
    return web.Response(text=page, content_type="text/html")


@web.middleware
async def cors_preflight(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer CORS preflight requests from any origin, as the seed's `cors()` does."""
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return await handler(request)
    headers = {"Access-Control-Allow-Methods": _PREFLIGHT_METHODS, "Content-Length": "0"}
    asked = request.headers.get("Access-Control-Request-Headers")
    if asked:
        headers["Access-Control-Allow-Headers"] = asked
        headers["Vary"] = "Access-Control-Request-Headers"
    return web.Response(status=204, headers=headers)


async def _allow_any_origin(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Access-Control-Allow-Origin", "*")
    # One request per HTTP connection: the listener decides at a connection's first request
    # whether it is a WebSocket, so a kept-alive connection could not upgrade later.
    response.force_close()


def _websocket_only(path: str) -> Handler:
    """What aiohttp answers on a WebSocket path: upgrades are served by the listener's own
    protocol (`server/entry.py`) before aiohttp sees them; anything else is told to upgrade."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=426, text=f"{path} is a WebSocket endpoint\n",
                            headers={"Upgrade": "websocket"})  # fmt: skip

    return handler


def websocket_routes() -> dict[str, Route]:
    """The WebSocket paths and the session each makes."""

    def seed(mode: Mode) -> SessionFactory:
        def make(transport: asyncio.Transport, ws: ServerProtocol, ctx: ServerContext,
                 client: str, identity: str | None) -> SocketSession[Any]:  # fmt: skip
            return SeedSession(transport, ws, ctx, mode, client, identity)

        return make

    def responses(transport: asyncio.Transport, ws: ServerProtocol, ctx: ServerContext,
                  client: str, identity: str | None) -> SocketSession[Any]:  # fmt: skip
        return ResponsesSession(transport, ws, ctx, client, identity)

    # OpenAI's clients send their key as a header: there is no first-message auth there.
    return {"/ws": Route(seed(Mode.WHOLE)), "/ws-stream": Route(seed(Mode.STREAM)),
            RESPONSES_PATH: Route(responses, first_message_auth=False)}  # fmt: skip


async def drain(app: web.Application) -> None:
    """Stop taking requests, let running ones finish up to the drain timeout, close with 1001.

    With Redis, clients are handed to another node instead: idle ones at once, streaming ones
    (`reconnect` with their stream and place) shortly before the timeout, while their streams go
    on here to the end of it and every node can replay them.
    """
    ctx = app[CONTEXT]
    ctx.draining = True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ctx.settings.drain_timeout
    sessions = list(ctx.sessions)
    handoff = ctx.hub.shared is not None
    wait = ctx.settings.drain_timeout - (min(2.0, ctx.settings.drain_timeout / 4) if handoff else 0)
    if sessions:
        busy = sum(s.busy for s in sessions)
        log.info("draining %d connections (%d with a request running)", len(sessions), busy)
        await asyncio.gather(*(s.drain(wait) for s in sessions), return_exceptions=True)
    await ctx.hub.finish(deadline - loop.time())


async def _close_backend(app: web.Application) -> None:
    ctx = app[CONTEXT]
    if ctx.hub.shared is not None:
        await ctx.hub.shared.stop()
    await ctx.backend.aclose()
