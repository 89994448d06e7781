"""Figures of a whole run (no I/O): counts, pass rate, throughput, stream percentiles, stalls.
The stream figures are defined once, in `client/recorder.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wsllm.client import frames
from wsllm.evals.results import EvalRun, TestResult
from wsllm.stats import summarise


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What the summary line and report headers show."""

    passed: int
    failed: int
    errors: int
    duration_s: float
    first_delta_ms: dict[str, float | None]
    total_ms: dict[str, float | None]
    max_gap_ms: dict[str, float | None]
    stalled: int = 0
    planned: int = 0

    @property
    def total(self) -> int:
        """Results counted."""
        return self.passed + self.failed + self.errors

    @property
    def partial(self) -> bool:
        """Fewer results than planned: the run stopped early."""
        return self.planned > self.total

    @property
    def pass_rate(self) -> float:
        """Passed over all, in percent."""
        return 100.0 * self.passed / self.total if self.total else 0.0

    @property
    def tests_per_s(self) -> float:
        """Results per second of wall time."""
        return self.total / self.duration_s if self.duration_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "passRate": round(self.pass_rate, 2),
            "durationS": round(self.duration_s, 3),
            "testsPerS": round(self.tests_per_s, 1),
            "firstDeltaMs": self.first_delta_ms,
            "totalMs": self.total_ms,
            "maxGapMs": self.max_gap_ms,
            "stalled": self.stalled,
            "planned": self.planned,
        }


def summarise_run(run: EvalRun) -> RunSummary:
    """The run's summary figures."""
    counts = run.counts()
    metrics = [r.response.metrics for r in run.results]
    return RunSummary(
        passed=counts["pass"],
        failed=counts["fail"],
        errors=counts["error"],
        duration_s=run.duration_s,
        first_delta_ms=summarise(
            [m.first_delta_ms for m in metrics if m.first_delta_ms is not None]
        ),
        total_ms=summarise([m.total_ms for m in metrics]),
        max_gap_ms=summarise([m.max_gap_ms for m in metrics if m.max_gap_ms is not None]),
        stalled=sum(stalled(r) for r in run.results),
        planned=run.planned,
    )


def ended_with_done(result: TestResult) -> bool:
    """Whether the last frame kept is the server's `done`: the silence after it, until the cut,
    is the config's streamResponse not finishing, not the server stalling."""
    kept = result.response.frames
    if not kept or result.response.frames_dropped:
        return False
    kind, payload = frames.decode(kept[-1].data)
    return kind is frames.Kind.CONTROL and payload is not None and payload.get("type") == "done"


def stalled(result: TestResult) -> bool:
    """Whether the stream went silent after its last content frame until it was cut."""
    return result.response.metrics.stalled_ms is not None and not ended_with_done(result)
