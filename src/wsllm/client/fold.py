"""Fold a target's frames into one response, as promptfoo's WebSocket provider does (no I/O).

With a `streamResponse` function every frame goes to it until it says the response is done;
without one, the first frame is the response (shaped by `transformResponse`, if any). Results
are read with promptfoo's rule: an object with a truthy `output` or `error` is the response as
it is; anything else is the output.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from wsllm.errors import TargetError


class FoldCall(Protocol):
    """One call's run of a streamResponse function, holding its accumulator."""

    def step(self, data: str) -> tuple[bool, Any]:
        """Feed one frame; (done, the response so far)."""
        ...

    def close(self) -> None:
        """Release the accumulator."""
        ...


class StreamFunction(Protocol):
    """A compiled streamResponse function."""

    def start(self, context: dict[str, Any]) -> FoldCall:
        """Begin one call with its context."""
        ...


Transform = Callable[[Any], Any]


def process_result(value: Any) -> dict[str, Any]:
    """promptfoo's processResult: an object with a truthy output or error as is, else the output."""
    if isinstance(value, dict) and (truthy(value.get("output")) or truthy(value.get("error"))):
        return value
    return {"output": value}


def truthy(value: Any) -> bool:
    """JavaScript's truthiness for JSON values."""
    return value is not None and value is not False and value != "" and value != 0


class Fold:
    """Folds one call's frames into a response."""

    def __init__(self, stream: StreamFunction | None, transform: Transform | None,
                 context: dict[str, Any]) -> None:  # fmt: skip
        self._transform = transform
        self._call = stream.start(context) if stream is not None else None
        self._frames = 0

    def step(self, data: str) -> dict[str, Any] | None:
        """Feed one frame; the response once complete, else None."""
        self._frames += 1
        if self._call is None:
            return process_result(self._transform_first(data))
        try:
            done, response = self._call.step(data)
        except Exception as exc:  # a ScriptError, or anything a Python function raised
            shown = data if len(data) <= 120 else data[:117] + "..."
            raise TargetError(
                f"Error executing streamResponse function: {exc} (on frame {self._frames}: "
                f"{json.dumps(shown, ensure_ascii=False)})"
            ) from exc
        if not done:
            return None
        self.close()
        return process_result(response)

    def _transform_first(self, data: str) -> Any:
        try:
            parsed: Any = orjson.loads(data)
        except orjson.JSONDecodeError:
            parsed = data
        if self._transform is None:
            return parsed
        try:
            return self._transform(parsed)
        except Exception as exc:
            raise TargetError(f"Failed to process response: {exc}") from exc

    def close(self) -> None:
        """Release the accumulator of an unfinished stream."""
        if self._call is not None:
            self._call.close()
            self._call = None
