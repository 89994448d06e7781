"""A compiled template, and compiling one."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from wsllm.errors import ConfigError
from wsllm.evals.nunjucks import utf16
from wsllm.evals.nunjucks.compiler import Compiler
from wsllm.evals.nunjucks.parser import parse
from wsllm.evals.nunjucks.runtime import Body, RenderState


class Template:
    """A template compiled to closures; render it as often as needed, with any variables."""

    __slots__ = ("body", "filters_used", "runs_away")

    def __init__(self, body: Body, runs_away: bool, filters_used: frozenset[str]) -> None:
        self.body = body
        self.runs_away = runs_away
        self.filters_used = filters_used

    def needs_bound(self, filters: Mapping[str, Callable[..., Any]] | None) -> bool:
        """Whether a render might run long: a loop, a macro, a call, a regular expression, or a
        filter of the config's own code."""
        return self.runs_away or bool(filters and not self.filters_used.isdisjoint(filters))

    def render(
        self,
        variables: Mapping[str, Any],
        filters: Mapping[str, Callable[..., Any]] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> str:
        """The text; ConfigError (naming the line) when the template fails on these values."""
        state = RenderState(variables, filters, env)
        out: list[str] = []
        try:
            self.body(state, out)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (line {state.line})") from exc
        return utf16.printable("".join(out))


def compile_source(source: str) -> Template:
    """Parse and compile `source`; ConfigError "template syntax error on line N: ..." if it
    does not parse."""
    try:
        statements = parse(source)
        compiler = Compiler()
        body = compiler.body(statements)
    except RecursionError as exc:
        raise ConfigError("template syntax error on line 1: it nests too deeply") from exc
    return Template(body, compiler.runs_away, frozenset(compiler.filters_used))
