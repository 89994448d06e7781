"""The state of one render: scopes (frames), the context of variables, and macros.

Scoping is Nunjucks': a `for` loop pushes a frame, `{% set %}` writes to the nearest frame that
already has the name (so a loop can change an outer variable) or else to the current one, and
a top-level `set` also reaches the context, where macros, which start from an empty frame,
can read it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from wsllm.errors import ConfigError
from wsllm.evals.nunjucks.builtins import GLOBALS
from wsllm.evals.nunjucks.callables import NativeFunction
from wsllm.evals.nunjucks.limits import MAX_CHARS
from wsllm.evals.nunjucks.values import UNDEFINED, SafeStr

Filters = Mapping[str, Callable[..., Any]]
_NO_FILTERS: Filters = {}


class Frame:
    """One scope of variables; lookups walk up to the parents."""

    __slots__ = ("isolated", "parent", "top", "vars")

    def __init__(self, parent: Frame | None = None, isolated: bool = False) -> None:
        self.vars: dict[str, Any] = {}
        self.parent = parent
        self.isolated = isolated
        self.top = False

    def lookup(self, name: str) -> Any:
        frame: Frame | None = self
        while frame is not None:
            value = frame.vars.get(name, UNDEFINED)
            if value is not UNDEFINED:
                return value
            frame = frame.parent
        return UNDEFINED

    def assign(self, name: str, value: Any) -> None:
        """`{% set %}`: the nearest frame holding `name` (not past an isolated one), else this."""
        frame: Frame | None = self
        while frame is not None:
            if frame.vars.get(name, UNDEFINED) is not UNDEFINED:
                frame.vars[name] = value
                return
            frame = None if (frame is self and self.isolated) else frame.parent
        self.vars[name] = value


class RenderState:
    """Everything one render reads and writes."""

    __slots__ = ("env", "filters", "frame", "line", "overlay", "size", "variables")

    def __init__(self, variables: Mapping[str, Any], filters: Filters | None,
                 env: Mapping[str, str] | None) -> None:  # fmt: skip
        self.variables = variables
        self.filters = filters or _NO_FILTERS
        self.env = env
        self.frame = Frame()
        self.frame.top = True
        self.overlay: dict[str, Any] = {}
        self.size = 0
        self.line = 1

    def context_lookup(self, name: str) -> Any:
        """A name no frame holds: a variable, else a global (range, cycler, joiner, env)."""
        if name in self.overlay:
            return self.overlay[name]
        if name in self.variables:
            return self.variables[name]
        if name == "env":
            return os.environ if self.env is None else self.env
        return GLOBALS.get(name, UNDEFINED)

    def lookup(self, name: str) -> Any:
        value = self.frame.lookup(name)
        return self.context_lookup(name) if value is UNDEFINED else value

    def wrote(self, size: int) -> None:
        """Count written text against MAX_CHARS."""
        self.size += size
        if self.size > MAX_CHARS:
            raise ConfigError(f"its output passed {MAX_CHARS:,} characters")


Body = Callable[[RenderState, list[str]], None]
Expression = Callable[[RenderState], Any]


class MacroFunction(NativeFunction):
    """A macro (or a `{% call %}` body) made callable: it renders its body to safe text."""

    __slots__ = ("body", "defaults", "keeps_frame", "params", "state")

    def __init__(
        self,
        state: RenderState,
        params: list[str],
        defaults: list[tuple[str, Expression]],
        body: Body,
        keeps_frame: bool,
    ) -> None:
        self.state = state
        self.params = params
        self.defaults = defaults
        self.body = body
        self.keeps_frame = keeps_frame

    def invoke(self, args: list[Any], kwargs: dict[str, Any] | None) -> Any:
        positional, named = self._arguments(args, dict(kwargs or {}))
        state = self.state
        caller_frame = state.frame
        frame = Frame(caller_frame, isolated=True) if self.keeps_frame else Frame()
        state.frame = frame
        if "caller" in named:
            frame.vars["caller"] = named["caller"]
        frame.vars.update(zip(self.params, positional, strict=True))
        for name, default in self.defaults:
            frame.vars[name] = named[name] if name in named else default(state)
        out: list[str] = []
        try:
            self.body(state, out)
        finally:
            state.frame = caller_frame
        return SafeStr("".join(out))

    def _arguments(
        self, args: list[Any], named: dict[str, Any]
    ) -> tuple[list[Any], dict[str, Any]]:
        """Nunjucks' makeMacro: extra positional arguments fill the keyword parameters in
        order; missing positional ones may come by name."""
        wanted = len(self.params)
        if len(args) > wanted:
            for (name, _), extra in zip(self.defaults, args[wanted:], strict=False):
                named[name] = extra
            return args[:wanted], named
        missing = [named.pop(name, UNDEFINED) for name in self.params[len(args) :]]
        return args + missing, named
