"""`{% for %}` as Nunjucks runs it.

One name walks an array or a string; two or more names unpack each item of an array, or walk an
object's keys and values. Anything else (an object with one name, a number, null) runs the
`{% else %}` branch, as does an empty array. `loop.index`, `index0`, `revindex`, `revindex0`,
`first`, `last` and `length` are set on every pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from wsllm.errors import ConfigError
from wsllm.evals.nunjucks import nodes as n
from wsllm.evals.nunjucks import utf16
from wsllm.evals.nunjucks.members import member, own_items
from wsllm.evals.nunjucks.operators import less, strict_equal, subtract
from wsllm.evals.nunjucks.runtime import Body, Expression, Frame, RenderState
from wsllm.evals.nunjucks.values import UNDEFINED, JsArray, SafeStr, to_str, truthy


def compile_for(node: n.For, iterable: Expression, body: Body, otherwise: Body | None) -> Body:
    names, line = node.names, node.line
    walk = _walk_pairs if len(names) > 1 else _walk_items

    def run(rt: RenderState, out: list[str]) -> None:
        rt.line = line
        frame = Frame(rt.frame)
        rt.frame = frame
        items = _arrays(iterable(rt))
        count: Any = UNDEFINED
        if truthy(items):
            count = walk(rt, frame, names, items, body, out)
        if otherwise is not None and not truthy(count):
            otherwise(rt, out)
        rt.frame = frame.parent  # type: ignore[assignment]

    return run


def _arrays(value: Any) -> Any:
    """Nunjucks' fromIterator: what a Python filter returns as a set or generator is an array."""
    if isinstance(value, list | tuple | str | Mapping) or not isinstance(value, Iterable):
        return value
    return JsArray(value)


def _bind(frame: Frame, index: int, count: Any) -> None:
    if type(count) is int:
        frame.vars["loop"] = {
            "index": index + 1, "index0": index, "revindex": count - index,
            "revindex0": count - index - 1, "first": index == 0, "last": index == count - 1,
            "length": count,
        }  # fmt: skip
        return
    rest = subtract(count, index)
    frame.vars["loop"] = {
        "index": index + 1, "index0": index, "revindex": rest, "revindex0": subtract(rest, 1),
        "first": index == 0, "last": strict_equal(index, subtract(count, 1)), "length": count,
    }  # fmt: skip


def _walk_items(rt: RenderState, frame: Frame, names: list[str], items: Any, body: Body,
                out: list[str]) -> Any:  # fmt: skip
    """`for x in items`: by index while it is below `items.length`, re-read each pass."""
    name = names[0]
    if type(items) is str:
        items = utf16.units(items)
    elif not isinstance(items, list | tuple):
        return _walk_indexed(rt, frame, name, items, body, out)
    count = len(items)
    index = 0
    while index < len(items):  # a push in the body lengthens the walk, as in JavaScript
        frame.vars[name] = items[index]
        _bind(frame, index, count)
        body(rt, out)
        index += 1
    return count


def _walk_indexed(rt: RenderState, frame: Frame, name: str, items: Any, body: Body,
                  out: list[str]) -> Any:  # fmt: skip
    """Any other value: walked only if it has a numeric `length` (an object {length: 2})."""
    if isinstance(items, SafeStr):
        items = str.__str__(items)
        count: Any = utf16.length(items)
    else:
        count = member(items, "length")
    index = 0
    while less(index, member(items, "length")):
        frame.vars[name] = member(items, index) if not isinstance(items, str) else UNDEFINED
        _bind(frame, index, count)
        body(rt, out)
        index += 1
    return count


def _walk_pairs(rt: RenderState, frame: Frame, names: list[str], items: Any, body: Body,
                out: list[str]) -> Any:  # fmt: skip
    """`for a, b in items`: unpack each item of an array, or walk an object's keys and values."""
    if not isinstance(items, list | tuple):
        entries = list(own_items(items))
        for index, (key, value) in enumerate(entries):
            frame.vars[names[0]] = key
            frame.vars[names[1]] = value
            _bind(frame, index, len(entries))
            body(rt, out)
        return len(entries)
    count = len(items)
    index = 0
    while index < len(items):
        item = items[index]
        if item is None or item is UNDEFINED:
            raise ConfigError(f"Cannot read properties of {to_str(item)} (reading '0')")
        for position, name in enumerate(names):
            frame.vars[name] = member(item, position)
        _bind(frame, index, count)
        body(rt, out)
        index += 1
    return count
