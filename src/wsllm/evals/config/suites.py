"""Prompts and tests from a config: inline, or from text, CSV, YAML, JSON and JSONL files."""

from __future__ import annotations

import csv
import glob
import io
import itertools
import json
import re
from pathlib import Path
from typing import Any

from wsllm.errors import ConfigError
from wsllm.evals.config.yamlsafe import load_yaml
from wsllm.evals.functions.compiler import FunctionCompiler
from wsllm.evals.grading.registry import ASSERTIONS, AssertionType
from wsllm.evals.schema import Assertion, Prompt, ScriptFunction, TestCase
from wsllm.evals.templates import compile_template
from wsllm.evals.validate import Where, check_keys, expect, number

TEST_KEYS = ("vars", "assert", "description", "threshold", "metadata", "options")
ASSERT_KEYS = (
    "type", "value", "threshold", "weight", "metric", "provider", "config", "assert",
    "rubricPrompt",
)  # fmt: skip


def load_prompts(value: Any, where: Where, base: Path) -> list[Prompt]:
    """The prompts: strings, `file://` text files (split on `---` lines), or {raw, label}."""
    if value is None:
        raise where.error("missing: give at least one prompt, such as '{{question}}'")
    items = [value] if isinstance(value, str | dict) else expect(value, (list,), where)
    prompts: list[Prompt] = []
    for i, item in enumerate(items):
        prompts += _prompt(
            item, where.item(i) if not isinstance(value, str | dict) else where, base
        )
    if not prompts:
        raise where.error("empty: give at least one prompt")
    return prompts


def _prompt(item: Any, where: Where, base: Path) -> list[Prompt]:
    if isinstance(item, dict):
        check_keys(item, ("raw", "label", "id"), where)
        raw = item.get("raw") or item.get("id")
        text = str(expect(raw, (str,), where.key("raw")))
        prompts = _prompt(text, where, base)
        label = item.get("label")
        return [Prompt(p.raw, str(label)) for p in prompts] if label else prompts
    text = str(expect(item, (str,), where))
    if text.startswith("file://"):
        return _prompt_files(text[7:], where, base)
    _check_template(text, where)
    return [Prompt(text, text)]


def _prompt_files(pattern: str, where: Where, base: Path) -> list[Prompt]:
    prompts = []
    for path in _expand(pattern, where, base):
        parts = re.split(r"^---\s*$", _read_text(path, where), flags=re.M)
        for part in (p.strip() for p in parts):
            if part:
                _check_template(part, where)
                prompts.append(Prompt(part, f"{path.name}: {part[:50]}"))
    return prompts


def _check_template(text: str, where: Where) -> None:
    try:
        compile_template(text)
    except ConfigError as exc:
        raise where.error(str(exc)) from exc


def _expand(pattern: str, where: Where, base: Path) -> list[Path]:
    full = str(base / pattern)
    paths = sorted(Path(p) for p in glob.glob(full)) if glob.has_magic(full) else [Path(full)]
    if not paths or not all(p.is_file() for p in paths):
        missing = next((p for p in paths if not p.is_file()), Path(full))
        raise where.error(f"no such file: {missing}")
    return paths


def _read_text(path: Path, where: Where) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise where.error(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise where.error(
            f"{path} is not UTF-8 text (byte {exc.start} cannot be decoded); save it as UTF-8"
        ) from exc


def load_tests(
    raw: dict[str, Any], where: Where, base: Path, compiler: FunctionCompiler
) -> list[TestCase]:
    """Every test, with defaultTest merged in and list-valued vars expanded."""
    default = _default_test(raw.get("defaultTest"), where.key("defaultTest"), base)
    specs = _test_specs(raw.get("tests"), where.key("tests"), base)
    tests: list[TestCase] = []
    for spec, spec_where in specs:
        merged = _merge(default, spec)
        for variables in _expand_vars(merged.get("vars") or {}, spec_where, base):
            tests.append(_test(len(tests), merged, variables, spec_where, compiler))
    return tests


def _default_test(value: Any, where: Where, base: Path) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str) and value.startswith("file://"):
        value = _load_data(_expand(value[7:], where, base)[0], where)
    spec: dict[str, Any] = expect(value, (dict,), where)
    check_keys(spec, TEST_KEYS, where)
    return spec


def _test_specs(value: Any, where: Where, base: Path) -> list[tuple[dict[str, Any], Where]]:
    if value is None:
        return [({}, where)]
    items = [value] if isinstance(value, str) else expect(value, (list,), where)
    specs: list[tuple[dict[str, Any], Where]] = []
    for i, item in enumerate(items):
        item_where = where if isinstance(value, str) else where.item(i)
        if isinstance(item, str) and item.startswith("file://"):
            for path in _expand(item[7:], item_where, base):
                specs += _tests_from_file(path, Where(path.name))
        else:
            specs.append((expect(item, (dict,), item_where), item_where))
    return specs


def _tests_from_file(path: Path, where: Where) -> list[tuple[dict[str, Any], Where]]:
    if path.suffix == ".csv":
        return [(spec, where.item(i)) for i, spec in enumerate(_csv_tests(path, where))]
    if path.suffix == ".jsonl":
        lines = _read_text(path, where).splitlines()
        return [
            (_json_line(line, where.item(i)), where.item(i))
            for i, line in enumerate(lines)
            if line.strip()
        ]
    data = _load_data(path, where)
    items = data if isinstance(data, list) else [data]
    return [(expect(item, (dict,), where.item(i)), where.item(i)) for i, item in enumerate(items)]


def _json_line(line: str, where: Where) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise where.error(f"invalid JSON: {exc.msg}") from exc
    return expect(value, (dict,), where)  # type: ignore[no-any-return]


def _load_data(path: Path, where: Where) -> Any:
    text = _read_text(path, where)
    if path.suffix != ".json":
        return load_yaml(text, path.name)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Where(path.name).error(f"cannot parse: {exc}") from exc


def _csv_tests(path: Path, where: Where) -> list[dict[str, Any]]:
    text = _read_text(path, where).removeprefix("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    return [_csv_test(row, where.item(i)) for i, row in enumerate(rows)]


def _csv_test(row: dict[str, Any], where: Where) -> dict[str, Any]:
    spec: dict[str, Any] = {"vars": {}, "assert": [], "metadata": {}}
    for column, cell in row.items():
        value = "" if cell is None else str(cell)
        if column is None:
            raise where.error("a row has more cells than the header has columns")
        if column.startswith("__expected"):
            if value.strip():
                spec["assert"].append(parse_assertion_string(value.strip()))
        elif column == "__description":
            spec["description"] = value
        elif column == "__threshold":
            spec["threshold"] = float(value) if value else None
        elif column.startswith("__metadata:"):
            spec["metadata"][column.split(":", 1)[1]] = value
        elif not column.startswith("__"):
            spec["vars"][column] = value
    return spec


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


def _merge(default: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    merged = {**default, **spec}
    merged["vars"] = {**(default.get("vars") or {}), **(spec.get("vars") or {})}
    merged["assert"] = [*(default.get("assert") or []), *(spec.get("assert") or [])]
    merged["options"] = {**(default.get("options") or {}), **(spec.get("options") or {})}
    merged["metadata"] = {**(default.get("metadata") or {}), **(spec.get("metadata") or {})}
    return merged


def _expand_vars(value: Any, where: Where, base: Path) -> list[dict[str, Any]]:
    variables = expect(value, (dict,), where.key("vars"))
    resolved = {k: _var_value(v, where.key(f"vars.{k}"), base) for k, v in variables.items()}
    lists = {k: v for k, v in resolved.items() if isinstance(v, list)}
    if not lists:
        return [resolved]
    # promptfoo runs a test once per combination of list-valued vars.
    combos = itertools.product(*lists.values())
    return [{**resolved, **dict(zip(lists, combo, strict=True))} for combo in combos]


def _var_value(value: Any, where: Where, base: Path) -> Any:
    if isinstance(value, str) and value.startswith("file://"):
        path = _expand(value[7:], where, base)[0]
        return (
            _load_data(path, where)
            if path.suffix in (".json", ".yaml", ".yml")
            else _read_text(path, where)
        )
    return value


def _test(
    index: int,
    spec: dict[str, Any],
    variables: dict[str, Any],
    where: Where,
    compiler: FunctionCompiler,
) -> TestCase:
    check_keys(spec, TEST_KEYS, where)
    asserts = expect(spec.get("assert") or [], (list,), where.key("assert"))
    threshold = spec.get("threshold")
    description = spec.get("description")
    return TestCase(
        index=index,
        description=None if description is None else str(description),
        vars=variables,
        asserts=tuple(
            _assertion(a, where.key("assert").item(i), compiler) for i, a in enumerate(asserts)
        ),
        threshold=None if threshold is None else number(threshold, where.key("threshold")),
        metadata=dict(expect(spec.get("metadata") or {}, (dict,), where.key("metadata"))),
        options=dict(expect(spec.get("options") or {}, (dict,), where.key("options"))),
        raw=spec,
    )


def _assertion(value: Any, where: Where, compiler: FunctionCompiler) -> Assertion:
    spec = expect(value, (dict,), where)
    check_keys(spec, ASSERT_KEYS, where)
    full_type = str(expect(spec.get("type"), (str,), where.key("type")))
    inverse = full_type.startswith("not-")
    kind = full_type[4:] if inverse else full_type
    children: tuple[Assertion, ...] = ()
    function = None
    if kind == "assert-set":
        members = expect(spec.get("assert"), (list,), where.key("assert"))
        children = tuple(
            _assertion(m, where.key("assert").item(i), compiler) for i, m in enumerate(members)
        )
    else:
        function = _check(_assertion_type(full_type, kind, where), spec, where, compiler)
    threshold = spec.get("threshold")
    return Assertion(
        type=kind,
        inverse=inverse,
        value=spec.get("value"),
        threshold=None if threshold is None else number(threshold, where.key("threshold")),
        weight=number(spec.get("weight", 1), where.key("weight"), 0),
        metric=None if spec.get("metric") is None else str(spec["metric"]),
        raw=spec,
        function=function,
        children=children,
    )


def _assertion_type(full_type: str, kind: str, where: Where) -> AssertionType:
    if kind not in ASSERTIONS:
        known = ", ".join(ASSERTIONS.names())
        raise where.key("type").error(f"unknown assertion type {full_type!r} (known: {known})")
    return ASSERTIONS.get(kind)


def _check(kind: AssertionType, spec: dict[str, Any], where: Where,
           compiler: FunctionCompiler) -> ScriptFunction | None:  # fmt: skip
    """Check what the type needs; compile a script's function."""
    value = spec.get("value")
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
    if kind.needs != "script":
        return None
    source = str(expect(value, (str,), where.key("value")))
    if kind.name == "javascript":
        return compiler.javascript_assertion(source, where.key("value"))
    return compiler.python_assertion(source, where.key("value"))
