"""JavaScript's value model on Python data: `undefined`, truthiness, String() and Number().

Templates see JSON-like data: None is `null`, dicts are objects, lists arrays. Three marker types
stand for what Python lacks: UNDEFINED, SafeStr (Nunjucks' SafeString, an object wrapping a
string) and JsArray (an array the template made, which `push` may change).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from wsllm.evals.nunjucks.jsregex import JsRegExp
from wsllm.evals.nunjucks.numbers import NAN, as_float, number_text, string_to_number


class Undefined:
    """JavaScript's `undefined`: what a missing variable, key or argument is."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Any = Undefined()


class SafeStr(str):
    """Text marked safe (`safe`, `escape`, a macro's output): an object, so always truthy."""

    __slots__ = ()


class JsArray(list[Any]):
    """An array made by the template (a literal, a filter's result): `push` may change it, while
    arrays from the test's variables stay as they are."""

    __slots__ = ()


class KwArgs(dict[str, Any]):
    """Keyword arguments given to a function that takes none: Nunjucks passes them on as one
    trailing object argument."""

    __slots__ = ()


JsFunction = Callable[..., Any]
NUMBER_TYPES = (int, float)


def js_type(value: Any) -> str:
    """`typeof`, with `null` told apart: undefined, null, boolean, number, string, object or
    function."""
    kind = type(value)
    if kind is str:
        return "string"
    if kind is bool:
        return "boolean"
    if kind is int or kind is float:
        return "number"
    if value is None:
        return "null"
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, str | Mapping | list | tuple | JsRegExp):
        return "object"
    if isinstance(value, int | float):
        return "number"
    return "function" if callable(value) else "object"


def truthy(value: Any) -> bool:
    """JavaScript truthiness: [] and {} are true; 0, NaN, "", null and undefined are false."""
    kind = type(value)
    if kind is bool:
        return value  # type: ignore[no-any-return]
    if kind is str or kind is int:
        return bool(value)
    if kind is float:
        return bool(value) and not math.isnan(value)
    return value is not None and value is not UNDEFINED


def to_str(value: Any) -> str:
    """JavaScript's String(value)."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return number_text(value)
    if value is None:
        return "null"
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, list | tuple):
        return join(value, ",")
    if isinstance(value, Mapping):
        return "[object Object]"
    if isinstance(value, int | float):
        return number_text(value)
    if callable(value):
        return "function () { [native code] }"
    return str(value)


def to_output(value: Any) -> str:
    """What `{{ value }}` writes: nothing for null and undefined, else String(value)."""
    if type(value) is str:
        return value
    if value is None or value is UNDEFINED:
        return ""
    return to_str(value)


def join(items: list[Any] | tuple[Any, ...], separator: str) -> str:
    """Array.prototype.join: null and undefined items are empty, nested arrays comma-joined."""
    return separator.join(
        "" if item is None or item is UNDEFINED else to_str(item) for item in items
    )


def to_primitive(value: Any) -> Any:
    """ToPrimitive: objects become their string form, primitives stay as they are."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool:
        return value
    if value is None or value is UNDEFINED:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return to_str(value)


def to_number(value: Any) -> int | float:
    """JavaScript's Number(value)."""
    kind = type(value)
    if kind is int or kind is float:
        return value  # type: ignore[no-any-return]
    if kind is bool:
        return 1 if value else 0
    if value is None:
        return 0
    if value is UNDEFINED:
        return NAN
    if kind is str:
        return string_to_number(value)
    if isinstance(value, int | float):
        return as_float(value)
    return string_to_number(to_str(value))


def to_float(value: Any) -> float:
    """Number(value) as a Python float, ready for arithmetic."""
    number = to_number(value)
    return number if type(number) is float else as_float(number)


def to_integer(value: Any) -> int:
    """ToIntegerOrInfinity, clamped to a practical range: NaN is 0."""
    number = to_float(value)
    if number != number:
        return 0
    return int(max(min(number, 2.0**53), -(2.0**53)))
