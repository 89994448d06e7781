"""API keys: where a client may put one, and checking it in constant time (no I/O).

Keys come by `Authorization: Bearer KEY`, by a WebSocket subprotocol `bearer.KEY` (browsers cannot
set headers), or in a first message `{"type": "auth", "token": KEY}`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

SUBPROTOCOL = "wsllm"
BEARER_PREFIX = "bearer."


def header_token(headers: Mapping[str, str]) -> str | None:
    """The key of an `Authorization: Bearer` header."""
    value = headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def offered_protocols(headers: Mapping[str, str]) -> list[str]:
    """The subprotocols the client offered."""
    return [p.strip() for p in headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]


def protocol_token(protocols: Iterable[str]) -> str | None:
    """The key of a `bearer.KEY` subprotocol."""
    for protocol in protocols:
        if protocol.startswith(BEARER_PREFIX) and len(protocol) > len(BEARER_PREFIX):
            return protocol[len(BEARER_PREFIX) :]
    return None


def key_ok(token: str, keys: Iterable[str]) -> bool:
    """Whether `token` is one of `keys`, compared in constant time."""
    given = token.encode()
    return any(hmac.compare_digest(given, key.encode()) for key in keys)


ANONYMOUS = "anonymous"  # who everyone is while auth is off


def identity_of(token: str) -> str:
    """Who a key's holder is, for rate limits and for the streams bound to them; the key itself
    never appears (logs show this)."""
    return "key:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def origin_ok(origin: str | None, allowed: frozenset[str]) -> bool:
    """Whether a browser's Origin may connect: any when no list is set; non-browsers always."""
    return not allowed or origin is None or origin in allowed
