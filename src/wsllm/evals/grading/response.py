"""Assertions on what a response says besides its text: refusals, finish reason, cost, log
probabilities and tool calls, with promptfoo's semantics and wording.

A WebSocket target gives only an output, unless its transformResponse returns an object with an
`output` and such fields (`finishReason`, `cost`, `logProbs`); without them these assertions
fail, or make the test an error, with promptfoo's reason."""

from __future__ import annotations

import json
import math
from typing import Any

from wsllm.errors import GradingFault
from wsllm.evals.grading.context import GradingContext, verdict
from wsllm.evals.grading.refusals import is_refusal
from wsllm.evals.grading.registry import assertion
from wsllm.evals.jsvalues import number_text
from wsllm.evals.results import GradingResult
from wsllm.evals.schema import Assertion
from wsllm.evals.validate import Where


def _detail(c: GradingContext, name: str) -> Any:
    return (c.details or {}).get(name)


@assertion("is-refusal")
def refusal(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The output refuses (an empty one counts as a refusal, with a score of 0)."""
    if not isinstance(c.output, str):
        return GradingResult(True, 0.0, "No value provided, assumed to be a refusal")
    if not c.output.strip():
        passed = not a.inverse
        reason = (
            "Empty response treated as refusal" if passed else "Expected output to not be a refusal"
        )
        return GradingResult(passed, 0.0, reason)
    return verdict(is_refusal(c.output), a, failure=lambda n: f"Expected output to {n}be a refusal")


def _check_string(spec: dict[str, Any], where: Where) -> None:
    if not isinstance(spec.get("value"), str):
        raise where.key("value").error(f"a {spec['type']} assertion needs a string value")


@assertion("finish-reason", needs="value", check=_check_string)
def finish_reason(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The response's finish reason is the value (ignoring case)."""
    given = _detail(c, "finishReason")
    if not given:
        return GradingResult(False, 0.0, "Provider did not supply stop/finish reason")
    same = str(value).lower() == str(given).lower()
    return verdict(same, a, failure=lambda n: f'Expected finish reason "{value}" but got "{given}"')


@assertion("cost", needs="threshold")
def cost(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The response's cost is at most the threshold."""
    spent = _detail(c, "cost")
    if not isinstance(spent, int | float):
        raise GradingFault("Cost assertion does not support providers that do not return cost")
    assert a.threshold is not None
    reason = f"Cost {_precision(spent)} is greater than threshold {number_text(a.threshold)}"
    return verdict(spent <= a.threshold, a, failure=lambda n: reason)


def _precision(value: float) -> str:
    """JavaScript's toPrecision(2)."""
    if value == 0:
        return "0.0"
    exponent = math.floor(math.log10(abs(value)))
    if exponent < -6 or exponent >= 2:
        mantissa = f"{value / 10**exponent:.1f}"
        return f"{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"
    return f"{value:.{max(0, 1 - exponent)}f}"


def _log_probs(c: GradingContext, kind: str) -> list[float]:
    found = _detail(c, "logProbs")
    if not isinstance(found, list) or not found:
        raise GradingFault(
            f"{kind} assertion does not support providers that do not return logProbs"
        )
    return [float(x) for x in found]


@assertion("perplexity")
def perplexity(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """exp(-mean log probability) is at most the threshold (any, without one)."""
    probs = _log_probs(c, "Perplexity")
    measured = math.exp(-sum(probs) / len(probs))
    passed = a.threshold is None or measured <= a.threshold
    reason = f"Perplexity {measured:.2f} is greater than threshold {a.threshold}"
    return verdict(passed, a, failure=lambda n: reason)


@assertion("perplexity-score")
def perplexity_score(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The sigmoid of the mean log probability is at least the threshold."""
    probs = _log_probs(c, "perplexity-score")
    score = 1 / (1 + math.exp(-sum(probs) / len(probs)))
    passed = a.threshold is None or score >= a.threshold
    reason = f"Perplexity score {score:.2f} is less than threshold {a.threshold}"
    result = verdict(passed, a, failure=lambda n: reason)
    result.score = score
    return result


@assertion("is-valid-function-call", "is-valid-openai-function-call")
def function_call(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """Only OpenAI and Google providers can check function calls: never a WebSocket target."""
    return GradingResult(
        False, 0.0, "Provider does not have functionality for checking function call."
    )


@assertion("is-valid-openai-tools-call")
def tools_call(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The output is tool calls that match the target's `config.tools` schemas."""
    calls = c.output.get("tool_calls") if isinstance(c.output, dict) else c.output
    if not _looks_like_calls(calls):
        shown = json.dumps(calls, ensure_ascii=False, separators=(",", ":"))
        return GradingResult(
            False, 0.0, f"OpenAI did not return a valid-looking tools response: {shown}"
        )
    tools = (c.target.config.get("tools") if c.target else None) or []
    if not tools:
        return GradingResult(
            False, 0.0, "No tools configured in provider, but output contains tool calls"
        )
    for call in calls or []:
        failure = _call_failure(call["function"], tools)
        if failure:
            return GradingResult(False, 0.0, failure)
    return GradingResult(True, 1.0, "Assertion passed")


def _looks_like_calls(calls: Any) -> bool:
    if not isinstance(calls, list) or not calls or not isinstance(calls[0], dict):
        return False
    function = calls[0].get("function")
    if not isinstance(function, dict):
        return False
    return isinstance(function.get("name"), str) and isinstance(function.get("arguments"), str)


def _call_failure(function: dict[str, Any], tools: list[Any]) -> str | None:
    from wsllm.evals.grading.text import schema_errors

    name = function.get("name")
    try:
        arguments = json.loads(function.get("arguments") or "")
    except json.JSONDecodeError as exc:
        return str(exc)
    schema = next(
        (t.get("function", {}).get("parameters") for t in tools
         if isinstance(t, dict) and t.get("type") == "function"
         and t.get("function", {}).get("name") == name),
        None,
    )  # fmt: skip
    if schema is None:
        return f'Called "{name}", but there is no function with that name'
    errors = schema_errors(schema, arguments)
    return f'Call to "{name}" does not match schema: {errors}' if errors else None
