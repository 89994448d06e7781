"""Assertions, with promptfoo's semantics: each gives pass, score and reason; a test's add up by
weight, with `not-` inverting, `threshold` on the aggregate, and assert-sets scored on their own.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from wsllm.evals import textmetrics
from wsllm.evals.graded import GRADED
from wsllm.evals.jsengine import JsEngine
from wsllm.evals.model import Assertion, TestCase
from wsllm.evals.results import GradingResult, StreamMetrics
from wsllm.evals.templates import render
from wsllm.graders.client import Graders
from wsllm.graders.embeddings import Embedders


@dataclass(frozen=True, slots=True)
class Checked:
    """What assertions look at: the output, the test, the prompt and the stream's metrics."""

    output: Any
    test: TestCase
    prompt: str
    metrics: StreamMetrics
    js: JsEngine | None
    graders: Graders | None = None
    embedders: Embedders | None = None

    @property
    def text(self) -> str:
        """The output as text, objects as JSON."""
        if isinstance(self.output, str):
            return self.output
        return "" if self.output is None else json.dumps(self.output, ensure_ascii=False)

    def script_context(self) -> dict[str, Any]:
        """The `context` handed to javascript and python assertions."""
        return {
            "prompt": self.prompt,
            "vars": self.test.vars,
            "test": self.test.raw,
            "stream": self.metrics.as_dict(),
        }


Handler = Callable[[Assertion, Any, Checked], GradingResult]


async def grade_test(test: TestCase, checked: Checked) -> GradingResult:
    """All of a test's assertions, added up as promptfoo does."""
    if not test.asserts:
        return GradingResult(True, 1.0, "No assertions")
    return await _aggregate(test.asserts, test.threshold, checked)


async def _aggregate(
    asserts: tuple[Assertion, ...], threshold: float | None, checked: Checked
) -> GradingResult:
    total = weight_sum = 0.0
    failed: str | None = None
    named: dict[str, float] = {}
    components: list[GradingResult] = []
    for assertion in asserts:
        result = await grade(assertion, checked)
        components.append(result)
        total += result.score * assertion.weight
        weight_sum += assertion.weight
        if assertion.metric:
            named[assertion.metric] = named.get(assertion.metric, 0.0) + result.score
        if not result.passed:
            failed = result.reason
    score = total / weight_sum if weight_sum > 0 else 0.0
    passed, reason = failed is None, failed or "All assertions passed"
    if threshold:
        passed = score >= threshold
        sign = "≥" if passed else "<"
        reason = f"Aggregate score {score:.2f} {sign} {threshold:g} threshold"
    return GradingResult(passed, score, reason, named_scores=named, components=components)


async def grade(assertion: Assertion, checked: Checked) -> GradingResult:
    """One assertion's verdict; an assertion that cannot be evaluated fails with the reason."""
    if assertion.type == "assert-set":
        result = await _aggregate(assertion.children, assertion.threshold, checked)
        result.assertion = assertion.raw
    else:
        try:
            value = _rendered(assertion.value, checked.test.vars)
            if assertion.type in GRADED:
                result = await GRADED[assertion.type](assertion, value, checked)
            else:
                result = HANDLERS[assertion.type](assertion, value, checked)
        except Exception as exc:  # a bad value or script is the test's failure, not the run's
            result = GradingResult(False, 0.0, f"{assertion.type} could not be evaluated: {exc}")
        result.assertion = assertion.raw
    if assertion.weight == 0:
        result.passed = True
    return result


def _rendered(value: Any, variables: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return render(value, variables)
    if isinstance(value, list):
        return [render(v, variables) if isinstance(v, str) else v for v in value]
    return value


def _verdict(condition: bool, assertion: Assertion, failure: Callable[[str], str]) -> GradingResult:
    """pass = condition, inverted by `not-`; `failure` words the reason given "" or "not "."""
    passed = condition != assertion.inverse
    if passed:
        return GradingResult(True, 1.0, "Assertion passed")
    return GradingResult(False, 0.0, failure("not " if assertion.inverse else ""))


def _equals(a: Assertion, value: Any, c: Checked) -> GradingResult:
    if isinstance(value, dict | list):
        try:
            same = json.loads(c.text) == value
        except json.JSONDecodeError:
            same = False
        shown = json.dumps(value)
    else:
        same, shown = str(value) == c.text, str(value)
    return _verdict(same, a, lambda n: f'Expected output "{c.text}" to {n}equal "{shown}"')


def _contains(a: Assertion, value: Any, c: Checked) -> GradingResult:
    return _verdict(str(value) in c.text, a, lambda n: f'Expected output to {n}contain "{value}"')


def _icontains(a: Assertion, value: Any, c: Checked) -> GradingResult:
    found = str(value).lower() in c.text.lower()
    return _verdict(found, a, lambda n: f'Expected output to {n}contain "{value}"')


def _split_quoted(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    parts = re.findall(r'(".*?"|[^,]+)(?=\s*,|\s*$)', str(value))
    return [p.strip().strip('"') for p in parts]


def _split_plain(value: Any) -> list[str]:
    return (
        [str(v) for v in value]
        if isinstance(value, list)
        else [v.strip() for v in str(value).split(",")]
    )


def _any_of(fold: bool, quoted: bool) -> Handler:
    def handler(a: Assertion, value: Any, c: Checked) -> GradingResult:
        items = _split_quoted(value) if quoted else _split_plain(value)
        text = c.text.lower() if fold else c.text
        found = any((v.lower() if fold else v) in text for v in items)
        return _verdict(
            found, a, lambda n: f'Expected output to {n}contain one of "{", ".join(items)}"'
        )

    return handler


def _all_of(fold: bool) -> Handler:
    def handler(a: Assertion, value: Any, c: Checked) -> GradingResult:
        items = _split_plain(value)
        text = c.text.lower() if fold else c.text
        missing = [v for v in items if (v.lower() if fold else v) not in text]

        def failure(n: str) -> str:
            return (
                f"Expected output to {n}contain all of [{', '.join(items)}]. "
                f"Missing: [{', '.join(missing)}]"
            )

        return _verdict(not missing, a, failure)

    return handler


def _regex(a: Assertion, value: Any, c: Checked) -> GradingResult:
    try:
        pattern = re.compile(str(value))
    except re.error as exc:
        return GradingResult(False, 0.0, f"Invalid regex pattern: {exc}")
    return _verdict(
        bool(pattern.search(c.text)), a, lambda n: f'Expected output to {n}match regex "{value}"'
    )


def _starts_with(a: Assertion, value: Any, c: Checked) -> GradingResult:
    return _verdict(
        c.text.startswith(str(value)), a, lambda n: f'Expected output to {n}start with "{value}"'
    )


def _schema(value: Any) -> Any:
    return yaml.safe_load(value) if isinstance(value, str) else value


def _schema_errors(schema: Any, instance: Any) -> str | None:
    import jsonschema  # only suites that check schemas pay for importing it

    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)(
        schema
    )
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    if not errors:
        return None
    return "; ".join(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:5])


def _is_json(a: Assertion, value: Any, c: Checked) -> GradingResult:
    try:
        parsed = json.loads(c.text)
    except json.JSONDecodeError:
        return _verdict(False, a, lambda n: f"Expected output to {n}be valid JSON")
    if value and not a.inverse:
        errors = _schema_errors(_schema(value), parsed)
        if errors:
            return GradingResult(
                False, 0.0, f"JSON does not conform to the provided schema. Errors: {errors}"
            )
    return _verdict(True, a, lambda n: f"Expected output to {n}be valid JSON")


def _contains_json(a: Assertion, value: Any, c: Checked) -> GradingResult:
    found = textmetrics.json_values_in(c.text)
    if a.inverse or not value:
        return _verdict(bool(found), a, lambda n: f"Expected output to {n}contain valid JSON")
    schema, reason = _schema(value), "Expected output to contain valid JSON"
    for candidate in found:
        errors = _schema_errors(schema, candidate)
        if errors is None:
            return GradingResult(True, 1.0, "Assertion passed")
        reason = f"JSON does not conform to the provided schema. Errors: {errors}"
    return GradingResult(False, 0.0, reason)


def _levenshtein(a: Assertion, value: Any, c: Checked) -> GradingResult:
    distance = textmetrics.levenshtein(c.text, str(value))
    threshold = a.threshold if a.threshold is not None else 5
    passed = distance <= threshold
    reason = (
        "Assertion passed"
        if passed
        else f"Levenshtein distance {distance} is greater than threshold {threshold:g}"
    )
    return GradingResult(passed, 1.0 if passed else 0.0, reason)


def _rouge(a: Assertion, value: Any, c: Checked) -> GradingResult:
    score = textmetrics.rouge_n(c.text, str(value))
    threshold = a.threshold if a.threshold is not None else 0.75
    passed = (score >= threshold) != a.inverse
    relation = "is greater than or equal to" if score >= threshold else "is less than"
    return GradingResult(
        passed,
        1 - score if a.inverse else score,
        f"ROUGE-N score {score:.2f} {relation} threshold {threshold:g}",
    )


def _timing(field: str, label: str) -> Handler:
    def handler(a: Assertion, value: Any, c: Checked) -> GradingResult:
        assert a.threshold is not None  # checked at load
        measured = getattr(c.metrics, field)
        if measured is None:
            measured = 0.0 if field == "max_gap_ms" else math.inf
        passed = (measured <= a.threshold) != a.inverse
        if measured == math.inf:
            reason = f"No content frame arrived, so there is no {label}"
        elif passed:
            reason = "Assertion passed"
        else:
            relation = "not greater than" if a.inverse else "greater than"
            what = label[0].upper() + label[1:]
            reason = f"{what} {measured:.0f}ms is {relation} threshold {a.threshold:g}ms"
        return GradingResult(passed, 1.0 if passed else 0.0, reason)

    return handler


def _script_result(result: Any, a: Assertion, source: str) -> GradingResult:
    if isinstance(result, str) and result.strip().lower() in ("true", "false"):
        result = result.strip().lower() == "true"
    elif isinstance(result, str) and result.strip().startswith("{"):
        result = json.loads(result)
    if isinstance(result, bool):
        passed = result != a.inverse
        return GradingResult(
            passed,
            1.0 if passed else 0.0,
            "Assertion passed"
            if passed
            else f"Custom function returned {str(a.inverse).lower()}\n{source}",
        )
    if isinstance(result, int | float):
        passed = result >= a.threshold if a.threshold is not None else result > 0
        return GradingResult(
            passed,
            float(result),
            "Assertion passed" if passed else f"Custom function returned {result}\n{source}",
        )
    if (isinstance(result, dict) and "pass" in result) or (
        isinstance(result, dict) and "pass_" in result
    ):
        passed = bool(result.get("pass", result.get("pass_")))
        score = float(result.get("score", 1.0 if passed else 0.0))
        if a.threshold is not None and score < a.threshold:
            passed = False
        return GradingResult(
            passed,
            score,
            str(result.get("reason") or ("Assertion passed" if passed else "Assertion failed")),
        )
    raise TypeError(f"must return a boolean, a number or {{pass, score, reason}}, got {result!r}")


def _javascript(a: Assertion, value: Any, c: Checked) -> GradingResult:
    assert a.function is not None
    assert c.js is not None
    result = c.js.call(a.function.js_index, c.output, c.script_context())
    return _script_result(result, a, str(a.value))


def _python(a: Assertion, value: Any, c: Checked) -> GradingResult:
    assert a.function is not None
    assert a.function.python is not None
    return _script_result(a.function.python(c.output, c.script_context()), a, str(a.value))


HANDLERS: dict[str, Handler] = {
    "equals": _equals,
    "contains": _contains,
    "icontains": _icontains,
    "contains-any": _any_of(fold=False, quoted=True),
    "icontains-any": _any_of(fold=True, quoted=False),
    "contains-all": _all_of(fold=False),
    "icontains-all": _all_of(fold=True),
    "regex": _regex,
    "starts-with": _starts_with,
    "is-json": _is_json,
    "contains-json": _contains_json,
    "levenshtein": _levenshtein,
    "rouge-n": _rouge,
    "latency": _timing("total_ms", "latency"),
    "ttft": _timing("first_delta_ms", "time to first delta"),
    "max-gap": _timing("max_gap_ms", "largest gap between frames"),
    "javascript": _javascript,
    "python": _python,
}
