"""Nunjucks' filters on arrays and objects: join, sort, batch, groupby, select, sum...

Their results are real arrays and objects (groupby gives an object, batch nested arrays), so
`| length` and `| dump` work on them as in Nunjucks.
"""

from __future__ import annotations

import functools
import random as _random
from collections.abc import Mapping
from typing import Any

from wsllm.errors import ConfigError
from wsllm.evals.nunjucks import utf16
from wsllm.evals.nunjucks.limits import check_items, checked_text
from wsllm.evals.nunjucks.members import member, ordered_items, own_items
from wsllm.evals.nunjucks.operators import add, less, remainder, strict_equal
from wsllm.evals.nunjucks.predicates import find_test
from wsllm.evals.nunjucks.text_filters import normalize, same_safeness
from wsllm.evals.nunjucks.values import (
    UNDEFINED,
    JsArray,
    SafeStr,
    js_type,
    to_float,
    to_integer,
    to_str,
    truthy,
)
from wsllm.evals.nunjucks.values import (
    join as join_items,
)


def _cannot_read(value: Any, key: str) -> ConfigError:
    return ConfigError(f"Cannot read properties of {to_str(value)} (reading '{key}')")


def items_of(value: Any, name: str) -> list[Any]:
    """The items a filter walks with `for (i < arr.length) arr[i]`: a string's characters, an
    array's items, nothing for other values; an error for null and undefined."""
    if value is None or value is UNDEFINED:
        raise _cannot_read(value, "length")
    if isinstance(value, list | tuple):
        return list(value)
    if type(value) is str:
        return list(utf16.units(value))
    if isinstance(value, SafeStr):
        return [UNDEFINED] * utf16.length(value)  # a SafeString has a length but no indexes
    return []


def _attribute_getter(attribute: Any) -> Any:
    """Nunjucks' getAttrGetter: a dotted path read with own properties only."""
    parts = (
        []
        if not truthy(attribute)
        else str(attribute).split(".")
        if type(attribute) is str
        else [attribute]
    )

    def get(item: Any) -> Any:
        for part in parts:
            if item is None or item is UNDEFINED:
                raise ConfigError(f"Cannot convert {to_str(item)} to object")
            found = member(item, part)
            if found is UNDEFINED or js_type(found) == "function":
                return UNDEFINED
            item = found
        return item

    return get


def batch(value: Any, size: Any, fill: Any) -> JsArray:
    rows: JsArray = JsArray()
    row: JsArray = JsArray()
    for index, item in enumerate(items_of(value, "batch")):
        if row and remainder(index, size) == 0:
            rows.append(row)
            row = JsArray()
        row.append(item)
    if row:
        if truthy(fill):
            missing = to_integer(size) - len(row)
            check_items(missing, "batch")
            row.extend([fill] * max(missing, 0))
        rows.append(row)
    return rows


def first(value: Any) -> Any:
    if value is None or value is UNDEFINED:
        raise _cannot_read(value, "0")
    return member(value, 0)


def last(value: Any) -> Any:
    if value is None or value is UNDEFINED:
        raise _cannot_read(value, "length")
    size = member(value, "length")
    return member(value, to_float(size) - 1 if size is not UNDEFINED else float("nan"))


def length(value: Any) -> Any:
    value = normalize(value)
    if isinstance(value, Mapping):
        return len(value)
    return member(value, "length")


def join(value: Any, separator: Any, attribute: Any) -> str:
    glue = to_str(separator) if truthy(separator) else ""
    if truthy(attribute):
        value = [member(item, attribute) if item is not None and item is not UNDEFINED
                 else _raise(_cannot_read(item, to_str(attribute)))
                 for item in _mapped(value)]  # fmt: skip
    if not isinstance(value, list | tuple):
        raise ConfigError(f"the join filter needs an array, got {js_type(value)}")
    return checked_text(join_items(value, glue))


def _mapped(value: Any) -> list[Any]:
    """What Nunjucks' lib.map walks: an array, a string's characters, else nothing."""
    if value is None or value is UNDEFINED:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    if type(value) is str:
        return list(utf16.units(value))
    if isinstance(value, SafeStr):
        return [UNDEFINED] * utf16.length(value)
    return []


def _raise(error: Exception) -> Any:
    raise error


def to_list(value: Any) -> Any:
    if type(value) is str:
        return JsArray(utf16.units(value))
    if isinstance(value, Mapping | SafeStr):
        return JsArray({"key": k, "value": v} for k, v in own_items(value))
    if isinstance(value, list | tuple):
        return value
    raise ConfigError("list filter: type not iterable")


def random(value: Any) -> Any:
    size = to_float(member(value, "length")) if value is not None and value is not UNDEFINED else 0
    if size != size or size <= 0:
        return (
            member(value, float("nan"))
            if value is not None and value is not UNDEFINED
            else UNDEFINED
        )
    return member(value, _random.randrange(int(size)))


def reverse(value: Any) -> Any:
    if type(value) is str:
        return same_safeness(value, "".join(reversed(utf16.units(value))))
    return JsArray(reversed(_mapped(value)))


def _select(value: Any, name: Any, argument: Any, wanted: bool) -> JsArray:
    test = find_test("truthy" if name is UNDEFINED else to_str(name))
    return JsArray(
        item for item in items_of(value, "select") if (test(item, argument) is True) is wanted
    )


def select(value: Any, test: Any, argument: Any) -> JsArray:
    return _select(value, test, argument, True)


def reject(value: Any, test: Any, argument: Any) -> JsArray:
    return _select(value, test, argument, False)


def _attribute_filter(value: Any, attribute: Any, wanted: bool, name: str) -> JsArray:
    if not isinstance(value, list | tuple):
        raise ConfigError(f"the {name} filter needs an array, got {js_type(value)}")
    kept = JsArray()
    for item in value:
        if item is None or item is UNDEFINED:
            raise _cannot_read(item, to_str(attribute))
        if truthy(member(item, attribute)) is wanted:
            kept.append(item)
    return kept


def selectattr(value: Any, attribute: Any) -> JsArray:
    return _attribute_filter(value, attribute, True, "selectattr")


def rejectattr(value: Any, attribute: Any) -> JsArray:
    return _attribute_filter(value, attribute, False, "rejectattr")


def groupby(value: Any, attribute: Any) -> dict[str, JsArray]:
    get = _attribute_getter(attribute)
    groups: dict[str, JsArray] = {}
    for item in items_of(value, "groupby"):
        groups.setdefault(to_str(get(item)), JsArray()).append(item)
    return groups


def dictsort(value: Any, case_sensitive: Any, by: Any) -> JsArray:
    if not isinstance(value, Mapping):
        raise ConfigError("dictsort filter: val must be an object")
    if by is UNDEFINED or by == "key":
        side = 0
    elif by == "value":
        side = 1
    else:
        raise ConfigError("dictsort filter: You can only sort by either key or value")

    def order(left: Any, right: Any) -> int:
        a, b = left[side], right[side]
        if not truthy(case_sensitive):
            a = a.upper() if type(a) is str else a
            b = b.upper() if type(b) is str else b
        return 1 if less(b, a) else 0 if strict_equal(a, b) else -1

    pairs = [JsArray(pair) for pair in ordered_items(value)]
    return JsArray(sorted(pairs, key=functools.cmp_to_key(order)))


def sort(value: Any, descending: Any, case_sensitive: Any, attribute: Any) -> JsArray:
    """Sorted as JavaScript's Array.sort with Nunjucks' comparator; undefined items go last."""
    get = _attribute_getter(attribute) if truthy(attribute) else None

    def order(left: Any, right: Any) -> int:
        x, y = (get(left), get(right)) if get else (left, right)
        if not truthy(case_sensitive) and type(x) is str and type(y) is str:
            x, y = x.lower(), y.lower()
        if less(x, y):
            return 1 if truthy(descending) else -1
        if less(y, x):
            return -1 if truthy(descending) else 1
        return 0

    items = _mapped(value)
    present = [item for item in items if item is not UNDEFINED]
    missing = [item for item in items if item is UNDEFINED]
    return JsArray(sorted(present, key=functools.cmp_to_key(order)) + missing)


def slice_into(value: Any, count: Any, fill: Any) -> JsArray:
    """`count` slices of an array (or a string), the first ones one longer if need be; `fill`
    goes at the end of the shorter ones."""
    if value is None or value is UNDEFINED:
        raise _cannot_read(value, "length")
    slices = to_integer(count)
    check_items(slices, "slice")
    if slices <= 0:
        return JsArray()
    if type(value) is str:
        if truthy(fill):
            raise ConfigError("the slice filter cannot fill the slices of a string")
        items: Any = utf16.units(value)
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise ConfigError(f"the slice filter needs an array, got {js_type(value)}")
    per, extra = divmod(len(items), slices)
    result, offset = JsArray(), 0
    for index in range(slices):
        start = offset + index * per
        offset += 1 if index < extra else 0
        part = items[start : offset + (index + 1) * per]
        if isinstance(part, str):
            result.append(utf16.joined(part))
            continue
        part = JsArray(part)
        if truthy(fill) and index >= extra:
            part.append(fill)
        result.append(part)
    return result


def total(value: Any, attribute: Any, start: Any) -> Any:
    if truthy(attribute):
        value = [member(item, attribute) for item in _mapped(value)]
    if not isinstance(value, list | tuple):
        raise ConfigError(f"the sum filter needs an array, got {js_type(value)}")
    result: Any = 0
    for item in value:
        result = add(result, item)
    return add(0 if start is UNDEFINED else start, result)
