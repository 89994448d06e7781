"""Deterministic assertions on the output's text, with promptfoo's semantics and wording."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from wsllm import textmetrics
from wsllm.evals.grading.context import GradingContext, verdict
from wsllm.evals.grading.registry import assertion
from wsllm.evals.results import GradingResult
from wsllm.evals.schema import Assertion
from wsllm.evals.validate import Where


@assertion("equals", needs="value")
def equals(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The output is the value (objects: the same JSON)."""
    if isinstance(value, dict | list):
        try:
            same = json.loads(c.text) == value
        except json.JSONDecodeError:
            same = False
        shown = json.dumps(value)
    else:
        same, shown = str(value) == c.text, str(value)
    return verdict(same, a, failure=lambda n: f'Expected output "{c.text}" to {n}equal "{shown}"')


@assertion("contains", needs="value")
def contains(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The value occurs in the output."""
    return verdict(
        str(value) in c.text, a, failure=lambda n: f'Expected output to {n}contain "{value}"'
    )


@assertion("icontains", needs="value")
def icontains(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The value occurs in the output, ignoring case."""
    found = str(value).lower() in c.text.lower()
    return verdict(found, a, failure=lambda n: f'Expected output to {n}contain "{value}"')


def split_quoted(value: Any) -> list[str]:
    """A list value, or a comma-separated one where "quoted, items" keep their commas."""
    if isinstance(value, list):
        return [str(v) for v in value]
    parts = re.findall(r'(".*?"|[^,]+)(?=\s*,|\s*$)', str(value))
    return [p.strip().strip('"') for p in parts]


def split_plain(value: Any) -> list[str]:
    """A list value, or a comma-separated one."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v.strip() for v in str(value).split(",")]


@assertion("contains-any", needs="list")
def contains_any(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """One of the values occurs in the output."""
    return _any_of(a, split_quoted(value), c.text, fold=False)


@assertion("icontains-any", needs="list")
def icontains_any(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """One of the values occurs in the output, ignoring case."""
    return _any_of(a, split_plain(value), c.text, fold=True)


def _any_of(a: Assertion, items: list[str], text: str, fold: bool) -> GradingResult:
    haystack = text.lower() if fold else text
    found = any((v.lower() if fold else v) in haystack for v in items)
    joined = ", ".join(items)
    return verdict(found, a, failure=lambda n: f'Expected output to {n}contain one of "{joined}"')


@assertion("contains-all", needs="list")
def contains_all(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """Every value occurs in the output."""
    return _all_of(a, split_plain(value), c.text, fold=False)


@assertion("icontains-all", needs="list")
def icontains_all(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """Every value occurs in the output, ignoring case."""
    return _all_of(a, split_plain(value), c.text, fold=True)


def _all_of(a: Assertion, items: list[str], text: str, fold: bool) -> GradingResult:
    haystack = text.lower() if fold else text
    missing = [v for v in items if (v.lower() if fold else v) not in haystack]

    def failure(n: str) -> str:
        return (
            f"Expected output to {n}contain all of [{', '.join(items)}]. "
            f"Missing: [{', '.join(missing)}]"
        )

    return verdict(not missing, a, failure=failure)


def _check_regex(spec: dict[str, Any], where: Where) -> None:
    value = spec.get("value")
    if isinstance(value, str) and "{" not in value:
        try:
            re.compile(value)
        except re.error as exc:
            raise where.key("value").error(f"invalid regular expression: {exc}") from exc


@assertion("regex", needs="value", check=_check_regex)
def regex(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The pattern matches somewhere in the output."""
    try:
        pattern = re.compile(str(value))
    except re.error as exc:
        return GradingResult(False, 0.0, f"Invalid regex pattern: {exc}")
    return verdict(
        bool(pattern.search(c.text)),
        a,
        failure=lambda n: f'Expected output to {n}match regex "{value}"',
    )


@assertion("starts-with", needs="value")
def starts_with(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The output begins with the value."""
    return verdict(
        c.text.startswith(str(value)),
        a,
        failure=lambda n: f'Expected output to {n}start with "{value}"',
    )


def _schema(value: Any) -> Any:
    return yaml.safe_load(value) if isinstance(value, str) else value


def schema_errors(schema: Any, instance: Any) -> str | None:
    """Why `instance` does not conform to the JSON schema, or None when it does."""
    import jsonschema  # only suites that check schemas pay for importing it

    kind = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    errors = sorted(kind(schema).iter_errors(instance), key=lambda e: list(e.path))
    if not errors:
        return None
    return "; ".join(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:5])


@assertion("is-json")
def is_json(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The output is JSON (conforming to the schema in the value, if one is given)."""
    try:
        parsed = json.loads(c.text)
    except json.JSONDecodeError:
        return verdict(False, a, failure=lambda n: f"Expected output to {n}be valid JSON")
    if value and not a.inverse:
        errors = schema_errors(_schema(value), parsed)
        if errors:
            reason = f"JSON does not conform to the provided schema. Errors: {errors}"
            return GradingResult(False, 0.0, reason)
    return verdict(True, a, failure=lambda n: f"Expected output to {n}be valid JSON")


@assertion("contains-json")
def contains_json(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """Some JSON in the output (conforming to the schema in the value, if one is given)."""
    found = textmetrics.json_values_in(c.text)
    if a.inverse or not value:
        return verdict(
            bool(found), a, failure=lambda n: f"Expected output to {n}contain valid JSON"
        )
    schema, reason = _schema(value), "Expected output to contain valid JSON"
    for candidate in found:
        errors = schema_errors(schema, candidate)
        if errors is None:
            return GradingResult(True, 1.0, "Assertion passed")
        reason = f"JSON does not conform to the provided schema. Errors: {errors}"
    return GradingResult(False, 0.0, reason)


@assertion("levenshtein", needs="value")
def levenshtein(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The edit distance to the value is at most the threshold (5)."""
    distance = textmetrics.levenshtein(c.text, str(value))
    threshold = a.threshold if a.threshold is not None else 5
    passed = distance <= threshold
    reason = (
        "Assertion passed"
        if passed
        else f"Levenshtein distance {distance} is greater than threshold {threshold:g}"
    )
    return GradingResult(passed, 1.0 if passed else 0.0, reason)


@assertion("rouge-n", needs="value")
def rouge_n(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """ROUGE-N against the value is at least the threshold (0.75)."""
    score = textmetrics.rouge_n(c.text, str(value))
    threshold = a.threshold if a.threshold is not None else 0.75
    relation = "is greater than or equal to" if score >= threshold else "is less than"
    reason = f"ROUGE-N score {score:.2f} {relation} threshold {threshold:g}"
    return verdict(score >= threshold, a, score=score, reason=reason)
