"""What a frame from a streaming endpoint is (no I/O): a delta, the whole text, or control.

One set of rules for every client in wsllm. A frame that is not a JSON object is a delta. A JSON
object's `type` decides the rest: `delta` and any `response.*.delta` event are deltas; `message`
and `response` carry the whole text; the types in CONTROL_TYPES and every other `response.*`
event of the Responses API are control frames; any other type is a delta.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import orjson

CONTROL_TYPES = frozenset(
    {
        "ready", "done", "error", "ping", "pong", "heartbeat", "keepalive", "status", "ack",
        "connected", "reconnect",
    }
)  # fmt: skip
TEXT_TYPES = frozenset({"message", "response"})


class Kind(IntEnum):
    """What a frame carries."""

    DELTA = 0
    TEXT = 1
    CONTROL = 2


def decode(data: str) -> tuple[Kind, dict[str, Any] | None]:
    """The frame's kind, and its JSON object if it is one."""
    if not data.startswith("{"):
        return Kind.DELTA, None
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        return Kind.DELTA, None
    if not isinstance(payload, dict):
        return Kind.DELTA, None
    return kind_of_type(payload.get("type")), payload


def kind_of_type(kind: object) -> Kind:
    """The kind of a JSON frame whose `type` is `kind`."""
    if not isinstance(kind, str) or kind == "delta":
        return Kind.DELTA
    if kind in TEXT_TYPES:
        return Kind.TEXT
    if kind in CONTROL_TYPES:
        return Kind.CONTROL
    if kind.startswith("response."):
        return Kind.DELTA if kind.endswith(".delta") else Kind.CONTROL
    return Kind.DELTA


def text_of(payload: dict[str, Any] | None, data: str) -> str:
    """The text a delta or whole-text frame carries (for counting characters)."""
    if payload is None:
        return data
    for key in ("output", "delta", "message", "text"):
        value = payload.get(key)
        if isinstance(value, str):
            return value
    return ""
