"""Deterministic assertions on the output's text, with promptfoo's semantics and wording."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from wsllm import textmetrics
from wsllm.evals.grading.context import GradingContext, verdict
from wsllm.evals.grading.registry import assertion
from wsllm.evals.jsvalues import number_text
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


class _JsRegex:
    """JavaScript's RegExp (QuickJS, in process): configs write their patterns for JavaScript,
    where `\\w` is ASCII, `$` ends the text and `(?i)` is an error."""

    _test: Any = None

    @classmethod
    def test(cls, pattern: str, text: str) -> bool:
        """`new RegExp(pattern).test(text)`; ValueError with JavaScript's words if invalid."""
        if cls._test is None:
            import quickjs

            context = quickjs.Context()
            context.set_time_limit(5)
            cls._test = context.eval("(p, t) => new RegExp(p).test(t)")
        try:
            return bool(cls._test(pattern, text))
        except Exception as exc:  # quickjs.JSException: the pattern is not valid JavaScript
            detail = str(exc).strip().splitlines()[0].removeprefix("SyntaxError: ")
            detail = detail[:1].upper() + detail[1:]
            raise ValueError(f"Invalid regular expression: /{pattern}/: {detail}") from None


def _check_regex(spec: dict[str, Any], where: Where) -> None:
    value = spec.get("value")
    if not isinstance(value, str) or not value:
        raise where.key("value").error("a regex assertion needs a pattern (a non-empty string)")
    if "{{" not in value:  # a templated pattern is checked when it is rendered
        try:
            _JsRegex.test(value, "")
        except ValueError as exc:
            raise where.key("value").error(f"invalid regular expression: {exc}") from exc


@assertion("regex", needs="value", check=_check_regex)
def regex(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The pattern, read as JavaScript reads it, matches somewhere in the output."""
    try:
        found = _JsRegex.test(str(value), c.text)
    except ValueError as exc:
        return GradingResult(False, 0.0, f"Invalid regex pattern: {exc}")
    return verdict(found, a, failure=lambda n: f'Expected output to {n}match regex "{value}"')


_JS_SPACE = re.compile(
    "[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+"
)


def _check_word_count(spec: dict[str, Any], where: Where) -> None:
    value = spec.get("value")
    if isinstance(value, dict):
        if "min" not in value and "max" not in value:
            raise where.key("value").error("word-count's mapping needs min and/or max")
        return
    if isinstance(value, str) and "{{" in value:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | str)
        or _number(value) is None
    ):
        raise where.key("value").error(
            "word-count needs a number, or a mapping with min and/or max"
        )


def _number(value: Any) -> float | None:
    try:
        return float(value.strip() or 0) if isinstance(value, str) else float(value)
    except ValueError:
        return None


@assertion("word-count", needs="value", check=_check_word_count)
def word_count(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The output has the value's number of words (or between min and max)."""
    count = len([w for w in _JS_SPACE.split(c.text) if w])
    if isinstance(value, dict):
        return _word_range(a, count, value.get("min"), value.get("max"))
    expected = _number(value)
    if expected is None:
        raise ValueError("word-count value must be a number or an object with min/max properties")
    shown = number_text(expected)
    if a.inverse:
        reason = f"Expected word count to not equal {shown}, but got {count}"
    else:
        reason = f"Word count {count} does not equal expected {shown}"
    return verdict(count == expected, a, failure=lambda n: reason)


def _word_range(a: Assertion, count: int, low: Any, high: Any) -> GradingResult:
    if low is not None and high is not None:
        inside = float(low) <= count <= float(high)
        plain = f"Word count {count} is not between {low} and {high}"
        inverted = f"Expected word count to not be between {low} and {high}, but got {count}"
    elif low is not None:
        inside = count >= float(low)
        plain = f"Word count {count} is less than minimum {low}"
        inverted = f"Expected word count to be less than {low}, but got {count}"
    else:
        inside = count <= float(high)
        plain = f"Word count {count} is greater than maximum {high}"
        inverted = f"Expected word count to be greater than {high}, but got {count}"
    reason = inverted if a.inverse else plain
    return verdict(inside, a, failure=lambda n: reason)


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
