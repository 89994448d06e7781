"""JavaScript's way of writing values, for the places where promptfoo's output is JavaScript's:
`JSON.stringify` (key order, number format, indentation) and `String()` of a number."""

from __future__ import annotations

import json
import math
import re
from typing import Any

_INDEX_KEY = re.compile(r"^(0|[1-9][0-9]*)$")
_MAX_INDEX = 2**32 - 2


def number_text(value: float) -> str:
    """A number as JavaScript writes it: `1` for 1.0, `1e-7`, `0.00001`, `1e+21`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    digits, point = _shortest_digits(abs(value))
    return sign + _place_point(digits, point)


def _shortest_digits(value: float) -> tuple[str, int]:
    """The shortest round-trip digits and where the point goes: value = 0.DIGITS * 10**point."""
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    power = int(exponent or 0)
    if whole.strip("0"):
        point = len(whole.lstrip("0")) + power
    else:
        point = power - (len(fraction) - len(fraction.lstrip("0")))
    digits = (whole + fraction).lstrip("0").rstrip("0") or "0"
    return digits, point


def _place_point(digits: str, point: int) -> str:
    count = len(digits)
    if count <= point <= 21:
        return digits + "0" * (point - count)
    if 0 < point <= 21:
        return f"{digits[:point]}.{digits[point:]}"
    if -6 < point <= 0:
        return "0." + "0" * -point + digits
    exponent = point - 1
    mantissa = digits[0] + (f".{digits[1:]}" if count > 1 else "")
    return f"{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"


def ordered_keys(mapping: dict[str, Any]) -> list[str]:
    """Keys in JavaScript's property order: array-index keys ascending, then insertion order."""
    indexes = [k for k in mapping if _INDEX_KEY.match(k) and int(k) <= _MAX_INDEX]
    if not indexes:
        return list(mapping)
    rest = [k for k in mapping if k not in set(indexes)]
    return sorted(indexes, key=int) + rest


def stringify(value: Any, indent: int = 0) -> str:
    """`JSON.stringify(value, null, indent)`."""
    return _write(value, " " * indent, "")


def _write(value: Any, step: str, at: str) -> str:
    if value is None or value is True or value is False:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return number_text(value) if math.isfinite(value) else "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        parts = [_write(v, step, at + step) for v in value]
        return _join(parts, "[", "]", step, at)
    if isinstance(value, dict):
        keys = ordered_keys({str(k): None for k in value})
        lookup = {str(k): v for k, v in value.items()}
        colon = ": " if step else ":"
        parts = [f"{json.dumps(k, ensure_ascii=False)}{colon}{_write(lookup[k], step, at + step)}"
                 for k in keys]  # fmt: skip
        return _join(parts, "{", "}", step, at)
    return json.dumps(str(value), ensure_ascii=False)


def _join(parts: list[str], start: str, end: str, step: str, at: str) -> str:
    if not parts:
        return start + end
    if not step:
        return start + ",".join(parts) + end
    inner = at + step
    return f"{start}\n{inner}" + f",\n{inner}".join(parts) + f"\n{at}{end}"


def parse_json(text: str) -> Any:
    """`JSON.parse`: strict JSON (no NaN or Infinity); ValueError when it is not."""

    def refuse(name: str) -> Any:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)
