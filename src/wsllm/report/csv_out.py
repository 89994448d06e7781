"""The run as CSV: one row per result, with its stream metrics."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from wsllm.evals.results import EvalRun

COLUMNS = (
    "test", "repeat", "description", "vars", "prompt", "target", "status", "score", "output",
    "reason", "error", "latency_ms", "ttft_ms", "max_gap_ms", "deltas", "frames",
    "bytes",
)  # fmt: skip


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def write_csv(run: EvalRun, path: Path) -> None:
    """Write one row per result."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for r in run.results:
            m = r.response.metrics
            reason = r.grading.reason if r.grading is not None else ""
            writer.writerow([
                r.test.index, r.repeat_index, r.test.description or "", _text(r.test.vars),
                r.rendered_prompt, r.target.label, r.status, f"{r.score:.4g}",
                _text(r.response.output), reason, r.response.error or "",
                f"{m.total_ms:.2f}", _ms(m.first_delta_ms), _ms(m.max_gap_ms), m.deltas,
                m.frames, m.bytes,
            ])  # fmt: skip


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"
