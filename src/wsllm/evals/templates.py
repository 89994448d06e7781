"""Templates in prompts, messageTemplates, vars and assertion values: Nunjucks, as promptfoo
renders them, by wsllm's own engine (evals/nunjucks/), bounded in time and output size."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from wsllm.errors import ConfigError, ScriptError
from wsllm.evals.functions.bounds import bounded
from wsllm.evals.nunjucks.limits import MAX_CHARS
from wsllm.evals.nunjucks.template import Template, compile_source

# A template that may run long (a loop, macro, call, regex or a config's filter) is stopped after
# this long; its text may not pass MAX_CHARS.
TIME_LIMIT_S = 5.0

__all__ = ["MAX_CHARS", "TIME_LIMIT_S", "compile_template", "render"]


@functools.lru_cache(maxsize=4096)
def compile_template(source: str) -> Template:
    """Compile once; ConfigError "template syntax error on line N: ..." if it does not parse."""
    return compile_source(source)


def render(
    source: str,
    variables: Mapping[str, Any],
    *,
    filters: Mapping[str, Callable[..., Any]] | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Render `source` with `variables`; ConfigError (that test's error) when it fails.

    `filters` are a config's own (promptfoo's nunjucksFilters), called as
    `filter(value, *args, **kwargs)`; `env` is what templates see as `env` (the process
    environment when not given).
    """
    if "{" not in source and "#}" not in source:
        return source
    template = compile_template(source)
    try:
        if template.needs_bound(filters):
            with bounded(TIME_LIMIT_S):
                return template.render(variables, filters, env)
        return template.render(variables, filters, env)
    except ConfigError as exc:
        raise ConfigError(f"template failed to render: {exc}") from exc
    except ScriptError as exc:
        raise ConfigError(f"template failed to render: it {exc}") from exc
    except Exception as exc:  # a config's filter, MemoryError, RecursionError: the test's error
        raise ConfigError(f"template failed to render: {type(exc).__name__}: {exc}") from exc
