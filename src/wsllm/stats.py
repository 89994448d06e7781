"""Percentiles and summaries of latency samples (no I/O)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(samples: Sequence[float], fraction: float) -> float | None:
    """The percentile of `samples` by linear interpolation, as numpy (and so vLLM) computes it."""
    if not samples:
        return None
    ordered = sorted(samples)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


KEYS = ("mean", "min", "p50", "p90", "p95", "p99", "max")


def summarise(samples: Sequence[float]) -> dict[str, float | None]:
    """Mean, min, max and p50/p90/p95/p99 of `samples`, in their unit, rounded to 0.01."""
    if not samples:
        return dict.fromkeys(KEYS)
    figures = {
        "mean": sum(samples) / len(samples),
        "min": min(samples),
        "p50": percentile(samples, 0.50),
        "p90": percentile(samples, 0.90),
        "p95": percentile(samples, 0.95),
        "p99": percentile(samples, 0.99),
        "max": max(samples),
    }
    return {k: None if v is None else round(v, 2) for k, v in figures.items()}
