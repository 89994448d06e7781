"""Assertions as a config writes them, checked against the registry of types at load: the type
and what it needs, a `file://` value read or compiled, a `transform`, assert-sets."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wsllm.evals.config.files import expand, load_data, read_text, reference_path
from wsllm.evals.functions.compiler import FunctionCompiler
from wsllm.evals.grading.registry import ASSERTIONS, AssertionType
from wsllm.evals.schema import Assertion, ScriptFunction
from wsllm.evals.validate import Where, check_keys, expect, number

ASSERT_KEYS = (
    "type", "value", "threshold", "weight", "metric", "provider", "config", "assert",
    "rubricPrompt", "transform", "alpha", "beta", "gamma",
)  # fmt: skip
_SCRIPTS = ("javascript", "python")
_CODE_FILES = (".js", ".cjs", ".mjs", ".py")
# Types whose grading prompt `rubricPrompt` replaces (promptfoo's g-eval and answer-relevance
# take theirs in other shapes, which are not supported).
RUBRIC_PROMPT_TYPES = ("llm-rubric", "model-graded-closedqa", "factuality")
# Compared across a test's outputs after the run: `not-` has no meaning for them.
_NO_INVERSE = ("select-best", "max-score")


@dataclass(frozen=True, slots=True)
class AssertionSource:
    """What assertions are read against: the config's folder, the compiler, and whether the
    test came from a tests file (where promptfoo reads `file://` values whole, untrimmed)."""

    base: Path
    compiler: FunctionCompiler
    from_file: bool = False


def load_assertion(value: Any, where: Where, source: AssertionSource) -> Assertion:
    """One assertion, checked and compiled."""
    spec = expect(value, (dict,), where)
    check_keys(spec, ASSERT_KEYS, where)
    full_type = str(expect(spec.get("type"), (str,), where.key("type")))
    inverse = full_type.startswith("not-")
    kind = full_type[4:] if inverse else full_type
    if inverse and kind in _NO_INVERSE:
        raise where.key("type").error(f"{kind} compares outputs; it has no `not-` form")
    threshold = spec.get("threshold")
    if spec.get("rubricPrompt") is not None:
        if kind not in RUBRIC_PROMPT_TYPES and kind != "assert-set":
            raise where.key("rubricPrompt").error(
                f"rubricPrompt replaces the grading prompt of {', '.join(RUBRIC_PROMPT_TYPES)}; "
                f"{kind} does not take one"
            )
        rubric = rubric_prompt(spec["rubricPrompt"], where.key("rubricPrompt"), source.base)
        spec = {**spec, "rubricPrompt": rubric}
    common: dict[str, Any] = {
        "type": kind, "inverse": inverse,
        "threshold": None if threshold is None else number(threshold, where.key("threshold")),
        "weight": number(spec.get("weight", 1), where.key("weight"), 0),
        "metric": None if spec.get("metric") is None else str(spec["metric"]), "raw": spec,
        "transform": _transform(spec.get("transform"), where.key("transform"), source.compiler),
    }  # fmt: skip
    if kind == "assert-set":
        members = expect(spec.get("assert"), (list,), where.key("assert"))
        children = tuple(load_assertion(m, where.key("assert").item(i), source)
                         for i, m in enumerate(members))  # fmt: skip
        return Assertion(value=spec.get("value"), children=children, **common)
    entry = _assertion_type(full_type, kind, where)
    value, value_function = _value(spec.get("value"), entry, where.key("value"), source)
    _check(entry, {**spec, "value": value}, value_function is not None, where)
    function = _script(entry, value, where, source.compiler)
    return Assertion(value=value, function=function, value_function=value_function, **common)


def rubric_prompt(value: Any, where: Where, base: Path) -> str:
    """A `rubricPrompt` as text: a `file://` read, a list of messages (or any object) as JSON."""
    if isinstance(value, str) and value.startswith("file://"):
        path = expand(value[7:], where, base)[0]
        if path.suffix in (".json", ".yaml", ".yml"):
            value = load_data(path, where)
        else:
            return read_text(path, where)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(expect(value, (str,), where))


def _transform(value: Any, where: Where, compiler: FunctionCompiler) -> ScriptFunction | None:
    if value is None:
        return None
    return compiler.transform(str(expect(value, (str,), where)), where)


def _assertion_type(full_type: str, kind: str, where: Where) -> AssertionType:
    if kind not in ASSERTIONS:
        known = ", ".join(ASSERTIONS.names())
        raise where.key("type").error(f"unknown assertion type {full_type!r} (known: {known})")
    return ASSERTIONS.get(kind)


def _value(value: Any, entry: AssertionType, where: Where,
           source: AssertionSource) -> tuple[Any, ScriptFunction | None]:  # fmt: skip
    """The value, with `file://` references read; a code file's function for non-script types."""
    if entry.name in _SCRIPTS:
        return value, None
    if isinstance(value, list):
        return [_file_value(v, where.item(i), source, code=False) if _is_file(v) else v
                for i, v in enumerate(value)], None  # fmt: skip
    if not _is_file(value):
        return value, None
    path = reference_path(value)
    if path.endswith(_CODE_FILES) and (not source.from_file or path != value[7:]):
        return None, source.compiler.file_function(value, where, "get_assert")
    return _file_value(value, where, source, code=True), None


def _is_file(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("file://")


def _file_value(reference: str, where: Where, source: AssertionSource, code: bool) -> Any:
    """A value from a file: JSON and YAML parsed, text trimmed (whole, in a tests file)."""
    path = expand(reference[7:], where, source.base)[0]
    if path.suffix in (".json", ".yaml", ".yml"):
        return load_data(path, where)
    if source.from_file:
        return read_text(path, where)
    if path.suffix == ".txt":
        return read_text(path, where).strip()
    kinds = ".txt, .json, .yaml, .yml" + (", or a .js or .py function" if code else "")
    raise where.error(f"unsupported file type {path.name!r} for a value: use {kinds}")


def _check(kind: AssertionType, spec: dict[str, Any], computed: bool, where: Where) -> None:
    """Check what the type needs (a value computed by a function is checked when it runs)."""
    value = spec.get("value")
    if not computed:
        if kind.needs == "value" and not isinstance(value, str | int | float | dict | list):
            raise where.key("value").error(f"a {kind.name} assertion needs a value")
        if kind.needs == "list" and not isinstance(value, str | list):
            raise where.key("value").error(
                f"a {kind.name} assertion needs a list (or comma-separated) value"
            )
    if kind.needs == "threshold" and spec.get("threshold") is None:
        raise where.key("threshold").error(
            f"a {kind.name} assertion needs a threshold in milliseconds"
        )
    if kind.check is not None:
        kind.check(spec, where)


def _script(kind: AssertionType, value: Any, where: Where,
            compiler: FunctionCompiler) -> ScriptFunction | None:  # fmt: skip
    if kind.needs != "script":
        return None
    source = str(expect(value, (str,), where.key("value")))
    if kind.name == "javascript":
        return compiler.javascript_assertion(source, where.key("value"))
    return compiler.python_assertion(source, where.key("value"))


_ASSERTION_STRING = re.compile(
    r"^(not-)?([a-z][a-z0-9-]*(?::(?:cosine|dot|euclidean))?)(?:\((\d+(?:\.\d+)?)\))?(?::\s?(.*))?$",
    re.S,
)
_ALIASES = {"fn": "javascript", "eval": "javascript", "grade": "llm-rubric"}


def parse_assertion_string(text: str) -> dict[str, Any]:
    """A CSV `__expected` cell as an assertion, read as promptfoo does (`contains: x`)."""
    match = _ASSERTION_STRING.match(text)
    if match:
        inverse, kind, threshold, value = match.groups()
        kind = _ALIASES.get(kind, kind)
        if kind == "assert-set" or kind in ASSERTIONS:
            spec: dict[str, Any] = {"type": f"{inverse or ''}{kind}"}
            if value is not None:
                spec["value"] = value.strip()
            if threshold is not None:
                spec["threshold"] = float(threshold)
            return spec
    return {"type": "equals", "value": text}
