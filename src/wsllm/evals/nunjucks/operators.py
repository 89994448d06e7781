"""Template operators with JavaScript's meaning: Nunjucks compiles `a + b` to JavaScript's `+`,
`==` to loose equality, `//` to Math.floor(a / b) and `**` to Math.pow."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from wsllm.errors import ConfigError
from wsllm.evals.nunjucks import utf16
from wsllm.evals.nunjucks.limits import check_chars
from wsllm.evals.nunjucks.numbers import INF, NAN, SAFE_INTEGER, js_floor, tidy
from wsllm.evals.nunjucks.values import (
    SafeStr,
    js_type,
    to_float,
    to_primitive,
    to_str,
)


def _concat(left: str, right: str) -> str:
    check_chars(len(left) + len(right))
    return left + right


def add(left: Any, right: Any) -> Any:
    """`left + right`: string concatenation if either side is (or prints as) a string."""
    kinds = (type(left), type(right))
    if kinds == (int, int):
        total = left + right
        if -SAFE_INTEGER <= total <= SAFE_INTEGER:
            return total
    if kinds == (str, str):
        return _concat(left, right)
    left, right = to_primitive(left), to_primitive(right)
    if isinstance(left, str) or isinstance(right, str):
        return _concat(to_str(left), to_str(right))
    return tidy(to_float(left) + to_float(right))


def concat(left: Any, right: Any) -> str:
    """`left ~ right`, compiled by Nunjucks as `left + "" + right`."""
    return _concat(to_str(to_primitive(left)), to_str(to_primitive(right)))


def subtract(left: Any, right: Any) -> Any:
    return tidy(to_float(left) - to_float(right))


def multiply(left: Any, right: Any) -> Any:
    return tidy(to_float(left) * to_float(right))


def divide(left: Any, right: Any) -> Any:
    dividend, divisor = to_float(left), to_float(right)
    if divisor == 0:
        if dividend == 0 or dividend != dividend:
            return NAN
        return INF if math.copysign(1.0, dividend) == math.copysign(1.0, divisor) else -INF
    return tidy(dividend / divisor)


def floor_divide(left: Any, right: Any) -> Any:
    quotient = divide(left, right)
    return tidy(js_floor(float(quotient)))


def remainder(left: Any, right: Any) -> Any:
    """JavaScript's `%`: the sign of the dividend (-7 % 3 is -1)."""
    dividend, divisor = to_float(left), to_float(right)
    if divisor == 0 or math.isinf(dividend) or dividend != dividend or divisor != divisor:
        return NAN
    if math.isinf(divisor):
        return tidy(dividend)
    return tidy(math.fmod(dividend, divisor))


def power(left: Any, right: Any) -> Any:
    """Math.pow, with JavaScript's answers where Python's would raise or differ."""
    base, exponent = to_float(left), to_float(right)
    if exponent != exponent or (abs(base) == 1 and math.isinf(exponent)):
        return NAN
    try:
        return tidy(math.pow(base, exponent))
    except OverflowError:
        odd = exponent.is_integer() and exponent % 2 == 1
        return -INF if base < 0 and odd else INF
    except ValueError:
        if base == 0:
            odd = exponent.is_integer() and exponent % 2 == 1
            return -INF if odd and math.copysign(1.0, base) < 0 else INF
        return NAN


def negate(value: Any) -> Any:
    number = to_float(value)
    return -number if number == 0 else tidy(-number)


def plus(value: Any) -> Any:
    return tidy(to_float(value))


def strict_equal(left: Any, right: Any) -> bool:
    """`===`: same type and value; objects and arrays only equal themselves."""
    kind = js_type(left)
    if kind != js_type(right):
        return False
    if kind == "number":
        return to_float(left) == to_float(right)
    if kind == "string" or kind == "boolean":
        return bool(left == right)
    if kind == "undefined" or kind == "null":
        return True
    return left is right


def loose_equal(left: Any, right: Any) -> bool:
    """`==`: JavaScript's abstract equality (1 == "1", null == undefined, [1] != [1])."""
    if type(left) is str and type(right) is str:
        return bool(left == right)
    kinds = (js_type(left), js_type(right))
    if kinds[0] == kinds[1]:
        return strict_equal(left, right)
    nothing = ("undefined", "null")
    if kinds[0] in nothing or kinds[1] in nothing:
        return kinds[0] in nothing and kinds[1] in nothing
    if "boolean" in kinds or kinds in (("number", "string"), ("string", "number")):
        return _numbers_equal(left, right)
    if kinds[0] in ("object", "function"):
        return loose_equal(_primitive_text(left), right)
    return loose_equal(left, _primitive_text(right))


def _numbers_equal(left: Any, right: Any) -> bool:
    # A boolean against an object compares the object's primitive with the number.
    if js_type(left) in ("object", "function"):
        return loose_equal(_primitive_text(left), to_float(right))
    if js_type(right) in ("object", "function"):
        return loose_equal(to_float(left), _primitive_text(right))
    return to_float(left) == to_float(right)


def _primitive_text(value: Any) -> str:
    return str.__str__(value) if isinstance(value, SafeStr) else to_str(value)


def less(left: Any, right: Any) -> bool:
    """`<`: code-unit order for two strings, else numeric (NaN compares false)."""
    left, right = to_primitive(left), to_primitive(right)
    if isinstance(left, str) and isinstance(right, str):
        return utf16.less(left, right)
    return to_float(left) < to_float(right)


def less_or_equal(left: Any, right: Any) -> bool:
    left, right = to_primitive(left), to_primitive(right)
    if isinstance(left, str) and isinstance(right, str):
        return not utf16.less(right, left)
    return to_float(left) <= to_float(right)


def compare(operator: str, left: Any, right: Any) -> bool:
    """One comparison operator of a Nunjucks compare expression."""
    if operator == "==":
        return loose_equal(left, right)
    if operator == "!=":
        return not loose_equal(left, right)
    if operator == "===":
        return strict_equal(left, right)
    if operator == "!==":
        return not strict_equal(left, right)
    if operator == "<":
        return less(left, right)
    if operator == ">":
        return less(right, left)
    if operator == "<=":
        return less_or_equal(left, right)
    return less_or_equal(right, left)


def contains(needle: Any, haystack: Any) -> bool:
    """The `in` operator: substring, array item (===) or object key; anything else is an error."""
    if isinstance(haystack, list | tuple):
        return any(strict_equal(needle, item) for item in haystack)
    if type(haystack) is str:
        return to_str(needle) in haystack
    if isinstance(haystack, Mapping):
        return to_str(needle) in haystack
    if isinstance(haystack, SafeStr):
        return to_str(needle) in ("val", "length")  # a SafeString's own properties
    raise ConfigError(
        f'Cannot use "in" operator to search for "{to_str(needle)}" in unexpected types.'
    )
