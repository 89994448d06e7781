"""The run as JSON in promptfoo's results shape, so tools that read promptfoo output read ours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import yaml

from wsllm import __version__
from wsllm.evals.results import EvalRun, TestResult
from wsllm.report.summary import summarise_run

FAILURE_REASONS = {"pass": 0, "fail": 1, "error": 2}


def result_row(run_id: str, index: int, result: TestResult) -> dict[str, Any]:
    """One result as promptfoo writes it, plus `streamMetrics`."""
    response = result.response
    metrics = response.metrics.as_dict()
    grading = result.grading.as_dict() if result.grading is not None else None
    return {
        "id": f"{run_id}-{index}",
        "promptIdx": result.prompt_index,
        "testIdx": result.test.index,
        "repeatIdx": result.repeat_index,
        "description": result.test.description,
        "testCase": result.test.raw,
        "provider": {"id": result.target.id, "label": result.target.label},
        "prompt": {"raw": result.rendered_prompt, "label": result.prompt.label},
        "vars": result.test.vars,
        "response": _response(result, metrics),
        "error": _error(result),
        "failureReason": FAILURE_REASONS[result.status],
        "success": result.status == "pass",
        "score": result.score,
        "latencyMs": round(response.metrics.total_ms),
        "gradingResult": grading,
        "namedScores": result.grading.named_scores if result.grading else {},
        "cost": 0,
        "metadata": result.test.metadata,
        "streamMetrics": metrics,
    }


def _error(result: TestResult) -> str | None:
    # As promptfoo: a failed test's `error` carries the failing assertion's reason.
    if result.status == "fail" and result.grading is not None:
        return result.grading.reason
    return result.response.error


def _response(result: TestResult, metrics: dict[str, Any]) -> dict[str, Any]:
    if result.response.error is not None:
        return {"error": result.response.error, "metadata": {"stream": metrics}}
    return {"output": result.response.output, "metadata": {"stream": metrics}}


def _prompt_rows(run: EvalRun) -> list[dict[str, Any]]:
    rows = []
    for p, prompt in enumerate(run.config.prompts):
        for t, target in enumerate(run.config.targets):
            mine = [r for r in run.results if r.prompt_index == p and r.target_index == t]
            rows.append({
                "raw": prompt.raw,
                "label": prompt.label,
                "provider": target.id,
                "metrics": {
                    "score": sum(r.score for r in mine),
                    "testPassCount": sum(r.status == "pass" for r in mine),
                    "testFailCount": sum(r.status == "fail" for r in mine),
                    "testErrorCount": sum(r.status == "error" for r in mine),
                    "totalLatencyMs": round(sum(r.response.metrics.total_ms for r in mine)),
                    "namedScores": {},
                    "tokenUsage": {},
                    "cost": 0,
                },
            })  # fmt: skip
    return rows


def document(run: EvalRun) -> dict[str, Any]:
    """The whole run as one JSON-ready object."""
    summary = summarise_run(run)
    return {
        "evalId": run.id,
        "results": {
            "version": 3,
            "timestamp": run.started_at.isoformat(),
            "prompts": _prompt_rows(run),
            "results": [result_row(run.id, i, r) for i, r in enumerate(run.results)],
            "stats": {
                "successes": summary.passed,
                "failures": summary.failed,
                "errors": summary.errors,
                "tokenUsage": {"total": 0, "prompt": 0, "completion": 0, "cached": 0},
                "graderTokenUsage": run.grader_usage,
                "durationMs": round(run.duration_s * 1000),
            },
        },
        "config": run.config.raw,
        "shareableUrl": None,
        "wsllm": {
            "version": __version__,
            "configPath": str(run.config.path),
            "planned": run.planned,
            "interrupted": run.interrupted,
            "summary": summary.as_dict(),
        },
    }


def write_json(run: EvalRun, path: Path) -> None:
    """promptfoo's results JSON."""
    path.write_bytes(orjson.dumps(document(run), option=_OPTIONS, default=str))


_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS


def write_jsonl(run: EvalRun, path: Path) -> None:
    """One result per line."""
    rows = (result_row(run.id, i, r) for i, r in enumerate(run.results))
    option = orjson.OPT_NON_STR_KEYS
    path.write_bytes(
        b"".join(orjson.dumps(row, option=option, default=str) + b"\n" for row in rows)
    )


def write_yaml(run: EvalRun, path: Path) -> None:
    """The JSON document as YAML."""
    data = orjson.loads(orjson.dumps(document(run), option=orjson.OPT_NON_STR_KEYS, default=str))
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
