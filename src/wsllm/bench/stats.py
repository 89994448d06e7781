"""Percentiles and summaries of latency samples (no I/O)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(samples: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile of `samples` (None when there are none)."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarise(samples: Sequence[float]) -> dict[str, float | None]:
    """Mean, min, max and p50/p90/p95/p99 of `samples`, in their unit, rounded to 0.01."""
    if not samples:
        keys = ("mean", "min", "p50", "p90", "p95", "p99", "max")
        return dict.fromkeys(keys)
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
