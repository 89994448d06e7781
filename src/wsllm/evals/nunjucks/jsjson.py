"""JSON.stringify and JSON.parse, for the `dump` and `load` filters."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Any

from wsllm.evals.nunjucks.jsregex import JsRegExp
from wsllm.evals.nunjucks.limits import checked_text
from wsllm.evals.nunjucks.members import ordered_items
from wsllm.evals.nunjucks.numbers import number_text
from wsllm.evals.nunjucks.values import UNDEFINED, SafeStr, js_type, to_float, to_integer, to_str

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def indent_text(spaces: Any) -> str:
    """JSON.stringify's third argument: a count of spaces (at most 10) or a string's first 10
    characters; anything else means no indentation."""
    kind = js_type(spaces)
    if kind == "number":
        return " " * max(0, min(10, to_integer(to_float(spaces))))
    if kind == "string":
        return str(spaces)[:10]
    return ""


def stringify(value: Any, indent: str = "") -> Any:
    """JSON.stringify(value, null, indent): text, or undefined for undefined and functions."""
    if type(value) is str:
        return _string(value)  # the common `{{ prompt | dump }}`
    if _skipped(value):
        return UNDEFINED
    return checked_text(_write(value, indent, ""))


def _skipped(value: Any) -> bool:
    """What JSON.stringify leaves out: undefined and functions."""
    return value is UNDEFINED or js_type(value) == "function"


def _string(text: str) -> str:
    encoded: str = encode_basestring(text)
    if text.isascii() or not _LONE_SURROGATE.search(encoded):
        return encoded
    # JavaScript joins what pairs up and writes a lone surrogate as a \\u escape.
    joined = encoded.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", joined)


def _write(value: Any, step: str, at: str) -> str:
    kind = js_type(value)
    if kind == "string":
        return _string(value)
    if kind == "number":
        number = to_float(value)
        return number_text(value) if math.isfinite(number) else "null"
    if kind in ("boolean", "null"):
        return to_str(value)
    if isinstance(value, SafeStr):
        return _object([("val", str.__str__(value)), ("length", len(value))], step, at)
    if isinstance(value, list | tuple):
        parts = ["null" if _skipped(v) else _write(v, step, at + step) for v in value]
        return _join(parts, "[", "]", step, at)
    if isinstance(value, Mapping):
        return _object(ordered_items(value), step, at)
    if isinstance(value, JsRegExp):
        return "{}"
    return _string(str(value))


def _object(items: list[tuple[str, Any]], step: str, at: str) -> str:
    colon = ": " if step else ":"
    parts = [
        f"{_string(key)}{colon}{_write(item, step, at + step)}"
        for key, item in items
        if not _skipped(item)
    ]
    return _join(parts, "{", "}", step, at)


def _join(parts: list[str], start: str, end: str, step: str, at: str) -> str:
    if not parts:
        return start + end
    if not step:
        return start + ",".join(parts) + end
    inner = at + step
    return f"{start}\n{inner}" + f",\n{inner}".join(parts) + f"\n{at}{end}"


def parse(text: str) -> Any:
    """JSON.parse: strict JSON (no NaN, no Infinity); ValueError when it is not JSON."""

    def refuse(name: str) -> Any:
        raise ValueError(f"Unexpected token '{name[0]}', \"{name}\" is not valid JSON")

    return json.loads(text, parse_constant=refuse)
