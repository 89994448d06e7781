"""Functions a template may call, and calling them as Nunjucks' callWrap does."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from wsllm.errors import ConfigError
from wsllm.evals.nunjucks.values import UNDEFINED, KwArgs, truthy

_VARARGS = 0x04  # CO_VARARGS: the function takes *args


class NativeFunction:
    """A function of the engine: a macro, a global such as range(), a JavaScript method."""

    __slots__ = ()

    def invoke(self, args: list[Any], kwargs: dict[str, Any] | None) -> Any:
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Python code handed one of these (a custom filter) calls it the Python way.
        return self.invoke(list(args), kwargs or None)


def js_arguments(
    function: Callable[..., Any], args: list[Any], kwargs: dict[str, Any] | None
) -> list[Any]:
    """Arguments as JavaScript passes them: keyword arguments as one trailing object, missing
    ones undefined, extra ones dropped."""
    if kwargs:
        args = [*args, KwArgs(kwargs)]
    code = function.__code__
    if code.co_flags & _VARARGS:
        return args
    wanted = code.co_argcount - (1 if hasattr(function, "__self__") else 0)
    if len(args) >= wanted:
        return args[:wanted]
    return args + [UNDEFINED] * (wanted - len(args))


class Method(NativeFunction):
    """A JavaScript method bound to its value: `'abc'.toUpperCase`, `items.join`."""

    __slots__ = ("function", "this")

    def __init__(self, function: Callable[..., Any], this: Any) -> None:
        self.function = function
        self.this = this

    def invoke(self, args: list[Any], kwargs: dict[str, Any] | None) -> Any:
        return self.function(
            self.this, *js_arguments(self.function, [self.this, *args], kwargs)[1:]
        )


class Builtin(NativeFunction):
    """A global function (range, cycler, joiner) taking JavaScript arguments."""

    __slots__ = ("function",)

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function

    def invoke(self, args: list[Any], kwargs: dict[str, Any] | None) -> Any:
        return self.function(*js_arguments(self.function, args, kwargs))


def call(function: Any, name: str, args: list[Any], kwargs: dict[str, Any] | None) -> Any:
    """Call what a template names, with Nunjucks' errors when it is not a function."""
    if not truthy(function):
        raise ConfigError(f"Unable to call `{name}`, which is undefined or falsey")
    if isinstance(function, NativeFunction):
        return function.invoke(args, kwargs)
    if not callable(function) or isinstance(function, Mapping | type):
        raise ConfigError(f"Unable to call `{name}`, which is not a function")
    return function(*args, **(kwargs or {}))
