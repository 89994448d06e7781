"""`{{ env.X }}` anywhere in a config, filled in when the config loads (as promptfoo does), so
target headers, URLs and vars can name secrets kept in the environment.

Only templates that mention `env.` or `env[` are touched, and only when the variable exists or
the template has a filter (`{{ env.X | default('y') }}`); everything else is left for render time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from wsllm.errors import WsllmError
from wsllm.evals.jsvalues import map_strings
from wsllm.evals.templates import render

_BLOCK = re.compile(r"\{\{(?:[^}]|\}(?!\}))*\}\}")
_MENTIONS_ENV = re.compile(r"\benv\.|env\[")
_NAME = re.compile(r"env\.(\w+)|env\[['\"]([^'\"]+)['\"]\]")
MAX_CHARS = 50_000


def render_env(value: Any, env: Mapping[str, str]) -> Any:
    """`value` with every string's env templates filled in, recursively."""
    return map_strings(value, lambda text: _render_string(text, env))


def _render_string(text: str, env: Mapping[str, str]) -> str:
    if "{{" not in text or len(text) > MAX_CHARS or not _MENTIONS_ENV.search(text):
        return text

    def fill(match: re.Match[str]) -> str:
        block = match.group(0)
        if not _MENTIONS_ENV.search(block):
            return block
        named = _NAME.search(block)
        name = (named.group(1) or named.group(2)) if named else None
        if "|" not in block and (name is None or name not in env):
            return block
        try:
            return render(block, {}, env=dict(env))
        except WsllmError:
            return block

    return _BLOCK.sub(fill, text)


def config_env(value: Any, environ: Mapping[str, str]) -> dict[str, str]:
    """The config's `env:` values as strings, their own env templates filled from `environ`."""
    if not isinstance(value, dict):
        return {}
    rendered = render_env({str(k): v for k, v in value.items()}, environ)
    return {k: "" if v is None else _text(v) for k, v in rendered.items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
