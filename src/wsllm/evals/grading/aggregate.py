"""How a test's verdict comes together, with promptfoo's semantics: each assertion gives pass,
score and reason; they add up by weight, `threshold` judges the weighted score, and assert-sets
are scored on their own. An assertion that cannot be evaluated fails with the reason; it never
stops the run."""

from __future__ import annotations

from typing import Any

from wsllm.evals.grading.context import GradingContext
from wsllm.evals.grading.registry import ASSERTIONS
from wsllm.evals.results import GradingResult
from wsllm.evals.schema import Assertion, TestCase
from wsllm.evals.templates import render


async def grade_test(test: TestCase, context: GradingContext) -> GradingResult:
    """All of a test's assertions, added up as promptfoo does."""
    if not test.asserts:
        return GradingResult(True, 1.0, "No assertions")
    return await _aggregate(test.asserts, test.threshold, context)


async def _aggregate(asserts: tuple[Assertion, ...], threshold: float | None,
                     context: GradingContext) -> GradingResult:  # fmt: skip
    total = weight_sum = 0.0
    failed: str | None = None
    named: dict[str, float] = {}
    components: list[GradingResult] = []
    for assertion in asserts:
        result = await grade(assertion, context)
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


async def grade(assertion: Assertion, context: GradingContext) -> GradingResult:
    """One assertion's verdict."""
    if assertion.type == "assert-set":
        result = await _aggregate(assertion.children, assertion.threshold, context)
    else:
        result = await _run_handler(assertion, context)
    result.assertion = assertion.raw
    if assertion.weight == 0:
        result.passed = True
    return result


async def _run_handler(assertion: Assertion, context: GradingContext) -> GradingResult:
    kind = ASSERTIONS.get(assertion.type)
    try:
        value = rendered(assertion.value, context.test.vars)
        if kind.is_async:
            return await kind.handler(assertion, value, context)  # type: ignore[no-any-return,misc]
        return kind.handler(assertion, value, context)  # type: ignore[return-value]
    except Exception as exc:  # a bad value, script or grader answer: this test's failure
        return GradingResult(False, 0.0, f"{assertion.type} could not be evaluated: {exc}")


def rendered(value: Any, variables: dict[str, Any]) -> Any:
    """An assertion's value with the test's vars filled in."""
    if isinstance(value, str):
        return render(value, variables)
    if isinstance(value, list):
        return [render(v, variables) if isinstance(v, str) else v for v in value]
    return value
