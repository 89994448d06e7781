"""An eval run written to the results store as it goes, a batch of results at a time."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from wsllm.errors import StoreError
from wsllm.evals.results import EvalRun, TestResult
from wsllm.store import ResultRecord, ResultStore, RunEnd, RunRecord


def run_record(run: EvalRun) -> RunRecord:
    """The store's record of a run as it starts."""
    config = run.config
    columns = [  # target by target, as promptfoo orders its columns
        {"prompt": config.prompts[c.prompt_index].label,
         "target": config.targets[c.target_index].label,
         "prompt_idx": c.prompt_index, "target_idx": c.target_index}
        for c in config.columns
    ]  # fmt: skip
    return RunRecord(run.id, run.started_at.isoformat(), config.description, str(config.path),
                     config.raw, run.planned, columns)  # fmt: skip


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def result_record(index: int, r: TestResult) -> ResultRecord:
    """The store's record of one finished result."""
    m, grading = r.response.metrics, r.grading
    return ResultRecord(
        idx=index, test_idx=r.row, prompt_idx=r.prompt_index, target_idx=r.target_index,
        repeat_idx=r.repeat_index, description=r.test.description, vars=r.test.vars,
        prompt=r.rendered_prompt, status=r.status, score=r.score, output=_text(r.response.output),
        error=r.response.error, reason=grading.reason if grading else None,
        grading=grading.as_dict() if grading else None, latency_ms=m.total_ms,
        first_delta_ms=m.first_delta_ms, max_gap_ms=m.max_gap_ms, frames=m.frames, bytes=m.bytes,
        frames_dropped=r.response.frames_dropped, stalled_ms=m.stalled_ms, deltas=m.deltas,
        frames_list=[(f.at_ms, f.data) for f in r.response.frames],
    )  # fmt: skip


class StoredRun:
    """Writes a run's results as they finish; a store that fails midway is reported, once."""

    BATCH = 64
    EVERY_S = 0.5

    def __init__(self, store: ResultStore, run: EvalRun) -> None:
        self.store = store
        self._run = run
        self._pending: list[ResultRecord] = []
        self._flushed = time.perf_counter()
        self.failed: str | None = None
        store.begin_run(run_record(run))

    def add(self, index: int, result: TestResult) -> None:
        """Queue one result; write the batch when it is full or old enough."""
        self._pending.append(result_record(index, result))
        if len(self._pending) >= self.BATCH or time.perf_counter() - self._flushed > self.EVERY_S:
            self.flush()

    def flush(self) -> None:
        """Write what is queued."""
        if self._pending and self.failed is None:
            try:
                self.store.add_results(self._run.id, self._pending)
            except StoreError as exc:
                self.failed = str(exc)
                print(f"wsllm: storing stopped: {exc}", file=sys.stderr)
        self._pending = []
        self._flushed = time.perf_counter()

    def finish(self, summary: dict[str, Any]) -> None:
        """Write the rest and close the run's record."""
        self.flush()
        counts = self._run.counts()
        status = "interrupted" if self._run.interrupted else "finished"
        end = RunEnd(status, self._run.duration_s, counts["pass"], counts["fail"], counts["error"],
                     summary)  # fmt: skip
        try:
            if self.failed is None:
                self.store.finish_run(self._run.id, end)
        except StoreError as exc:
            self.failed = str(exc)
            print(f"wsllm: storing stopped: {exc}", file=sys.stderr)
        finally:
            self.store.close()
