"""Reports of a run: the terminal table, and files by extension (.json, .csv, .xml, .html)."""

from __future__ import annotations

from pathlib import Path

from wsllm.errors import ConfigError
from wsllm.evals.results import EvalRun

FORMATS = (".json", ".jsonl", ".yaml", ".yml", ".csv", ".xml", ".html")


def check_output_path(path: str) -> None:
    """Fail before the run for an output file wsllm cannot write."""
    if not path.endswith(FORMATS):
        raise ConfigError(f"output {path}: unknown format (use {', '.join(FORMATS)})")


def write_output(run: EvalRun, path: str) -> Path:
    """Write the run to `path` in the format its extension names."""
    from wsllm.report import csv_out, html_out, json_out, junit_out

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if path.endswith(".json"):
        json_out.write_json(run, target)
    elif path.endswith(".jsonl"):
        json_out.write_jsonl(run, target)
    elif path.endswith((".yaml", ".yml")):
        json_out.write_yaml(run, target)
    elif path.endswith(".csv"):
        csv_out.write_csv(run, target)
    elif path.endswith(".xml"):
        junit_out.write_junit(run, target)
    else:
        html_out.write_html(run, target)
    return target
