"""`javascript` and `python` assertions: functions of the output and a context, returning a
boolean, a score, or `{pass, score, reason}`, read as promptfoo reads them. `not-` inverts a
boolean verdict in both languages (promptfoo ignores it on `python`; we do not)."""

from __future__ import annotations

import json
from typing import Any

from wsllm.errors import WsllmError
from wsllm.evals.grading.context import GradingContext
from wsllm.evals.grading.registry import assertion
from wsllm.evals.jsvalues import number_text
from wsllm.evals.results import GradingResult
from wsllm.evals.schema import Assertion


def script_result(result: Any, a: Assertion, source: str, python: bool = False) -> GradingResult:
    """A function's return value as a verdict."""
    if isinstance(result, str) and result.strip().lower() in ("true", "false"):
        result = result.strip().lower() == "true"
    elif isinstance(result, str) and result.strip().startswith("{"):
        result = json.loads(result)
    if isinstance(result, bool):
        passed = result != a.inverse
        said = "Python code returned" if python else "Custom function returned"
        reason = "Assertion passed" if passed else f"{said} {str(result).lower()}\n{source}"
        return GradingResult(passed, 1.0 if passed else 0.0, reason)
    if isinstance(result, dict) and ("pass" in result or "pass_" in result):
        return _object_result(result, a, python)
    score = _number(result)
    passed = score >= a.threshold if a.threshold is not None else score > 0
    said = "Python code returned" if python else "Custom function returned"
    reason = "Assertion passed" if passed else f"{said} {number_text(score)}\n{source}"
    return GradingResult(passed, score, reason)


def _number(result: Any) -> float:
    if isinstance(result, int | float) and not isinstance(result, bool):
        return float(result)
    try:
        return float(str(result).strip())
    except ValueError:
        raise TypeError(
            f"must return a boolean, a number or {{pass, score, reason}}, got {result!r}"
        ) from None


def _object_result(result: dict[str, Any], a: Assertion, python: bool) -> GradingResult:
    passed = bool(result.get("pass", result.get("pass_")))
    score = float(result.get("score", 1.0 if passed else 0.0))
    reason = str(result.get("reason") or ("Assertion passed" if passed else "Assertion failed"))
    if python and a.threshold is not None and score < a.threshold:
        passed = False
        given = f": {result['reason']}" if result.get("reason") else ""
        reason = f"Python score {number_text(score)} is less than threshold {a.threshold:g}{given}"
    named = result.get("namedScores", result.get("named_scores")) or {}
    return GradingResult(passed, score, reason, named_scores=dict(named))


@assertion("javascript", "python", needs="script")
def script(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """Call the compiled function with the output and the context."""
    assert a.function is not None  # compiled at load
    python = a.type == "python"
    try:
        returned = a.function(c.output, c.script_context())
        return script_result(returned, a, str(a.value if python else value), python)
    except Exception as exc:
        message = str(exc) if isinstance(exc, WsllmError) else f"{type(exc).__name__}: {exc}"
        if python:
            return GradingResult(False, 0.0, f"Python code execution failed: {message}")
        return GradingResult(False, 0.0, f"Custom function threw error: {message}\n{value}")
