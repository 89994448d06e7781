"""How a test's verdict comes together, with promptfoo's semantics: each assertion gives pass,
score and reason; they add up by weight, `threshold` judges the weighted score, and assert-sets
are scored on their own. Before its handler, an assertion's `transform` shapes the output and its
value is rendered (or computed by its `file://` function).

An assertion the grader cannot answer fails with the reason; one whose value or handler is
broken (promptfoo throws there) makes the test an error. Neither stops the run."""

from __future__ import annotations

from typing import Any

from wsllm.errors import EmbeddingError, GraderError, GradingFault, WsllmError
from wsllm.evals.grading.context import GradingContext
from wsllm.evals.grading.registry import ASSERTIONS
from wsllm.evals.results import GradingResult
from wsllm.evals.schema import Assertion, TestCase

# Judged after the run, across a test's outputs (see compare.py): no weight, no component.
COMPARED = ("select-best", "max-score")


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
        if assertion.type in COMPARED:
            continue
        result = await grade(assertion, context)
        components.append(result)
        total += result.score * assertion.weight
        weight_sum += assertion.weight
        metric = _metric(assertion, context)
        for name, score in result.named_scores.items():
            if name != metric:
                named[name] = named.get(name, 0.0) + score
        if metric:
            named[metric] = named.get(metric, 0.0) + result.score
        if not result.passed:
            failed = result.reason
        if assertion.type == "assert-set":
            components.extend(result.components)
    score = total / weight_sum if weight_sum > 0 else 0.0
    passed, reason = failed is None, failed or "All assertions passed"
    if threshold:
        passed = score >= threshold
        sign = "≥" if passed else "<"
        reason = f"Aggregate score {score:.2f} {sign} {threshold:g} threshold"
    return GradingResult(passed, score, reason, named_scores=named, components=components)


def _metric(assertion: Assertion, context: GradingContext) -> str | None:
    if not assertion.metric:
        return None
    try:
        return str(context.render(assertion.metric))
    except WsllmError:
        return assertion.metric


async def grade(assertion: Assertion, context: GradingContext) -> GradingResult:
    """One assertion's verdict."""
    if assertion.transform is not None:
        context = context.with_output(_transformed(assertion, context))
    if assertion.type == "assert-set":
        result = await _aggregate(assertion.children, assertion.threshold, context)
    else:
        result = await _run_handler(assertion, context)
    result.assertion = assertion.raw
    if assertion.weight == 0:
        result.passed = True
    return result


def _transformed(assertion: Assertion, context: GradingContext) -> Any:
    assert assertion.transform is not None
    scope = {"vars": context.variables, "prompt": {"label": context.prompt}}
    try:
        output = assertion.transform(context.output, scope)
    except Exception as exc:
        raise GradingFault(f"{assertion.type} assertion's transform failed: {_words(exc)}") from exc
    if output is None:
        raise GradingFault(f"{assertion.type} assertion's transform did not return a value")
    return output


async def _run_handler(assertion: Assertion, context: GradingContext) -> GradingResult:
    kind = ASSERTIONS.get(assertion.type)
    value = _value(assertion, context)
    try:
        if kind.is_async:
            return await kind.handler(assertion, value, context)  # type: ignore[no-any-return,misc]
        return kind.handler(assertion, value, context)  # type: ignore[return-value]
    except (GraderError, EmbeddingError) as exc:  # the judge failed: this assertion fails
        return GradingResult(False, 0.0, f"{assertion.type} could not be evaluated: {exc}")
    except GradingFault:
        raise
    except Exception as exc:
        raise GradingFault(f'"{assertion.type}" assertion failed to run: {_words(exc)}') from exc


def _value(assertion: Assertion, context: GradingContext) -> Any:
    """The value the handler judges by: rendered with the vars, or computed by a function."""
    if assertion.value_function is None:
        try:
            return context.render(assertion.value)
        except WsllmError as exc:
            raise GradingFault(f"{assertion.type} assertion's value: {exc}") from exc
    try:
        value = assertion.value_function(context.output, context.script_context())
    except Exception as exc:
        raise GradingFault(f"{assertion.type} assertion's value function failed: {_words(exc)}"
                           ) from exc  # fmt: skip
    what = _not_a_value(value)
    if what:
        raise GradingFault(
            f'Script for "{assertion.type}" assertion returned {what}. Only javascript/python '
            "assertion types can return that; return the expected value (string, number, "
            "array, or object)."
        )
    return value


def _not_a_value(value: Any) -> str | None:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict) and "pass" in value:
        return "a GradingResult"
    return None


def _words(exc: Exception) -> str:
    return str(exc) if isinstance(exc, WsllmError) else f"{type(exc).__name__}: {exc}"
