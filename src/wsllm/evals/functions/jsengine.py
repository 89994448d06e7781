"""JavaScript functions from configs, run in an embedded QuickJS interpreter (about 3 us a call).

Functions take the forms promptfoo accepts: an arrow or function expression, a body with `return`,
a bare expression, or `file://x.js:name`. Values cross the boundary as JSON text.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import quickjs

from wsllm.errors import ConfigError, ScriptError

_FUNCTION_EXPRESSION = re.compile(
    r"^(\(.*?\)\s*=>|function\s*\(.*?\)|async\s|[A-Za-z_$][\w$]*\s*=>)", re.S
)
_RETURN = re.compile(r"\breturn\b")

_PRELUDE = """
globalThis.__fns = [];
globalThis.__states = {};
globalThis.__callStream = function (fi, id, data) {
  const state = __states[id];
  const result = __fns[fi](state.acc, { data: data }, state.context);
  if (!Array.isArray(result) || result.length < 2) {
    throw new Error('streamResponse must return [response, done], got ' + JSON.stringify(result));
  }
  state.acc = result[0];
  if (!result[1]) return null;
  delete __states[id];
  return JSON.stringify(result[0] === undefined ? null : result[0]);
};
globalThis.__beginStream = function (id, context) {
  __states[id] = { acc: { error: 'unknown error occurred' }, context: JSON.parse(context) };
};
globalThis.__endStream = function (id) { delete __states[id]; };
globalThis.__asProvider = function (value) {
  // A target passed to a function as promptfoo passes a provider: its id is a method.
  if (value && typeof value === 'object' && value.__provider__) {
    const id = value.id;
    return { id: () => id, label: value.label, config: value.config || {} };
  }
  return value;
};
globalThis.__callJson = function (fi, argsJson) {
  const result = __fns[fi].apply(null, JSON.parse(argsJson).map(__asProvider));
  if (result && typeof result.then === 'function') {
    const box = globalThis.__pending = { done: false };
    result.then((v) => { box.done = true; box.value = v; },
                (e) => { box.done = true; box.error = e; box.failed = true; });
    return undefined;
  }
  return JSON.stringify(result === undefined ? null : result);
};
globalThis.__settled = function () {
  const box = globalThis.__pending;
  globalThis.__pending = null;
  if (!box.done) throw new Error('returned a promise that never settled');
  if (box.failed) throw box.error;
  return JSON.stringify(box.value === undefined ? null : box.value);
};
"""


def is_js_file(path: str) -> bool:
    """Whether a `file://` reference names a JavaScript file."""
    return path.split(":", 1)[0].endswith((".js", ".cjs", ".mjs"))


class JsEngine:
    """One interpreter for a run; functions are compiled once and called by index."""

    def __init__(self, env: Mapping[str, str], time_limit_s: float = 10.0) -> None:
        self._ctx = quickjs.Context()
        self._ctx.set_time_limit(time_limit_s)
        self._ctx.set_memory_limit(512 * 1024 * 1024)
        self._ctx.eval(_PRELUDE)
        # Functions see the variables the config names in `env`, not the whole environment.
        self._ctx.eval(f"globalThis.process = {{ env: {json.dumps(dict(env))} }};")
        self._count = itertools.count()
        self._ids = itertools.count()
        self._call_stream = self._ctx.get("__callStream")
        self._begin = self._ctx.get("__beginStream")
        self._end = self._ctx.get("__endStream")
        self._call_json = self._ctx.get("__callJson")
        self._settled = self._ctx.get("__settled")

    def compile(self, source: str, params: tuple[str, ...], where: str, base: Path) -> int:
        """Compile a function in any promptfoo form; return its index. ConfigError if it won't."""
        text = source.strip()
        if text.startswith("file://"):
            expression = self._from_file(text[7:], where, base)
        elif _FUNCTION_EXPRESSION.match(text):
            expression = f"({text})"
        elif _RETURN.search(text):
            expression = f"(function ({', '.join(params)}) {{\n{text}\n}})"
        else:
            expression = f"(function ({', '.join(params)}) {{ return ({text}); }})"
        index = next(self._count)
        try:
            self._ctx.eval(f"__fns[{index}] = {expression};")
            kind = self._ctx.eval(f"typeof __fns[{index}]")
        except quickjs.JSException as exc:
            raise ConfigError(f"{where}: JavaScript does not compile: {_first_line(exc)}") from exc
        if kind != "function":
            raise ConfigError(f"{where}: expected a JavaScript function, got a {kind}")
        return index

    def _from_file(self, reference: str, where: str, base: Path) -> str:
        path_text, _, name = reference.partition(":")
        path = (base / path_text).resolve()
        try:
            code = path.read_text()
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read {path}: {exc.strerror}") from exc
        module = _as_commonjs(code)
        pick = f"m[{json.dumps(name)}]" if name else "(typeof m === 'function' ? m : m.default)"
        return (
            "(function () { const module = { exports: {} }; const exports = module.exports;\n"
            f"{module}\n const m = module.exports; return {pick}; }})()"
        )

    def begin_stream(self, context: dict[str, Any]) -> int:
        """Start one call's accumulator; returns the call id."""
        call_id = next(self._ids)
        self._begin(call_id, json.dumps(context, default=str))
        return call_id

    def stream_step(self, index: int, call_id: int, data: str) -> str | None:
        """Feed one frame; the final response as JSON once the function says done, else None."""
        try:
            result: str | None = self._call_stream(index, call_id, data)
        except quickjs.JSException as exc:
            self._end(call_id)
            raise ScriptError(_first_line(exc)) from exc
        return result

    def end_stream(self, call_id: int) -> None:
        """Forget a call's accumulator (the stream ended early)."""
        self._end(call_id)

    def call(self, index: int, *args: Any) -> Any:
        """Call a function with JSON-able arguments; return its JSON-able result (an async
        function's promise is run to its end first)."""
        try:
            result = self._call_json(index, json.dumps(args, default=str))
            if result is None:
                while self._ctx.execute_pending_job():
                    pass
                result = self._settled()
        except quickjs.JSException as exc:
            raise ScriptError(_first_line(exc)) from exc
        return json.loads(result)

    def source(self, index: int) -> str:
        """A compiled function's source text, as JavaScript's String(fn) gives it."""
        text: str = self._ctx.eval(f"String(__fns[{index}])")
        return text


def _as_commonjs(code: str) -> str:
    """Let simple ES-module files run as CommonJS: `export default` and named exports."""
    code = re.sub(r"^export\s+default\s+", "module.exports.default = ", code, flags=re.M)
    names = re.findall(
        r"^export\s+(?:async\s+)?(?:function\*?|const|let|var|class)\s+([\w$]+)", code, re.M
    )
    code = re.sub(
        r"^export\s+(?=(?:async\s+)?(?:function|const|let|var|class)\b)", "", code, flags=re.M
    )
    tail = "".join(f"\nmodule.exports.{n} = {n};" for n in names)
    return code + tail


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class JsFunction:
    """A compiled function called with JSON-able arguments: transforms and assertions."""

    def __init__(self, engine: JsEngine, index: int) -> None:
        self._engine = engine
        self.index = index

    def __call__(self, *args: Any) -> Any:
        return self._engine.call(self.index, *args)


class JsStream:
    """A compiled streamResponse; each call keeps its accumulator inside the engine."""

    def __init__(self, engine: JsEngine, index: int) -> None:
        self._engine = engine
        self._index = index

    def start(self, context: dict[str, Any]) -> JsStreamCall:
        """Begin one call."""
        return JsStreamCall(self._engine, self._index, self._engine.begin_stream(context))


class JsStreamCall:
    """One call's fold in the engine."""

    def __init__(self, engine: JsEngine, index: int, call_id: int) -> None:
        self._engine = engine
        self._index = index
        self._id: int | None = call_id

    def step(self, data: str) -> tuple[bool, Any]:
        """Feed one frame; (done, the final response when done)."""
        assert self._id is not None
        final = self._engine.stream_step(self._index, self._id, data)
        if final is None:
            return False, None
        self._id = None
        return True, json.loads(final)

    def close(self) -> None:
        """Forget the accumulator of an unfinished call."""
        if self._id is not None:
            self._engine.end_stream(self._id)
            self._id = None
