"""`select-best` and `max-score` in the registry, so configs name them and they are checked at
load; they are judged after the run, across a test's outputs (evals/compare.py)."""

from __future__ import annotations

from typing import Any

from wsllm.evals.grading.context import GradingContext
from wsllm.evals.grading.registry import assertion
from wsllm.evals.results import GradingResult
from wsllm.evals.schema import Assertion
from wsllm.evals.validate import Where

MAX_SCORE_KEYS = ("method", "weights", "threshold")


def _check_criteria(spec: dict[str, Any], where: Where) -> None:
    if not isinstance(spec.get("value"), str):
        raise where.key("value").error("select-best needs a string value: the criteria")


def _check_max_score(spec: dict[str, Any], where: Where) -> None:
    value = spec.get("value")
    if value is None:
        return
    if not isinstance(value, dict) or any(k not in MAX_SCORE_KEYS for k in value):
        raise where.key("value").error(
            "max-score's value is a mapping of method (average or sum), weights and threshold"
        )


@assertion("select-best", needs="value", check=_check_criteria, uses_grader=True)
@assertion("max-score", check=_check_max_score)
def compared(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """Never called per output: these are judged across outputs after the run."""
    raise AssertionError(f"{a.type} is judged after the run")
