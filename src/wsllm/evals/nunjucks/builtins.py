"""The globals every template sees: range(), cycler(), joiner(); promptfoo adds `env`."""

from __future__ import annotations

from typing import Any

from wsllm.errors import ConfigError
from wsllm.evals.nunjucks.callables import Builtin, Method
from wsllm.evals.nunjucks.limits import MAX_ITEMS, check_items
from wsllm.evals.nunjucks.operators import add, less
from wsllm.evals.nunjucks.values import UNDEFINED, JsArray, to_float, truthy


def _range(start: Any, stop: Any, step: Any) -> JsArray:
    """range(stop) or range(start, stop, step), built as Nunjucks' loop builds it."""
    if stop is UNDEFINED:
        start, stop, step = 0, start, 1
    elif not truthy(step):
        step = 1
    _check_range(start, stop, step)
    items = JsArray()
    value = start
    going_up = less(0, step)
    while less(value, stop) if going_up else less(stop, value):
        items.append(value)
        check_items(len(items), "range()")
        value = add(value, step)
    return items


def _check_range(start: Any, stop: Any, step: Any) -> None:
    """Refuse at once a range past the limit, rather than after building most of it."""
    first, last, stride = to_float(start), to_float(stop), to_float(step)
    if stride != stride or stride == 0 or first != first or last != last:
        return
    count = (last - first) / stride
    if count > MAX_ITEMS:
        shown = f"{count:,.0f}" if count != float("inf") else "infinitely many"
        raise ConfigError(f"range() would make an array of {shown} items, past {MAX_ITEMS:,}")


class Cycler(dict[str, Any]):
    """What cycler(a, b, ...) returns: `next()` steps through the items, `current` is the last."""

    __slots__ = ("choices", "position")

    def __init__(self, items: list[Any]) -> None:
        super().__init__(current=None)
        self.choices = items
        self.position = -1

    def member(self, name: str) -> Any:
        if name == "next":
            return Method(Cycler.next, self)
        if name == "reset":
            return Method(Cycler.reset, self)
        return UNDEFINED

    def next(self) -> Any:
        self.position = self.position + 1 if self.position + 1 < len(self.choices) else 0
        self["current"] = self.choices[self.position] if self.choices else UNDEFINED
        return self["current"]

    def reset(self) -> None:
        self.position = -1
        self["current"] = None


def _cycler(*items: Any) -> Cycler:
    return Cycler(list(items))


def _joiner(separator: Any) -> Builtin:
    glue = "," if not truthy(separator) else separator
    first = [True]

    def join() -> Any:
        if first[0]:
            first[0] = False
            return ""
        return glue

    return Builtin(join)


GLOBALS: dict[str, Any] = {
    "range": Builtin(_range),
    "cycler": Builtin(_cycler),
    "joiner": Builtin(_joiner),
}
