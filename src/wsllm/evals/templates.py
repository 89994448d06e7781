"""Nunjucks-syntax templates, rendered by a sandboxed Jinja2 with the usual Nunjucks filters."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from wsllm.errors import ConfigError, ScriptError
from wsllm.evals.functions.bounds import bounded

# A template is refused past these bounds: a loop of loops, or a string built a billion times.
TIME_LIMIT_S = 5.0
MAX_CHARS = 8 * 1024 * 1024


def _dump(value: Any, indent: int | str | None = None) -> str:
    # Nunjucks' dump is JSON.stringify: compact separators, unicode kept as is.
    if isinstance(value, jinja2.Undefined):
        value = None
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(value, ensure_ascii=False, separators=separators, indent=indent, default=str)


def _nl2br(value: Any) -> str:
    return str(value).replace("\r\n", "<br />\n").replace("\n", "<br />\n")


@functools.cache
def environment() -> ImmutableSandboxedEnvironment:
    """The one template environment: no autoescaping, undefined renders as empty, as in Nunjucks."""
    env = ImmutableSandboxedEnvironment(autoescape=False, keep_trailing_newline=True)
    env.filters.update({"dump": _dump, "nl2br": _nl2br, "string": str, "json": _dump})
    return env


@functools.lru_cache(maxsize=4096)
def compile_template(source: str) -> jinja2.Template:
    """Compile once; raise ConfigError for a template with a syntax error."""
    try:
        return environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"template syntax error on line {exc.lineno}: {exc.message}") from exc


def render(source: str, variables: Mapping[str, Any]) -> str:
    """Render `source` with `variables`; ConfigError (that test's error) when it fails."""
    if "{" not in source:
        return source
    template = compile_template(source)
    try:
        with bounded(TIME_LIMIT_S):
            return _bounded_output(template, variables)
    except jinja2.TemplateError as exc:
        raise ConfigError(f"template failed to render: {exc}") from exc
    except ScriptError as exc:
        raise ConfigError(f"template failed to render: it {exc}") from exc
    except ConfigError:
        raise
    except Exception as exc:  # ZeroDivisionError, OverflowError, MemoryError...: the test's error
        raise ConfigError(f"template failed to render: {type(exc).__name__}: {exc}") from exc


def _bounded_output(template: jinja2.Template, variables: Mapping[str, Any]) -> str:
    parts: list[str] = []
    size = 0
    for chunk in template.generate(variables):
        size += len(chunk)
        if size > MAX_CHARS:
            raise ConfigError(
                f"template failed to render: its output passed {MAX_CHARS:,} characters"
            )
        parts.append(chunk)
    return "".join(parts)
