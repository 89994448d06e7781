"""Python functions from configs: `file://x.py:name`, or inline code (a body with `return`, or an
expression), run in-process."""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import re
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wsllm.errors import ConfigError, ScriptError
from wsllm.evals.functions.bounds import bounded

PyFunction = Callable[..., Any]

# Inline streamResponse and transformResponse code is Python when its first line is this marker.
PYTHON_MARKER = "python:"

_module_ids = itertools.count()


def is_inline_python(source: str) -> bool:
    """Whether an inline function is marked as Python."""
    return source.lstrip().startswith(PYTHON_MARKER)


def load_file_function(reference: str, default_name: str, where: str, base: Path) -> PyFunction:
    """`x.py:name` (or `x.py`, meaning `default_name`) loaded as a function."""
    path_text, _, name = reference.partition(":")
    path = (base / path_text).resolve()
    if not path.is_file():
        raise ConfigError(f"{where}: no such Python file: {path}")
    module_name = f"wsllm_user_{next(_module_ids)}_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{where}: cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ConfigError(f"{where}: {path} failed to import: {type(exc).__name__}: {exc}") from exc
    function = getattr(module, name or default_name, None)
    if not callable(function):
        raise ConfigError(f"{where}: {path} has no function {name or default_name!r}")
    return function  # type: ignore[no-any-return]


def compile_inline(source: str, params: tuple[str, ...], where: str) -> PyFunction:
    """Inline code as a function of `params`: a one-line expression, or a body with `return`."""
    text = source.strip("\n")
    if text.lstrip().startswith(PYTHON_MARKER):
        text = text.lstrip()[len(PYTHON_MARKER) :].strip("\n")
    if "\n" in text.strip() or re.match(r"\s*return\b", text):
        body = textwrap.indent(textwrap.dedent(text), "    ")
    else:
        body = f"    return {text.strip()}"
    code = f"def __wsllm_function({', '.join(params)}):\n{body}\n"
    namespace: dict[str, Any] = {"json": json, "re": re, "math": math}
    try:
        exec(compile(code, where, "exec"), namespace)
    except SyntaxError as exc:
        raise ConfigError(
            f"{where}: Python does not compile: {exc.msg} (line {exc.lineno})"
        ) from exc
    function: PyFunction = namespace["__wsllm_function"]
    return function


def guarded(function: PyFunction, limit: float) -> PyFunction:
    """`function`, bounded in time, with the errors Python gives no words for put in words."""

    def call(*args: Any) -> Any:
        try:
            with bounded(limit):
                return function(*args)
        except MemoryError as exc:
            raise ScriptError("ran out of memory (MemoryError)") from exc
        except RecursionError as exc:
            raise ScriptError("recursed too deeply (RecursionError)") from exc

    return call
