"""A run in promptfoo's shapes: each result as a row of `results.results`, and each column (a
target and a prompt) as an entry of `results.prompts` with its metrics. Extension hooks see these
shapes, and the JSON report writes them."""

from __future__ import annotations

import hashlib
from typing import Any

from wsllm.evals.results import EvalRun, TestResult
from wsllm.evals.schema import Column, EvalConfig

FAILURE_REASONS = {"pass": 0, "fail": 1, "error": 2}


def prompt_id(label: str) -> str:
    """promptfoo's prompt id: the SHA-256 of the prompt's label."""
    return hashlib.sha256(label.encode()).hexdigest()


def result_row(run_id: str, index: int, result: TestResult) -> dict[str, Any]:
    """One result as promptfoo writes it (in its key order), plus `repeatIdx` and
    `streamMetrics`."""
    grading = result.grading.as_dict() if result.grading is not None else None
    row: dict[str, Any] = {"cost": result.response.details.get("cost", 0)}
    if result.status != "pass":
        row["error"] = _error(result)
    row.update({
        "gradingResult": grading,
        "id": f"{run_id}-{index}",
        "latencyMs": round(result.response.metrics.total_ms),
        "namedScores": result.grading.named_scores if result.grading else {},
        "prompt": {"raw": result.rendered_prompt, "label": result.prompt.label,
                   "config": result.prompt_config},
        "promptId": prompt_id(result.prompt.label),
        "promptIdx": result.column,
        "provider": {"id": result.target.id, "label": result.target.given_label},
    })  # fmt: skip
    if result.response.error is None:
        row["response"] = {"output": result.response.output}
    row.update({
        "score": result.score,
        "success": result.status == "pass",
        "testCase": result.test.raw,
        "testIdx": result.row,
        "vars": result.test.vars,
        "metadata": result.test.metadata,
        "failureReason": FAILURE_REASONS[result.status],
        "repeatIdx": result.repeat_index,
        "streamMetrics": result.response.metrics.as_dict(),
    })  # fmt: skip
    return row


def _error(result: TestResult) -> str | None:
    # As promptfoo: a failed test's `error` carries the failing assertion's reason.
    if result.status == "fail" and result.grading is not None:
        return result.grading.reason
    return result.response.error


def column_entries(run: EvalRun) -> list[dict[str, Any]]:
    """`results.prompts`: one entry per column, with its metrics."""
    config = run.config
    return [_column_entry(config, c, column, run) for c, column in enumerate(config.columns)]


def _column_entry(config: EvalConfig, index: int, column: Column, run: EvalRun) -> dict[str, Any]:
    prompt = config.prompts[column.prompt_index]
    target = config.targets[column.target_index]
    mine = [r for r in run.results if r.column == index]
    entry: dict[str, Any] = {
        "id": prompt_id(prompt.label), "raw": prompt.raw, "label": prompt.label,
        "provider": target.given_label or target.id, "metrics": column_metrics(mine),
    }  # fmt: skip
    entry["metrics"]["namedScores"].update(run.derived.get(index, {}))
    if prompt.config:
        entry["config"] = prompt.config
    return entry


def column_metrics(results: list[TestResult]) -> dict[str, Any]:
    """A column's metrics: sums of scores and named scores, counts of tests and assertions."""
    named: dict[str, float] = {}
    counted: dict[str, int] = {}
    asserts_passed = asserts_failed = 0
    for r in results:
        for name, score in (r.grading.named_scores if r.grading else {}).items():
            named[name] = named.get(name, 0.0) + score
            counted[name] = counted.get(name, 0) + 1
        for component in r.grading.components if r.grading else []:
            asserts_passed += component.passed
            asserts_failed += not component.passed
    return {
        "score": sum(r.score for r in results),
        "testPassCount": sum(r.status == "pass" for r in results),
        "testFailCount": sum(r.status == "fail" for r in results),
        "testErrorCount": sum(r.status == "error" for r in results),
        "assertPassCount": asserts_passed,
        "assertFailCount": asserts_failed,
        "totalLatencyMs": round(sum(r.response.metrics.total_ms for r in results)),
        "tokenUsage": {"prompt": 0, "completion": 0, "cached": 0, "total": 0,
                       "numRequests": len(results)},
        "namedScores": named,
        "namedScoresCount": counted,
        "cost": sum(r.response.details.get("cost", 0) or 0 for r in results),
    }  # fmt: skip


def sorted_results(run: EvalRun) -> list[tuple[int, TestResult]]:
    """Results in promptfoo's written order: by test row, failures and errors first, then in
    the order they finished; each with its index in the run."""
    indexed = list(enumerate(run.results))
    return sorted(indexed, key=lambda pair: (pair[1].row, pair[1].status == "pass"))
