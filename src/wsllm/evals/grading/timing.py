"""Assertions on the stream's figures: `latency` (promptfoo's), and `ttft` and `max-gap` (ours),
each with a threshold in milliseconds. The figures are defined once, in `client/recorder.py`."""

from __future__ import annotations

import math
from typing import Any

from wsllm.evals.grading.context import GradingContext
from wsllm.evals.grading.registry import assertion
from wsllm.evals.results import GradingResult
from wsllm.evals.schema import Assertion


def _judge(a: Assertion, measured: float | None, label: str) -> GradingResult:
    assert a.threshold is not None  # checked at load
    value = math.inf if measured is None else measured
    passed = (value <= a.threshold) != a.inverse
    if value == math.inf:
        reason = f"No delta arrived, so there is no {label}"
    elif passed:
        reason = "Assertion passed"
    else:
        relation = "not greater than" if a.inverse else "greater than"
        what = label[0].upper() + label[1:]
        reason = f"{what} {value:.0f}ms is {relation} threshold {a.threshold:g}ms"
    return GradingResult(passed, 1.0 if passed else 0.0, reason)


@assertion("latency", needs="threshold")
def latency(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The whole call took at most the threshold."""
    return _judge(a, c.metrics.total_ms, "latency")


@assertion("ttft", needs="threshold")
def ttft(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The first delta came within the threshold."""
    return _judge(a, c.metrics.first_delta_ms, "TTFT (time to first delta)")


@assertion("max-gap", needs="threshold")
def max_gap(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """No silence between deltas (or before a cut) was longer than the threshold."""
    return _judge(a, c.metrics.max_gap_ms, "largest gap between deltas")
