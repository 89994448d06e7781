"""The web application: routes, CORS as the seed's server allows it, and the backend's lifetime."""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable

from aiohttp import WSCloseCode, web

from wsllm.backends import Backend, create_backend
from wsllm.server.session import Mode, Session
from wsllm.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
BACKEND = web.AppKey("backend", Backend)
SESSIONS: web.AppKey[weakref.WeakSet[Session]] = web.AppKey("sessions")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_PREFLIGHT_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE"


def create_app(settings: Settings, backend: Backend | None = None) -> web.Application:
    """The server's application; it owns the backend and closes it on cleanup."""
    app = web.Application(middlewares=[cors_preflight])
    app[SETTINGS] = settings
    app[BACKEND] = backend if backend is not None else create_backend(settings)
    app[SESSIONS] = weakref.WeakSet[Session]()
    app.router.add_get("/health", health)
    app.router.add_get("/ws", _socket_route(Mode.WHOLE))
    app.router.add_get("/ws-stream", _socket_route(Mode.STREAM))
    app.on_response_prepare.append(_allow_any_origin)
    app.on_shutdown.append(_close_sockets)
    app.on_cleanup.append(_close_backend)
    return app


async def health(request: web.Request) -> web.Response:
    """`GET /health`: the process is up and serving."""
    return web.Response(body=b'{"status":"ok"}', content_type="application/json")


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


def _socket_route(mode: Mode) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        settings = request.app[SETTINGS]
        ws = web.WebSocketResponse(max_msg_size=_hard_frame_cap(settings), compress=False)
        if not ws.can_prepare(request).ok:
            return web.Response(status=426, text=f"{mode.value} is a WebSocket endpoint\n")
        await ws.prepare(request)
        transport = request.transport
        if transport is None:  # the client left during the handshake
            return ws
        session = Session(ws, transport, request.app[BACKEND], settings, mode)
        request.app[SESSIONS].add(session)
        await session.run()
        return ws

    return handler


def _hard_frame_cap(settings: Settings) -> int:
    # Frames over the limit get an error frame and the connection lives on; frames far over it
    # are refused while still arriving (close 1009), so nobody can make the server buffer them.
    return max(settings.max_frame_bytes * 4, settings.max_frame_bytes + 65536)


async def _close_sockets(app: web.Application) -> None:
    sessions: weakref.WeakSet[Session] = app[SESSIONS]
    for session in list(sessions):
        await session.close(WSCloseCode.GOING_AWAY, b"server shutting down")


async def _close_backend(app: web.Application) -> None:
    await app[BACKEND].aclose()
