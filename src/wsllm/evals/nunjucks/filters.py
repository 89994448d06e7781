"""The built-in filters: Nunjucks' own, and `load` (JSON.parse), which promptfoo adds.

Filters take JavaScript arguments: missing ones are undefined, extra ones are dropped, and
keyword arguments reach most filters as one trailing object, as in Nunjucks (only `sort` and
`int` read them by name).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wsllm.errors import ConfigError
from wsllm.evals.nunjucks import collection_filters as lists
from wsllm.evals.nunjucks import text_filters as text
from wsllm.evals.nunjucks.callables import js_arguments
from wsllm.evals.nunjucks.jsjson import indent_text, parse, stringify
from wsllm.evals.nunjucks.numbers import js_ceil, js_floor, js_round, parse_float, parse_int, tidy
from wsllm.evals.nunjucks.operators import divide, multiply, power
from wsllm.evals.nunjucks.values import UNDEFINED, to_float, to_str, truthy

_MISSING_ARGUMENTS = tuple((UNDEFINED,) * count for count in range(8))


def default(value: Any, fallback: Any, falsy_too: Any) -> Any:
    """`default(fallback)` replaces only undefined; `default(fallback, true)` any falsy value."""
    if truthy(falsy_too):
        return value if truthy(value) else fallback
    return fallback if value is UNDEFINED else value


def dump(value: Any, spaces: Any) -> Any:
    return stringify(value, "" if spaces is UNDEFINED else indent_text(spaces))


def load(value: Any) -> Any:
    try:
        return parse(to_str(value))
    except ValueError as exc:
        raise ConfigError(f"the load filter could not parse JSON: {exc}") from exc


def absolute(value: Any) -> Any:
    return tidy(abs(to_float(value)))


def round_number(value: Any, precision: Any, method: Any) -> Any:
    factor = power(10, precision if truthy(precision) else 0)
    rounder = js_ceil if method == "ceil" else js_floor if method == "floor" else js_round
    return divide(tidy(rounder(to_float(multiply(value, factor)))), factor)


def to_int(value: Any, fallback: Any, base: Any) -> Any:
    number = parse_int(to_str(value), 10 if base is UNDEFINED else to_float(base))
    return fallback if number != number else number


def to_number(value: Any, fallback: Any) -> Any:
    number = parse_float(to_str(value))
    return fallback if number != number else number


class BuiltinFilter:
    """A filter and, for the two Nunjucks wrote as macros, its parameters by name."""

    __slots__ = ("arity", "function", "names")

    def __init__(self, function: Callable[..., Any], names: tuple[str, ...] = ()) -> None:
        self.function = function
        self.names = names
        self.arity = function.__code__.co_argcount

    def apply(self, args: list[Any], kwargs: dict[str, Any] | None) -> Any:
        if kwargs is None and not self.names:  # the usual call: no keywords
            missing = self.arity - len(args)
            if missing >= 0:
                return self.function(*args, *_MISSING_ARGUMENTS[missing])
            return self.function(*args[: self.arity])
        if self.names:
            args = list(args[: len(self.names)])
            args += [(kwargs or {}).get(name, UNDEFINED) for name in self.names[len(args) :]]
            return self.function(*args)
        return self.function(*js_arguments(self.function, args, kwargs))


_FUNCTIONS: dict[str, Callable[..., Any] | BuiltinFilter] = {
    "abs": absolute, "batch": lists.batch, "capitalize": text.capitalize,
    "center": text.center, "default": default, "d": default, "dictsort": lists.dictsort,
    "dump": dump, "escape": text.escape, "e": text.escape, "first": lists.first,
    "float": to_number, "forceescape": text.forceescape, "groupby": lists.groupby,
    "indent": text.indent,
    "int": BuiltinFilter(to_int, ("value", "default", "base")),
    "join": lists.join, "last": lists.last, "length": lists.length, "list": lists.to_list,
    "load": load, "lower": text.lower, "nl2br": text.nl2br, "random": lists.random,
    "reject": lists.reject, "rejectattr": lists.rejectattr, "replace": text.replace,
    "reverse": lists.reverse, "round": round_number, "safe": text.safe,
    "select": lists.select, "selectattr": lists.selectattr, "slice": lists.slice_into,
    "sort": BuiltinFilter(lists.sort, ("value", "reverse", "case_sensitive", "attribute")),
    "string": text.string, "striptags": text.striptags, "sum": lists.total,
    "title": text.title, "trim": text.trim, "truncate": text.truncate,
    "upper": text.upper, "urlencode": text.urlencode, "urlize": text.urlize,
    "wordcount": text.wordcount,
}  # fmt: skip
FILTERS: dict[str, BuiltinFilter] = {
    name: function if isinstance(function, BuiltinFilter) else BuiltinFilter(function)
    for name, function in _FUNCTIONS.items()
}
