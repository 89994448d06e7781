"""Who may read the viewer: a Host check against DNS rebinding, and a token when one is set.

A web page on any site can make a browser send requests to 127.0.0.1, and with DNS rebinding it
can read the answers: its own host name, resolving first to its server and then to 127.0.0.1,
reaches the viewer with a `Host` header that names the attacker's domain. So the viewer answers
only to the names it is known by: `localhost`, IP addresses (a rebinding attack needs a domain
name), this machine's host name and the names given with `--allow-host`.

With WSLLM_VIEW_TOKEN set (required when serving beyond loopback), every request must carry the
token: `?token=` once (it becomes a cookie, and the page drops it from the address bar), the
cookie, or an `Authorization: Bearer` header.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
COOKIE = "wsllm_view_token"
TOKEN_VARIABLE = "WSLLM_VIEW_TOKEN"


@dataclass(frozen=True, slots=True)
class Access:
    """The names the viewer answers to, and the token it asks for (None: no token)."""

    token: str | None = None
    names: frozenset[str] = frozenset()

    @classmethod
    def of(cls, token: str | None, allowed: Iterable[str] = ()) -> Access:
        """The names given plus this machine's host name; an empty token counts as none."""
        names = {name.lower().rstrip(".") for name in allowed}
        names.add(socket.gethostname().lower())
        return cls(token or None, frozenset(names))


def is_loopback(host: str) -> bool:
    """Whether binding to `host` keeps the viewer on this machine."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a Host header, without its port: `[::1]:80` -> `::1`, `a.b:80` -> `a.b`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def host_allowed(header: str, access: Access) -> bool:
    """Whether a request naming `header` as its Host may be answered."""
    name = host_name(header).rstrip(".")
    if name == "localhost" or name.endswith(".localhost") or name in access.names:
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _given_token(request: web.Request) -> tuple[str | None, bool]:
    """The token the request carries, and whether it came in the query string."""
    if "token" in request.query:
        return request.query["token"], True
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    return request.cookies.get(COOKIE), False


def _same(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def _refusal(request: web.Request, status: int, message: str) -> web.Response:
    if request.path.startswith("/api/"):
        return web.json_response({"error": message}, status=status)
    return web.Response(status=status, text=f"wsllm view: {message}\n", content_type="text/plain")


def guard(access: Access) -> Middleware:
    """The middleware that applies `access` to every request."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not host_allowed(request.headers.get("Host", ""), access):
            return _refusal(request, 403, _WRONG_HOST.format(json.dumps(request.host)))
        if access.token is None:
            return await handler(request)
        given, in_query = _given_token(request)
        if not _same(given, access.token):
            return _refusal(request, 401, _NO_TOKEN)
        if in_query and request.method == "GET" and not request.path.startswith("/api/"):
            raise _to_cookie(request, access.token)
        return await handler(request)

    return check


def _to_cookie(request: web.Request, token: str) -> web.HTTPFound:
    """Keep the token in a cookie and drop it from the address bar (and so from history)."""
    query = request.rel_url.query.copy()
    query.popall("token")
    redirect = web.HTTPFound(request.rel_url.with_query(query))
    redirect.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
    return redirect


_WRONG_HOST = (
    "this viewer answers to localhost, IP addresses and the names given with --allow-host; "
    "the request named {} (refused: a page on another site may be trying to read it)"
)
_NO_TOKEN = (
    f"this viewer needs its token ({TOKEN_VARIABLE}): open the page once as /?token=YOUR_TOKEN, "
    "or send the header `Authorization: Bearer YOUR_TOKEN`"
)
