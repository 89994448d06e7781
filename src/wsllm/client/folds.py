"""Built-in `streamResponse` folds, named instead of written: `streamResponse: wsllm:responses`
folds OpenAI's Responses API WebSocket mode, `wsllm:seed` the seed protocol of `/ws-stream`.

Each does what the JavaScript fold in the examples does (a config that promptfoo also runs keeps
the JavaScript), with no JavaScript engine to start. Frames that are not JSON, or of a type the
fold does not know, are passed over, as the JavaScript folds pass them over.
"""

from __future__ import annotations

from typing import Any

import orjson

PREFIX = "wsllm:"


class _Call:
    """One call's fold: the text so far, and the response once the stream has ended."""

    __slots__ = ("_text",)

    def __init__(self) -> None:
        self._text = ""

    def step(self, data: str) -> tuple[bool, Any]:
        """Feed one frame; (done, the response)."""
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return False, None
        if not isinstance(event, dict):
            return False, None
        return self._event(event)

    def _event(self, event: dict[str, Any]) -> tuple[bool, Any]:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing held outside Python."""


class _ResponsesCall(_Call):
    __slots__ = ()

    def _event(self, event: dict[str, Any]) -> tuple[bool, Any]:
        kind = event.get("type")
        if kind == "response.output_text.delta":
            self._text += str(event.get("delta", ""))
            return False, None
        if kind == "response.completed":
            return True, {"output": self._text}
        if kind in ("response.failed", "response.incomplete"):
            return True, {"error": _ended_early(kind, event.get("response") or {})}
        if kind == "error":
            error = event.get("error") or {}
            return True, {"error": f"{error.get('code')}: {error.get('message')}"}
        return False, None


def _ended_early(kind: str, response: dict[str, Any]) -> str:
    if kind == "response.incomplete":
        details = response.get("incomplete_details") or {}
        return f"incomplete: {details.get('reason') or 'the response did not finish'}"
    error = response.get("error") or {}
    return f"{error.get('code') or 'failed'}: {error.get('message') or 'the response failed'}"


class _SeedCall(_Call):
    __slots__ = ()

    def _event(self, event: dict[str, Any]) -> tuple[bool, Any]:
        kind = event.get("type")
        if kind == "delta":
            self._text += str(event.get("message", ""))
            return False, None
        if kind in ("message", "response"):
            return True, {"output": str(event.get("message", ""))}
        if kind == "error":
            return True, {"error": f"{event.get('code')}: {event.get('message')}"}
        return False, None


class BuiltinFold:
    """A named fold, used where a compiled streamResponse function would be."""

    def __init__(self, call: type[_Call]) -> None:
        self._call = call

    def start(self, context: dict[str, Any]) -> _Call:
        """Begin one call."""
        return self._call()


BUILTIN = {
    "wsllm:responses": BuiltinFold(_ResponsesCall),
    "wsllm:seed": BuiltinFold(_SeedCall),
}


def builtin_fold(source: str) -> BuiltinFold | None:
    """The built-in fold `source` names, if it names one."""
    return BUILTIN.get(source.strip())
