"""JavaScript's way of writing values, for the places where promptfoo's output is JavaScript's:
`JSON.stringify` (key order, number format, indentation), `JSON.parse` and `String()` of a
number. The template engine's own implementations (`evals/nunjucks/`) serve here too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wsllm.evals.nunjucks import jsjson
from wsllm.evals.nunjucks.numbers import number_text

__all__ = ["map_strings", "number_text", "parse_json", "stringify"]


def stringify(value: Any, indent: int = 0) -> str:
    """`JSON.stringify(value, null, indent)` of a value read from JSON or YAML."""
    return str(jsjson.stringify(value, " " * indent))


def parse_json(text: str) -> Any:
    """`JSON.parse`: strict JSON (no NaN or Infinity); ValueError when it is not."""
    return jsjson.parse(text)


def map_strings(value: Any, change: Callable[[str], Any]) -> Any:
    """A value read from JSON or YAML with `change` applied to every string in it (object keys
    stay as they are): how a chat prompt's or a config's strings are each rendered."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [map_strings(item, change) for item in value]
    if isinstance(value, dict):
        return {key: map_strings(item, change) for key, item in value.items()}
    return value
