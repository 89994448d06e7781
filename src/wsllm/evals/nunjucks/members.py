"""`value.key` and `value[key]`: the only way a template reaches into a value.

Dicts give their keys, lists and strings their items and `length`, and each kind of value a short
list of JavaScript methods (methods.py). Nothing else: no Python attribute is ever read, so
`''.__class__` is undefined like any other unknown name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from wsllm.evals.nunjucks import utf16
from wsllm.evals.nunjucks.builtins import Cycler
from wsllm.evals.nunjucks.callables import Method
from wsllm.evals.nunjucks.jsregex import JsRegExp
from wsllm.evals.nunjucks.methods import (
    ARRAY_METHODS,
    BOOLEAN_METHODS,
    NUMBER_METHODS,
    OBJECT_METHODS,
    REGEX_METHODS,
    REGEX_PROPERTIES,
    STRING_METHODS,
)
from wsllm.evals.nunjucks.numbers import number_text
from wsllm.evals.nunjucks.values import UNDEFINED, SafeStr, to_str

_INDEX = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_MAX_INDEX = 2**32 - 2
_MISSING = object()


def property_key(key: Any) -> str:
    """The property name JavaScript reads for `value[key]`: `items[1.0]` reads "1"."""
    if type(key) is str:
        return key
    if type(key) is int or type(key) is float:
        return number_text(key)
    return to_str(key)


def array_index(name: str) -> int | None:
    """The array index a property name stands for, if it is one."""
    if _INDEX.match(name) and int(name) <= _MAX_INDEX:
        return int(name)
    return None


def member(value: Any, key: Any) -> Any:
    """`value[key]` as Nunjucks' memberLookup reads it: undefined for anything missing,
    including any key of undefined or null."""
    if value is None or value is UNDEFINED:
        return UNDEFINED
    name = property_key(key)
    if isinstance(value, Mapping):
        found = _mapping_member(value, name, key)
    elif isinstance(value, list | tuple):
        found = _array_member(value, name)
    elif type(value) is str:
        found = _string_member(value, name)
    else:
        found = _other_member(value, name)
    if found is UNDEFINED and name == "hasOwnProperty":
        return Method(has_own_property, value)
    return found


def has_own_property(value: Any, key: Any) -> bool:
    """Object.prototype.hasOwnProperty: a dict's keys, an array's or a string's indexes and
    `length`."""
    name = property_key(key)
    if isinstance(value, Mapping):
        return name in value
    if isinstance(value, list | tuple | str):
        index = array_index(name)
        size = utf16.length(value) if isinstance(value, str) else len(value)
        return name == "length" or (index is not None and index < size)
    return False


def _mapping_member(mapping: Mapping[Any, Any], name: str, key: Any) -> Any:
    found = mapping.get(name, _MISSING)
    if found is _MISSING and type(key) is not str:
        try:
            found = mapping.get(key, _MISSING)  # a YAML mapping may have number keys
        except TypeError:
            found = _MISSING
    if found is not _MISSING:
        return found
    if isinstance(mapping, Cycler):
        return mapping.member(name)
    method = OBJECT_METHODS.get(name)
    return UNDEFINED if method is None else Method(method, mapping)


def _array_member(items: list[Any] | tuple[Any, ...], name: str) -> Any:
    index = array_index(name)
    if index is not None:
        return items[index] if index < len(items) else UNDEFINED
    if name == "length":
        return len(items)
    method = ARRAY_METHODS.get(name)
    return UNDEFINED if method is None else Method(method, items)


def _string_member(text: str, name: str) -> Any:
    index = array_index(name)
    if index is not None:
        units = utf16.units(text)
        return units[index] if index < len(units) else UNDEFINED
    if name == "length":
        return utf16.length(text)
    method = STRING_METHODS.get(name)
    return UNDEFINED if method is None else Method(method, text)


def _other_member(value: Any, name: str) -> Any:
    if isinstance(value, SafeStr):
        # A SafeString is an object with `val` and `length`, and String's methods.
        text = str.__str__(value)
        if name == "val":
            return text
        if name == "length":
            return utf16.length(text)
        method = STRING_METHODS.get(name)
        return UNDEFINED if method is None else Method(method, text)
    if isinstance(value, bool):
        method = BOOLEAN_METHODS.get(name)
        return UNDEFINED if method is None else Method(method, value)
    if isinstance(value, int | float):
        method = NUMBER_METHODS.get(name)
        return UNDEFINED if method is None else Method(method, value)
    if isinstance(value, JsRegExp):
        if name in REGEX_PROPERTIES:
            return REGEX_PROPERTIES[name](value)
        method = REGEX_METHODS.get(name)
        return UNDEFINED if method is None else Method(method, value)
    return UNDEFINED


def own_items(value: Any) -> Iterator[tuple[str, Any]]:
    """What `for (key in value)` visits: an object's keys in JavaScript's order (array indexes
    ascending, then the rest as inserted), a string's indexes, nothing for other values."""
    if isinstance(value, Mapping):
        yield from ordered_items(value)
    elif type(value) is str:
        for index, unit in enumerate(utf16.units(value)):
            yield str(index), unit
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield str(index), item
    elif isinstance(value, SafeStr):
        yield from (("val", str.__str__(value)), ("length", utf16.length(value)))


def ordered_items(mapping: Mapping[Any, Any]) -> list[tuple[str, Any]]:
    """A mapping's items with string keys, in JavaScript's property order."""
    items = [(k if type(k) is str else property_key(k), v) for k, v in mapping.items()]
    indexed = [(array_index(k), k, v) for k, v in items]
    if all(index is None for index, _, _ in indexed):
        return items
    numbers = sorted(((i, k, v) for i, k, v in indexed if i is not None), key=lambda t: t[0])
    return [(k, v) for _, k, v in numbers] + [(k, v) for i, k, v in indexed if i is None]
