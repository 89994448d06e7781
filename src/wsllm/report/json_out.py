"""The run as JSON in promptfoo's results shape, so tools that read promptfoo output read ours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import yaml

from wsllm import __version__
from wsllm.evals.results import EvalRun
from wsllm.evals.rows import column_entries, result_row, sorted_results
from wsllm.report.summary import summarise_run

__all__ = ["document", "result_row", "write_json", "write_jsonl", "write_yaml"]


def document(run: EvalRun) -> dict[str, Any]:
    """The whole run as one JSON-ready object."""
    summary = summarise_run(run)
    return {
        "evalId": run.id,
        "results": {
            "version": 3,
            "timestamp": run.started_at.isoformat(),
            "prompts": column_entries(run),
            "results": [result_row(run.id, i, r) for i, r in sorted_results(run)],
            "stats": {
                "successes": summary.passed,
                "failures": summary.failed,
                "errors": summary.errors,
                "tokenUsage": {
                    "total": 0,
                    "prompt": 0,
                    "completion": 0,
                    "cached": 0,
                    "numRequests": len(run.results),
                },
                "graderTokenUsage": run.grader_usage,
                "durationMs": round(run.duration_s * 1000),
                "evaluationDurationMs": round(run.duration_s * 1000),
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
