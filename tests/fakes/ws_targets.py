"""WebSocket targets that misbehave on purpose, one per path, for the eval client's error paths.

/seed        the seed protocol: ready, deltas, message, done (text from the request's input)
/close-early ready, one delta, then a close
/garbage     ready, then frames that are not JSON
/stall       ready, one delta, then silence
/reject      refuses the handshake with 403
/echo-meta   one frame echoing the request's headers and subprotocol
/slow        the seed protocol with a pause before the first delta and between deltas
/echo/...    answers each frame with the text `<path>|<frame>` (not JSON), and no ready frame
/json/...    answers each frame with `{"path": <path>, "echo": <frame>}`
"""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import WSMsgType, web


async def _read_input(ws: web.WebSocketResponse) -> str:
    message = await ws.receive()
    if message.type is not WSMsgType.TEXT:
        return ""
    try:
        payload = orjson.loads(message.data)
    except orjson.JSONDecodeError:
        return str(message.data)
    return str(payload.get("input", "")) if isinstance(payload, dict) else str(payload)


async def _seed(ws: web.WebSocketResponse, pause: float = 0.0, gap: float = 0.0) -> None:
    await ws.send_json({"type": "ready", "message": "Connected"})
    while not ws.closed:
        text = await _read_input(ws)
        if not text:
            return
        words = [f"You said: {text}.", " Thanks", " for", " asking."]
        await asyncio.sleep(pause)
        for word in words:
            await ws.send_json({"type": "delta", "message": word, "output": word})
            await asyncio.sleep(gap)
        await ws.send_json({"type": "message", "message": "".join(words)})
        await ws.send_json({"type": "done"})


def app() -> web.Application:
    """The application serving every path above."""

    async def seed(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await _seed(ws)
        return ws

    async def slow(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await _seed(ws, pause=0.15, gap=0.05)
        return ws

    async def close_early(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "ready"})
        await _read_input(ws)
        await ws.send_json({"type": "delta", "message": "partial"})
        await ws.close(code=1011, message=b"boom")
        return ws

    async def garbage(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await _read_input(ws)
        await ws.send_str("<html>this is not json</html>")
        await ws.send_str("still not json")
        await asyncio.sleep(5)
        return ws

    async def stall(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "ready"})
        await _read_input(ws)
        await ws.send_json({"type": "delta", "message": "and then..."})
        await asyncio.sleep(30)
        return ws

    async def reject(request: web.Request) -> web.Response:
        return web.Response(status=403, text="forbidden")

    async def echo_meta(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("wsllm.v1",))
        await ws.prepare(request)
        text = await _read_input(ws)
        meta = {"authorization": request.headers.get("Authorization"), "protocol": ws.ws_protocol}
        await ws.send_json({"type": "message", "message": text, "meta": meta})
        return ws

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                break
            if request.path.startswith("/json"):
                await ws.send_json({"path": request.path, "echo": message.data})
            else:
                await ws.send_str(f"{request.path}|{message.data}")
        return ws

    application = web.Application()
    application.router.add_get("/echo/{tail:.*}", echo)
    application.router.add_get("/json/{tail:.*}", echo)
    for path, handler in {
        "/seed": seed, "/slow": slow, "/close-early": close_early, "/garbage": garbage,
        "/stall": stall, "/reject": reject, "/echo-meta": echo_meta,
    }.items():  # fmt: skip
        application.router.add_get(path, handler)
    return application
