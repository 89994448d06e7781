"""Tests from a config: inline, or from CSV, YAML, JSON and JSONL files; `defaultTest` merged in,
`scenarios` expanded, `transformVars` applied, and list-valued vars expanded, as promptfoo does."""

from __future__ import annotations

import csv
import io
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsllm.errors import WsllmError
from wsllm.evals.config.assertions import (
    RUBRIC_PROMPT_TYPES,
    AssertionSource,
    load_assertion,
    parse_assertion_string,
    rubric_prompt,
)
from wsllm.evals.config.files import expand, load_data, read_text
from wsllm.evals.config.targets import refs
from wsllm.evals.functions.compiler import FunctionCompiler
from wsllm.evals.refs import prompt_matches, target_matches
from wsllm.evals.schema import Assertion, Prompt, ScriptFunction, Target, TestCase
from wsllm.evals.validate import Where, check_keys, expect, number

TEST_KEYS = (
    "vars", "assert", "description", "threshold", "metadata", "options", "providers", "prompts",
)  # fmt: skip
OPTION_KEYS = (
    "transform", "postprocess", "transformVars", "prefix", "suffix", "provider", "factuality",
    "disableVarExpansion", "rubricPrompt",
)  # fmt: skip
SCENARIO_KEYS = ("description", "config", "tests")

Spec = tuple[dict[str, Any], Where, bool]


@dataclass(frozen=True, slots=True)
class TestSource:
    """What tests are read against: the folder, the compiler, the prompts and targets that
    filters name, and `--var` values."""

    base: Path
    compiler: FunctionCompiler
    prompts: list[Prompt]
    targets: list[Target]
    extra_vars: dict[str, Any] = field(default_factory=dict)


def load_tests(raw: dict[str, Any], where: Where, source: TestSource) -> list[TestCase]:
    """Every test, one per combination of its vars, in promptfoo's order."""
    default = default_test(raw.get("defaultTest"), where.key("defaultTest"), source.base)
    default["vars"] = {**(default.get("vars") or {}), **source.extra_vars}
    metadata = expect(raw.get("metadata") or {}, (dict,), where.key("metadata"))
    default["metadata"] = {**metadata, **(default.get("metadata") or {})}
    specs = test_specs(raw.get("tests"), where.key("tests"), source.base)
    specs += _scenario_specs(raw.get("scenarios"), where.key("scenarios"), source.base)
    tests: list[TestCase] = []
    for group, (spec, place, from_file) in enumerate(specs):
        check_keys(spec, TEST_KEYS, place)
        merged = merge(default, spec)
        _check_refs(merged, place, source)
        variables = _transformed_vars(merged, place, source.compiler)
        assertions = AssertionSource(source.base, source.compiler, from_file)
        disabled = bool((merged.get("options") or {}).get("disableVarExpansion"))
        for combo in expand_vars(variables, place, source.base, disabled):
            tests.append(_test(len(tests), group, merged, combo, place, assertions))
    return tests


def default_test(value: Any, where: Where, base: Path) -> dict[str, Any]:
    """`defaultTest`, inline or from a file."""
    if value is None:
        return {}
    if isinstance(value, str) and value.startswith("file://"):
        path = expand(value[7:], where, base)[0]
        value, where = load_data(path, where), Where(path.name)
    spec: dict[str, Any] = dict(expect(value, (dict,), where))
    check_keys(spec, TEST_KEYS, where)
    return spec


def test_specs(value: Any, where: Where, base: Path) -> list[Spec]:
    """The raw tests: a list of tests and files, or one file or glob."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else expect(value, (list,), where)
    specs: list[Spec] = []
    for i, item in enumerate(items):
        item_where = where if isinstance(value, str) else where.item(i)
        if isinstance(item, str):
            reference = item.removeprefix("file://")
            for path in expand(reference, item_where, base):
                specs += [(s, w, True) for s, w in _tests_from_file(path, Where(path.name))]
        else:
            specs.append((expect(item, (dict,), item_where), item_where, False))
    return specs


def _scenario_specs(value: Any, where: Where, base: Path) -> list[Spec]:
    """Each scenario's tests under each of its `config` entries, as promptfoo combines them."""
    if value is None:
        return []
    scenarios = _listed(value, where, base)
    specs: list[Spec] = []
    count = itertools.count()
    for i, scenario in enumerate(scenarios):
        place = where.item(i)
        check_keys(expect(scenario, (dict,), place), SCENARIO_KEYS, place)
        entries = _listed(scenario.get("config"), place.key("config"), base)
        tests = test_specs(scenario.get("tests"), place.key("tests"), base) or [({}, place, False)]
        for j, data in enumerate(entries):
            data = expect(data, (dict,), place.key("config").item(j))
            conversation = f"__scenario_{next(count)}__"
            specs += [(_scenario_test(data, test, conversation), w, f) for test, w, f in tests]
    return specs


def _listed(value: Any, where: Where, base: Path) -> list[Any]:
    if isinstance(value, str) and value.startswith("file://"):
        data = load_data(expand(value[7:], where, base)[0], where)
        return data if isinstance(data, list) else [data]
    return list(expect(value if value is not None else [], (list,), where))


def _scenario_test(data: dict[str, Any], test: dict[str, Any], conversation: str
                   ) -> dict[str, Any]:  # fmt: skip
    merged = {**data, **test}
    merged["vars"] = {**(data.get("vars") or {}), **(test.get("vars") or {})}
    merged["options"] = dict(test.get("options") or {})
    merged["assert"] = [*(data.get("assert") or []), *(test.get("assert") or [])]
    metadata = {**(data.get("metadata") or {}), **(test.get("metadata") or {})}
    merged["metadata"] = {"conversationId": conversation, **metadata}
    return merged


def _tests_from_file(path: Path, where: Where) -> list[tuple[dict[str, Any], Where]]:
    if path.suffix == ".csv":
        return [(spec, where.item(i)) for i, spec in enumerate(_csv_tests(path, where))]
    if path.suffix == ".jsonl":
        lines = read_text(path, where).splitlines()
        return [
            (_json_line(line, where.item(i)), where.item(i))
            for i, line in enumerate(lines)
            if line.strip()
        ]
    if path.suffix not in (".yaml", ".yml", ".json"):
        raise where.error("a tests file must be .csv, .jsonl, .json, .yaml or .yml")
    data = load_data(path, where)
    items = data if isinstance(data, list) else [data]
    return [(expect(item, (dict,), where.item(i)), where.item(i)) for i, item in enumerate(items)]


def _json_line(line: str, where: Where) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise where.error(f"invalid JSON: {exc.msg}") from exc
    return expect(value, (dict,), where)  # type: ignore[no-any-return]


def _csv_tests(path: Path, where: Where) -> list[dict[str, Any]]:
    text = read_text(path, where).removeprefix("\ufeff")
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise where.error(f"invalid CSV: {exc}") from exc
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
            spec["threshold"] = _csv_number(value, where.key(column))
        elif column.startswith("__metadata:"):
            spec["metadata"][column.split(":", 1)[1]] = value
        elif not column.startswith("__"):
            spec["vars"][column] = value
    return spec


def _csv_number(text: str, where: Where) -> float | None:
    try:
        return float(text) if text.strip() else None
    except ValueError as exc:
        raise where.error(f"expected a number, got {text!r}") from exc


def merge(default: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """A test with `defaultTest` under it: vars, options and metadata merged (the test's win),
    the default's assertions first."""
    merged = {**default, **spec}
    merged["vars"] = {**(default.get("vars") or {}), **(spec.get("vars") or {})}
    merged["assert"] = [*(default.get("assert") or []), *(spec.get("assert") or [])]
    merged["options"] = {**(default.get("options") or {}), **(spec.get("options") or {})}
    merged["metadata"] = {**(default.get("metadata") or {}), **(spec.get("metadata") or {})}
    return merged


def _check_refs(spec: dict[str, Any], where: Where, source: TestSource) -> None:
    for ref in refs(spec.get("providers"), where.key("providers")) or ():
        if not any(target_matches(ref, t) for t in source.targets):
            known = ", ".join(f"{t.given_label or t.id}" for t in source.targets)
            raise where.key("providers").error(
                f"names target {ref!r}, which does not exist (targets: {known})"
            )
    for ref in refs(spec.get("prompts"), where.key("prompts")) or ():
        if not any(prompt_matches(ref, p) for p in source.prompts):
            known = ", ".join(repr(p.label) for p in source.prompts)
            raise where.key("prompts").error(
                f"names prompt {ref!r}, which does not exist (prompts: {known})"
            )


def _transformed_vars(spec: dict[str, Any], where: Where,
                      compiler: FunctionCompiler) -> dict[str, Any]:  # fmt: skip
    """The test's vars, with `options.transformVars` applied once, before expansion."""
    variables = dict(expect(spec.get("vars") or {}, (dict,), where.key("vars")))
    options = expect(spec.get("options") or {}, (dict,), where.key("options"))
    code = options.get("transformVars")
    if code is None:
        return variables
    place = where.key("options.transformVars")
    function = compiler.transform(str(expect(code, (str,), place)), place, "vars")
    try:
        result = function(variables, {"prompt": {}, "uuid": _uuid()})
    except WsllmError as exc:
        raise place.error(f"transformVars failed: {exc}") from exc
    except Exception as exc:
        raise place.error(f"transformVars failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(result, dict):
        raise place.error(f"transformVars must return an object of vars, got {result!r}")
    return {**variables, **result}


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def expand_vars(variables: dict[str, Any], where: Where, base: Path,
                disabled: bool = False) -> list[dict[str, Any]]:  # fmt: skip
    """One set of vars per combination: a list whose first item is a string, and a `file://`
    glob, give one value each; other lists are one value."""
    choices: dict[str, list[Any]] = {}
    for name, value in variables.items():
        if isinstance(value, str) and value.startswith("file://"):
            choices[name] = _file_choices(value, where.key(f"vars.{name}"), base)
        elif isinstance(value, list) and value and isinstance(value[0], str) and not disabled:
            choices[name] = value
        else:
            choices[name] = [value]
    names = list(choices)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices.values())]


def _file_choices(value: str, where: Where, base: Path) -> list[str]:
    paths = expand(value[7:], where, base)
    if len(paths) == 1 and not any(c in value for c in "*?["):
        return [value]
    return [f"file://{path.relative_to(base).as_posix()}" for path in paths]


def _test(index: int, group: int, spec: dict[str, Any], variables: dict[str, Any],
          where: Where, source: AssertionSource) -> TestCase:  # fmt: skip
    asserts = expect(spec.get("assert") or [], (list,), where.key("assert"))
    options = _options(spec.get("options"), where.key("options"))
    loaded = tuple(
        load_assertion(a, where.key("assert").item(i), source) for i, a in enumerate(asserts)
    )
    if options.get("rubricPrompt") is not None:
        place = where.key("options").key("rubricPrompt")
        options["rubricPrompt"] = rubric_prompt(options["rubricPrompt"], place, source.base)
        _rubric_prompt_fits(loaded, place)
    description = spec.get("description")
    threshold = spec.get("threshold")
    return TestCase(
        index=index,
        description=None if description is None else str(description),
        vars=variables,
        asserts=loaded,
        threshold=None if threshold is None else number(threshold, where.key("threshold")),
        metadata=dict(expect(spec.get("metadata") or {}, (dict,), where.key("metadata"))),
        options=options,
        raw={**spec, "vars": variables, "options": options},
        group=group,
        transform=_output_transform(options, where.key("options"), source.compiler),
        prefix=_text_option(options, "prefix", where),
        suffix=_text_option(options, "suffix", where),
        targets=refs(spec.get("providers"), where.key("providers")),
        prompts=refs(spec.get("prompts"), where.key("prompts")),
    )


def _rubric_prompt_fits(asserts: tuple[Assertion, ...], where: Where) -> None:
    """A test's `rubricPrompt` must not meet a model-graded type it cannot be used for."""
    for item in asserts:
        _rubric_prompt_fits(item.children, where)
        if item.type in ("g-eval", "answer-relevance"):
            raise where.error(
                f"rubricPrompt replaces the grading prompt of {', '.join(RUBRIC_PROMPT_TYPES)}; "
                f"this test's {item.type} assertion does not take one"
            )


def _options(value: Any, where: Where) -> dict[str, Any]:
    options = dict(expect(value or {}, (dict,), where))
    check_keys(options, OPTION_KEYS, where)
    return options


def _output_transform(options: dict[str, Any], where: Where,
                      compiler: FunctionCompiler) -> ScriptFunction | None:  # fmt: skip
    key = "transform" if options.get("transform") is not None else "postprocess"
    if options.get(key) is None:
        return None
    place = where.key(key)
    return compiler.transform(str(expect(options[key], (str,), place)), place)


def _text_option(options: dict[str, Any], key: str, where: Where) -> str:
    value = options.get(key)
    return "" if value is None else str(expect(value, (str,), where.key(f"options.{key}")))
