"""Compile the functions a config names (streamResponse, transformResponse, script assertions)
once, at load, so broken ones stop the run before it starts."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from wsllm.client import folds
from wsllm.client.fold import FoldCall, StreamFunction
from wsllm.evals.functions import pyfuncs
from wsllm.evals.functions.bounds import DEFAULT_LIMIT_S
from wsllm.evals.functions.jsengine import JsEngine, JsFunction, JsStream, is_js_file
from wsllm.evals.schema import ScriptFunction
from wsllm.evals.validate import Where

STREAM_PARAMS = ("accumulator", "data", "context")
TRANSFORM_PARAMS = ("data",)
ASSERT_PARAMS = ("output", "context")
INITIAL_ACCUMULATOR: dict[str, Any] = {"error": "unknown error occurred"}


class PyStream:
    """A Python streamResponse: `(accumulator, event, context) -> (response, done)`."""

    def __init__(self, function: pyfuncs.PyFunction) -> None:
        self._function = function

    def start(self, context: dict[str, Any]) -> FoldCall:
        """Begin one call with promptfoo's initial accumulator."""
        return PyStreamCall(self._function, context)


class PyStreamCall:
    """One call's fold: the accumulator lives here."""

    def __init__(self, function: pyfuncs.PyFunction, context: dict[str, Any]) -> None:
        self._function = function
        self._context = context
        self._accumulator: Any = dict(INITIAL_ACCUMULATOR)

    def step(self, data: str) -> tuple[bool, Any]:
        """Feed one frame."""
        result = self._function(self._accumulator, {"data": data}, self._context)
        if not isinstance(result, tuple | list) or len(result) < 2:
            raise TypeError(f"streamResponse must return (response, done), got {result!r}")
        self._accumulator = result[0]
        return bool(result[1]), result[0]

    def close(self) -> None:
        """Nothing held outside Python."""


class FunctionCompiler:
    """Compiles user functions; the JavaScript engine starts on first use."""

    def __init__(self, base: Path, env: Mapping[str, str], limit_s: float = DEFAULT_LIMIT_S):
        self.base = base
        self._env = dict(env)
        self._limit = limit_s
        self._js: JsEngine | None = None
        self._made: dict[tuple[str, ...], Any] = {}

    @property
    def js(self) -> JsEngine:
        """The run's JavaScript engine, started on first use."""
        if self._js is None:
            self._js = JsEngine(self._env, self._limit)
        return self._js

    def stream_function(self, source: str, where: Where) -> StreamFunction:
        """streamResponse: JavaScript, unless a `.py` file or the `python:` marker says Python,
        or a built-in fold's name (`wsllm:responses`, `wsllm:seed`)."""
        if source.strip().startswith(folds.PREFIX):
            named = folds.builtin_fold(source)
            if named is None:
                known = ", ".join(folds.BUILTIN)
                raise where.error(f"no built-in fold is called {source.strip()!r} (known: {known})")
            return named
        python = self._python(source, STREAM_PARAMS, "stream_response", where)
        if python is not None:
            return PyStream(python)
        return JsStream(self.js, self.js.compile(source.strip(), STREAM_PARAMS, str(where),
                                                 self.base))  # fmt: skip

    def response_transform(self, source: str, where: Where) -> ScriptFunction:
        """transformResponse: JavaScript, unless a `.py` file or `python:` says Python."""
        python = self._python(source, TRANSFORM_PARAMS, "transform_response", where)
        if python is not None:
            return python
        index = self.js.compile(source.strip(), TRANSFORM_PARAMS, str(where), self.base)
        return JsFunction(self.js, index)

    def _once(self, key: tuple[str, ...], make: Callable[[], Any]) -> Any:
        """Compile each distinct function once (a defaultTest's assertion serves every test)."""
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]

    def transform(self, source: str, where: Where, input_name: str = "output") -> ScriptFunction:
        """A transform of an output (or of vars): `(input, context)`, inline or from a file."""
        return self._once(("transform", source, input_name),  # type: ignore[no-any-return]
                          lambda: self._transform(source, where, input_name))  # fmt: skip

    def _transform(self, source: str, where: Where, input_name: str) -> ScriptFunction:
        text = source.strip()
        if text.startswith("file://"):
            return self.file_function(text, where, "get_transform")
        python = self._python(source, (input_name, "context"), "get_transform", where)
        if python is not None:
            return python
        return JsFunction(self.js, self.js.compile(text, (input_name, "context"), str(where),
                                                   self.base))  # fmt: skip

    def file_function(self, reference: str, where: Where, python_default: str) -> ScriptFunction:
        """`file://x.js[:name]` or `file://x.py[:name]` (default `python_default`) as a function."""
        key = ("file", reference, python_default)
        function: ScriptFunction = self._once(
            key, lambda: self._file_function(reference, where, python_default)
        )
        return function

    def _file_function(self, reference: str, where: Where, python_default: str) -> ScriptFunction:
        path = reference.strip()[7:]
        if is_js_file(path):
            return JsFunction(self.js, self.js.compile(reference.strip(), (), str(where),
                                                       self.base))  # fmt: skip
        if path.split(":", 1)[0].endswith(".py"):
            function = pyfuncs.load_file_function(path, python_default, str(where), self.base)
            return pyfuncs.guarded(function, self._limit)
        raise where.error(
            f"unsupported file type in {reference.strip()!r}: give a .js, .cjs, .mjs or .py file"
        )

    def source_of(self, function: ScriptFunction) -> str | None:
        """A JavaScript function's source text (promptfoo shows it as a prompt's raw text)."""
        return self.js.source(function.index) if isinstance(function, JsFunction) else None

    def _python(self, source: str, params: tuple[str, ...], default: str, where: Where
                ) -> pyfuncs.PyFunction | None:  # fmt: skip
        text = source.strip()
        if text.startswith("file://") and text[7:].split(":", 1)[0].endswith(".py"):
            function = pyfuncs.load_file_function(text[7:], default, str(where), self.base)
        elif pyfuncs.is_inline_python(text):
            py_params = ("accumulator", "event", "context") if params == STREAM_PARAMS else params
            function = pyfuncs.compile_inline(text, py_params, str(where))
        else:
            return None
        return pyfuncs.guarded(function, self._limit)

    def javascript_assertion(self, source: str, where: Where) -> ScriptFunction:
        """A `javascript` assertion: an expression, a body with `return`, or a file."""
        return self._once(("javascript", source),  # type: ignore[no-any-return]
                          lambda: self._javascript_assertion(source, where))  # fmt: skip

    def _javascript_assertion(self, source: str, where: Where) -> ScriptFunction:
        text = source.rstrip()
        if not text.startswith("file://") and "\n" not in text:
            text = build_function_body(text)
        elif text.startswith("file://") and not is_js_file(text[7:]):
            raise where.error("a javascript assertion's file must be .js, .cjs or .mjs")
        return JsFunction(self.js, self.js.compile(text, ASSERT_PARAMS, str(where), self.base))

    def python_assertion(self, source: str, where: Where) -> ScriptFunction:
        """A `python` assertion: an expression, a body with `return`, or `file://x.py:fn`."""
        return self._once(("python", source),  # type: ignore[no-any-return]
                          lambda: self._python_assertion(source, where))  # fmt: skip

    def _python_assertion(self, source: str, where: Where) -> ScriptFunction:
        text = source.strip()
        if text.startswith("file://"):
            function = pyfuncs.load_file_function(text[7:], "get_assert", str(where), self.base)
        else:
            function = pyfuncs.compile_inline(source, ASSERT_PARAMS, str(where))
        return pyfuncs.guarded(function, self._limit)


def build_function_body(code: str) -> str:
    """One line of JavaScript as a function body: `return` the last expression."""
    trimmed = re.sub(r";+\s*$", "", code.strip())
    if re.match(r"^(const|let|var)\s", trimmed) and ";" in trimmed:
        statements, _, expression = trimmed.rpartition(";")
        if expression.strip():
            return f"{statements}; return {expression.strip()}"
        return trimmed
    return f"return {trimmed}"
