"""Whether a WebSocket upgrade may go ahead, and who the client is (no I/O but Redis's count).

The same checks on every WebSocket path: the browser's Origin, a draining server, connection
limits (across every node with Redis), and the API key from a header or a subprotocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wsllm.server import auth
from wsllm.server.context import ServerContext
from wsllm.settings import Settings


@dataclass(frozen=True, slots=True)
class Refusal:
    """An upgrade refused: the HTTP answer, and the reason counted in the metrics."""

    status: int
    text: str
    label: str


def client_of(peer: str, headers: Mapping[str, str], settings: Settings) -> str:
    """The client's address: the peer's, or behind a trusted proxy the one it forwarded."""
    if peer not in settings.proxy_set:
        return peer
    hops = [hop.strip() for hop in headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
    return hops[-1] if hops else peer


def subprotocol(offered: list[str]) -> str | None:
    """The subprotocol we answer with: `wsllm`, else the `bearer.KEY` the client offered."""
    if auth.SUBPROTOCOL in offered:
        return auth.SUBPROTOCOL
    bearer = [p for p in offered if p.startswith(auth.BEARER_PREFIX)]
    return bearer[0] if bearer else None


def identify(headers: Mapping[str, str], settings: Settings) -> tuple[str | None, bool]:
    """(who, refused): the key's identity if one came with the handshake; refused if it is wrong."""
    keys = settings.key_set
    if not keys:
        return auth.ANONYMOUS, False
    token = auth.header_token(headers) or auth.protocol_token(auth.offered_protocols(headers))
    if token is None:
        return None, False  # it may still come in the first message
    if not auth.key_ok(token, keys):
        return None, True
    return auth.identity_of(token), False


async def decide(headers: Mapping[str, str], client: str, ctx: ServerContext,
                 first_message_auth: bool) -> Refusal | str | None:  # fmt: skip
    """A Refusal, or the client's identity (None: it must authenticate in its first message)."""
    settings = ctx.settings
    if not auth.origin_ok(headers.get("Origin"), settings.origin_set):
        return Refusal(403, "this origin may not connect", "origin")
    if ctx.draining:
        return Refusal(503, "the server is shutting down", "shutting_down")
    elsewhere = 0
    shared = ctx.hub.shared
    if shared is not None and settings.max_connections_per_client:
        everywhere = await shared.connections(client)  # None: Redis cannot say; count here
        elsewhere = max(0, (everywhere or 0) - ctx.limits.held_by(client))
    refused = ctx.limits.refusal(client, elsewhere)
    if refused is not None:
        return Refusal(refused[0], refused[1], "connection_limit")
    identity, wrong = identify(headers, settings)
    if wrong or (identity is None and not first_message_auth):
        return Refusal(401, "the API key is missing or not valid", "unauthorized")
    return identity


def hard_frame_cap(settings: Settings) -> int:
    """The largest message read at all (frames over it close the connection with 1009)."""
    # Frames over the limit get an error frame and the connection lives on; frames far over it
    # are refused while still arriving, so nobody can make the server buffer them.
    return max(settings.max_frame_bytes * 4, settings.max_frame_bytes + 65536)
