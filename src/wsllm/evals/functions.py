"""Compile the functions a config names (streamResponse, transformResponse, script assertions)."""

from __future__ import annotations

import re
from pathlib import Path

from wsllm.evals import pyfuncs
from wsllm.evals.jsengine import JsEngine, is_js_file
from wsllm.evals.model import Function
from wsllm.evals.validate import Where

STREAM_PARAMS = ("accumulator", "data", "context")
TRANSFORM_PARAMS = ("data",)
ASSERT_PARAMS = ("output", "context")


class FunctionCompiler:
    """Compiles user functions once, at load, so broken ones stop the run before it starts."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._js: JsEngine | None = None

    @property
    def js(self) -> JsEngine:
        """The run's JavaScript engine, started on first use."""
        if self._js is None:
            self._js = JsEngine()
        return self._js

    @property
    def started_engine(self) -> JsEngine | None:
        """The JavaScript engine, if any function needed it."""
        return self._js

    def target_function(self, source: str, params: tuple[str, ...], where: Where) -> Function:
        """streamResponse or transformResponse: JavaScript, unless a file or marker says Python."""
        text = source.strip()
        if text.startswith("file://") and text[7:].split(":", 1)[0].endswith(".py"):
            default = "stream_response" if params == STREAM_PARAMS else "transform_response"
            python = pyfuncs.load_file_function(text[7:], default, str(where), self.base)
            return Function("py", python=python)
        if pyfuncs.is_inline_python(text):
            py_params = ("accumulator", "event", "context") if params == STREAM_PARAMS else params
            return Function("py", python=pyfuncs.compile_inline(text, py_params, str(where)))
        return Function("js", js_index=self.js.compile(text, params, str(where), self.base))

    def javascript_assertion(self, source: str, where: Where) -> Function:
        """A `javascript` assertion: an expression, a body with `return`, or a file."""
        text = source.rstrip()
        if not text.startswith("file://") and "\n" not in text:
            text = build_function_body(text)
        elif text.startswith("file://") and not is_js_file(text[7:]):
            raise where.error("a javascript assertion's file must be .js, .cjs or .mjs")
        return Function("js", js_index=self.js.compile(text, ASSERT_PARAMS, str(where), self.base))

    def python_assertion(self, source: str, where: Where) -> Function:
        """A `python` assertion: an expression, a body with `return`, or `file://x.py:fn`."""
        text = source.strip()
        if text.startswith("file://"):
            python = pyfuncs.load_file_function(text[7:], "get_assert", str(where), self.base)
            return Function("py", python=python)
        return Function("py", python=pyfuncs.compile_inline(source, ASSERT_PARAMS, str(where)))


def build_function_body(code: str) -> str:
    """One line of JavaScript as a function body: `return` the last expression."""
    trimmed = re.sub(r";+\s*$", "", code.strip())
    if re.match(r"^(const|let|var)\s", trimmed) and ";" in trimmed:
        statements, _, expression = trimmed.rpartition(";")
        if expression.strip():
            return f"{statements}; return {expression.strip()}"
        return trimmed
    return f"return {trimmed}"
