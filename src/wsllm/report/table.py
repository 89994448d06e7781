"""The terminal report: promptfoo's table (vars, then one column per prompt and target, headed by
the target's label) with each cell's stream figures and stalls, and a summary.

The figures are those of `client/recorder.py`: TTFT (time to first delta) from the request sent to
the first content frame; the largest gap, the longest silence between content frames, which counts
the silence before a cut (a deadline, an early close) so that a stalled stream shows as one."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from wsllm.evals.results import EvalRun, GradingResult, TestResult
from wsllm.report.summary import RunSummary, summarise_run

_STYLE = {"pass": "green", "fail": "red", "error": "bold red"}


def cell(result: TestResult, width: int = 250) -> Text:
    """One result: its verdict, its output (or error or reason), and its stream figures."""
    text = Text()
    text.append(f"[{result.status.upper()}] ", style=_STYLE[result.status])
    if result.status == "error":
        text.append(_clip(result.response.error or "", width))
    else:
        reasons = [
            f"{name}: {why}" if name else why for name, why in failing_reasons(result.grading)
        ]
        if reasons:
            text.append(_clip("\n".join(reasons), width) + "\n---\n", style="red")
        output = result.response.output
        shown = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
        text.append(_clip(shown, width))
    text.append("\n" + stream_figures(result), style="dim")
    stall = stall_note(result)
    if stall:
        text.append("\n" + stall, style="bold red")
    return text


LEGEND = (
    "TTFT = time to first delta (request sent to first content frame) · largest gap = longest "
    "silence between content frames, a stall before a cut included"
)


def stream_figures(result: TestResult) -> str:
    """`TTFT 12ms · largest gap 3ms · total 40ms · 64 deltas · 67 frames · 3.1 kB`."""
    m = result.response.metrics
    parts = [f"TTFT {_ms(m.first_delta_ms)}" if m.first_delta_ms is not None else "no delta"]
    if m.max_gap_ms is not None:
        parts.append(f"largest gap {_ms(m.max_gap_ms)}")
    parts.append(f"total {_ms(m.total_ms)}")
    parts.append(f"{m.deltas} delta{'' if m.deltas == 1 else 's'}")
    parts.append(f"{m.frames} frame{'' if m.frames == 1 else 's'}")
    parts.append(f"{m.bytes / 1000:.1f} kB" if m.bytes >= 1000 else f"{m.bytes} B")
    return " · ".join(parts)


def stall_note(result: TestResult) -> str | None:
    """What a stream cut short after a silence says of it; None for a stream that ended well
    (one the server ended with `done` is not a stall, even if the config never read it whole:
    its error says so)."""
    stalled = result.response.metrics.stalled_ms
    if stalled is None:
        return None
    return f"stalled {_ms(stalled)}: silence from the last delta until the stream was cut"


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}ms" if value < 10 else f"{value:.0f}ms"


def failing_reasons(grading: GradingResult | None) -> list[tuple[str, str]]:
    """Every failing assertion as (assertion, reason), not only the first; [] when all passed."""
    if grading is None or grading.passed:
        return []
    failed = [c for c in grading.components if not c.passed]
    if not failed:
        return [("", grading.reason)]
    return [(_assertion_name(c.assertion), c.reason) for c in failed]


def _assertion_name(assertion: dict[str, Any] | None) -> str:
    if not assertion:
        return ""
    value = assertion.get("value")
    shown = "" if value is None else f": {value if isinstance(value, str) else json.dumps(value)}"
    return f"{assertion.get('type', '')}{shown}"[:160]


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def results_table(run: EvalRun, max_rows: int) -> tuple[Table, int]:
    """The table of the first `max_rows` tests, and how many tests it leaves out."""
    rows: dict[int, dict[int, TestResult]] = defaultdict(dict)
    for result in run.results:
        rows[result.row][result.column] = result  # promptfoo's testIdx and promptIdx
    var_names = list(dict.fromkeys(k for r in run.results for k in r.test.vars))
    columns = range(len(run.config.columns))  # target by target, each with its prompts
    table = Table(show_lines=True, expand=False)
    for name in var_names:
        table.add_column(Text(name), overflow="fold", max_width=40)
    for column in run.config.columns:
        target = run.config.targets[column.target_index]
        header = f"[{target.label}] {_clip(run.config.prompts[column.prompt_index].label, 40)}"
        table.add_column(Text(header), overflow="fold", ratio=2)
    for key in sorted(rows)[:max_rows]:
        found = rows[key]
        vars_ = next(iter(found.values())).test.vars
        values = [Text(_clip(_plain(vars_.get(name)), 120)) for name in var_names]
        table.add_row(*values, *(cell(found[c]) if c in found else Text("") for c in columns))
    return table, max(0, len(rows) - max_rows)


def _plain(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def summary_lines(summary: RunSummary, run: EvalRun) -> list[Text]:
    """`Results: ✓ 4 passed, 1 failed, 0 errors (80.00%)`, the stream line, and what went wrong
    with the run itself (stopped early, stalled streams)."""
    head = Text("Results: ")
    head.append(f"✓ {summary.passed} passed", style="green")
    head.append(", ")
    head.append(f"{summary.failed} failed", style="red" if summary.failed else "")
    head.append(", ")
    head.append(f"{summary.errors} errors", style="bold red" if summary.errors else "")
    head.append(f" ({summary.pass_rate:.2f}%{f' of {summary.total}' if summary.partial else ''})")
    if summary.partial:
        head.append(f" · {summary.total} of {summary.planned} tests ran", style="bold yellow")
    lines = [head, Text(_stream_line(summary), style="dim")]
    if summary.stalled:
        streams = "stream" if summary.stalled == 1 else "streams"
        stalled = f"{summary.stalled} {streams} stalled: silence until the stream was cut"
        lines.append(Text(stalled, style="bold red"))
    if run.interrupted:
        stopped = f"Stopped early: {summary.total} of {run.planned} finished"
        lines.append(Text(stopped, style="yellow"))
    return lines


def _stream_line(summary: RunSummary) -> str:
    line = f"Duration: {summary.duration_s:.2f}s · {summary.tests_per_s:.1f} tests/s"
    ttft, gap = summary.first_delta_ms, summary.max_gap_ms
    if ttft["p50"] is not None:
        line += f" · TTFT (time to first delta) p50 {_ms(ttft['p50'])} p95 {_ms(ttft['p95'])}"
    if gap["p95"] is not None:
        line += f" · largest gap p95 {_ms(gap['p95'])} max {_ms(gap['max'])}"
    return line


def print_report(run: EvalRun, console: Console, show_table: bool, max_rows: int) -> RunSummary:
    """Print the table (unless asked not to) and the summary; return the summary."""
    summary = summarise_run(run)
    if show_table and run.results:
        table, hidden = results_table(run, max_rows)
        console.print(table)
        console.print(Text(LEGEND, style="dim"))
        if hidden:
            console.print(
                Text(f"... {hidden} more tests not shown (-o report.html shows all)", style="dim")
            )
    for line in summary_lines(summary, run):
        console.print(line)
    return summary
