"""Nunjucks' tests, for `value is test` and the select/reject filters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wsllm.errors import ConfigError
from wsllm.evals.nunjucks.operators import compare, remainder, strict_equal
from wsllm.evals.nunjucks.values import UNDEFINED, SafeStr, js_type, to_str, truthy


def _text(value: Any, name: str) -> str:
    if isinstance(value, str):
        return str.__str__(value)
    raise ConfigError(f"the {name} test needs a string, got {js_type(value)} {to_str(value)[:40]}")


def _iterable(value: Any) -> bool:
    if value is None or value is UNDEFINED:
        raise ConfigError(
            f"Cannot read properties of {to_str(value)} (reading 'Symbol(Symbol.iterator)')"
        )
    return isinstance(value, list | tuple | str)


def _mapping(value: Any) -> bool:
    return js_type(value) == "object" and not isinstance(value, list | tuple)


TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "callable": lambda v, _: js_type(v) == "function",
    "defined": lambda v, _: v is not UNDEFINED,
    "divisibleby": lambda v, d: strict_equal(remainder(v, d), 0),
    "escaped": lambda v, _: isinstance(v, SafeStr),
    "equalto": strict_equal,
    "eq": strict_equal,
    "sameas": strict_equal,
    "even": lambda v, _: strict_equal(remainder(v, 2), 0),
    "falsy": lambda v, _: not truthy(v),
    "ge": lambda v, w: compare(">=", v, w),
    "greaterthan": lambda v, w: compare(">", v, w),
    "gt": lambda v, w: compare(">", v, w),
    "le": lambda v, w: compare("<=", v, w),
    "lessthan": lambda v, w: compare("<", v, w),
    "lt": lambda v, w: compare("<", v, w),
    "lower": lambda v, _: _text(v, "lower").lower() == _text(v, "lower"),
    "ne": lambda v, w: not strict_equal(v, w),
    "null": lambda v, _: v is None,
    "number": lambda v, _: js_type(v) == "number",
    "odd": lambda v, _: strict_equal(remainder(v, 2), 1),
    "string": lambda v, _: js_type(v) == "string",
    "truthy": lambda v, _: truthy(v),
    "undefined": lambda v, _: v is UNDEFINED,
    "upper": lambda v, _: _text(v, "upper").upper() == _text(v, "upper"),
    "iterable": lambda v, _: _iterable(v),
    "mapping": lambda v, _: _mapping(v),
}


def find_test(name: str) -> Callable[[Any, Any], bool]:
    test = TESTS.get(name)
    if test is None:
        raise ConfigError(f"test not found: {name}")
    return test


def run_test(name: str, value: Any, argument: Any = UNDEFINED) -> bool:
    """`value is name(argument)`: true only when the test answers exactly true."""
    return find_test(name)(value, argument) is True
