"""`javascript` and `python` assertions: functions of the output and a context, returning a
boolean, a score, or `{pass, score, reason}`. `not-` inverts them (promptfoo ignores it on
`python`; we do not)."""

from __future__ import annotations

import json
from typing import Any

from wsllm.evals.grading.context import GradingContext
from wsllm.evals.grading.registry import assertion
from wsllm.evals.results import GradingResult
from wsllm.evals.schema import Assertion


def script_result(result: Any, a: Assertion, source: str) -> GradingResult:
    """A function's return value as a verdict."""
    if isinstance(result, str) and result.strip().lower() in ("true", "false"):
        result = result.strip().lower() == "true"
    elif isinstance(result, str) and result.strip().startswith("{"):
        result = json.loads(result)
    if isinstance(result, bool):
        passed = result != a.inverse
        reason = (
            "Assertion passed"
            if passed
            else f"Custom function returned {str(a.inverse).lower()}\n{source}"
        )
        return GradingResult(passed, 1.0 if passed else 0.0, reason)
    if isinstance(result, int | float):
        passed = result >= a.threshold if a.threshold is not None else result > 0
        reason = "Assertion passed" if passed else f"Custom function returned {result}\n{source}"
        return GradingResult(passed, float(result), reason)
    if isinstance(result, dict) and ("pass" in result or "pass_" in result):
        return _object_result(result, a)
    raise TypeError(f"must return a boolean, a number or {{pass, score, reason}}, got {result!r}")


def _object_result(result: dict[str, Any], a: Assertion) -> GradingResult:
    passed = bool(result.get("pass", result.get("pass_")))
    score = float(result.get("score", 1.0 if passed else 0.0))
    if a.threshold is not None and score < a.threshold:
        passed = False
    reason = str(result.get("reason") or ("Assertion passed" if passed else "Assertion failed"))
    return GradingResult(passed, score, reason)


@assertion("javascript", "python", needs="script")
def script(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """Call the compiled function with the output and the context."""
    assert a.function is not None  # compiled at load
    return script_result(a.function(c.output, c.script_context()), a, str(a.value))
