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

from wsllm.backends import Backend, create_backend
from wsllm.server import auth, worker_metrics
from wsllm.server.connection import Mode
from wsllm.server.context import ServerContext
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
    app.router.add_get("/ws", _socket_route("/ws", _seed_session(Mode.WHOLE)))
    app.router.add_get("/ws-stream", _socket_route("/ws-stream", _seed_session(Mode.STREAM)))
    # OpenAI's clients send their key as a header: there is no first-message auth there.
    app.router.add_get(RESPONSES_PATH, _socket_route(RESPONSES_PATH, _responses_session, False))
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


def _refuse(ctx: ServerContext, status: int, reason: str, label: str) -> web.Response:
    ctx.metrics.rejected[label] += 1
    return web.Response(status=status, text=reason + "\n")


SessionFactory = Callable[
    [web.WebSocketResponse, asyncio.Transport, ServerContext, str, str | None], SocketSession[Any]
]


def _socket_route(path: str, make: SessionFactory, first_message_auth: bool = True) -> Handler:
    """A WebSocket endpoint: the handshake checks every path shares, then a session of its kind."""

    async def handler(request: web.Request) -> web.StreamResponse:
        ctx = request.app[CONTEXT]
        ws = web.WebSocketResponse(
            max_msg_size=_hard_frame_cap(ctx.settings), compress=False,
            heartbeat=ctx.settings.ping_interval or None, protocols=_protocols(request),
        )  # fmt: skip
        if not ws.can_prepare(request).ok:
            return web.Response(status=426, text=f"{path} is a WebSocket endpoint\n")
        client = client_of(request, ctx.settings)
        refused, identity = await _handshake_refusal(request, ctx, client, first_message_auth)
        if refused is not None:
            return refused
        await ws.prepare(request)
        transport = request.transport
        if transport is None:  # the client left during the handshake
            return ws
        await _serve_session(ctx, make(ws, transport, ctx, client, identity), client)
        return ws

    return handler


def client_of(request: web.Request, settings: Settings) -> str:
    """The client's address: the peer's, or behind a trusted proxy the one it forwarded."""
    peer = request.remote or "unknown"
    if peer not in settings.proxy_set:
        return peer
    forwarded = request.headers.get("X-Forwarded-For", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    return hops[-1] if hops else peer


async def _handshake_refusal(request: web.Request, ctx: ServerContext, client: str,
                             first_message_auth: bool
                             ) -> tuple[web.Response | None, str | None]:  # fmt: skip
    """The answer refusing this upgrade, if any; else who the client is."""
    if not auth.origin_ok(request.headers.get("Origin"), ctx.settings.origin_set):
        return _refuse(ctx, 403, "this origin may not connect", "origin"), None
    if ctx.draining:
        return _refuse(ctx, 503, "the server is shutting down", "shutting_down"), None
    elsewhere = 0
    shared = ctx.hub.shared
    if shared is not None and ctx.settings.max_connections_per_client:
        everywhere = await shared.connections(client)  # None: Redis cannot say; count here
        elsewhere = max(0, (everywhere or 0) - ctx.limits.held_by(client))
    refusal = ctx.limits.refusal(client, elsewhere)
    if refusal is not None:
        return _refuse(ctx, refusal[0], refusal[1], "connection_limit"), None
    identity, refused = _identify(request, ctx.settings)
    if refused or (identity is None and not first_message_auth):
        return _refuse(ctx, 401, "the API key is missing or not valid", "unauthorized"), None
    return None, identity


def _seed_session(mode: Mode) -> SessionFactory:
    def make(ws: web.WebSocketResponse, transport: asyncio.Transport, ctx: ServerContext,
             client: str, identity: str | None) -> SocketSession[Any]:  # fmt: skip
        return SeedSession(ws, transport, ctx, mode, client, identity)

    return make


def _responses_session(ws: web.WebSocketResponse, transport: asyncio.Transport,
                       ctx: ServerContext, client: str, identity: str | None
                       ) -> SocketSession[Any]:  # fmt: skip
    return ResponsesSession(ws, transport, ctx)


async def _serve_session(ctx: ServerContext, session: SocketSession[Any], client: str) -> None:
    ctx.limits.opened(client)
    if ctx.hub.shared is not None:
        ctx.hub.shared.connection_changed(client, +1)
    ctx.sessions.add(session)
    ctx.metrics.connections_open += 1
    ctx.metrics.connections_total += 1
    try:
        await session.run()
    finally:
        ctx.metrics.connections_open -= 1
        ctx.sessions.discard(session)
        ctx.limits.closed(client)
        if ctx.hub.shared is not None:
            ctx.hub.shared.connection_changed(client, -1)


def _protocols(request: web.Request) -> tuple[str, ...]:
    """The subprotocols we accept: `wsllm`, and a `bearer.KEY` the client offered alone."""
    offered = auth.offered_protocols(request.headers)
    bearer = [p for p in offered if p.startswith(auth.BEARER_PREFIX)]
    return (auth.SUBPROTOCOL, *bearer[:1])


def _identify(request: web.Request, settings: Settings) -> tuple[str | None, bool]:
    """(who, refused): the key's identity if one came with the handshake; refused if it is wrong."""
    keys = settings.key_set
    if not keys:
        return "anonymous", False
    token = auth.header_token(request.headers) or auth.protocol_token(
        auth.offered_protocols(request.headers)
    )
    if token is None:
        return None, False  # it may still come in the first message
    if not auth.key_ok(token, keys):
        return None, True
    return auth.identity_of(token), False


def _hard_frame_cap(settings: Settings) -> int:
    # Frames over the limit get an error frame and the connection lives on; frames far over it
    # are refused while still arriving (close 1009), so nobody can make the server buffer them.
    return max(settings.max_frame_bytes * 4, settings.max_frame_bytes + 65536)


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
