"""A standalone HTML report: the run's figures, every result with all its failing reasons, and each
stream drawn as a strip of frames on a time axis with its stall. The page is a Jinja template
(`report/report.html`) with autoescape on: model text is untrusted."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment

from wsllm import __version__
from wsllm.client import frames
from wsllm.evals.results import EvalRun, TestResult
from wsllm.report.summary import RunSummary, stalled, summarise_run
from wsllm.report.table import LEGEND, failing_reasons, stall_note, stream_figures

STRIP_WIDTH = 280
STRIP_LEFT = 4
STRIP_RIGHT = 4


@dataclass(slots=True)
class Strip:
    """A stream drawn to scale: x positions in pixels on a STRIP_WIDTH-wide strip."""

    ticks: list[tuple[float, str, str]] = field(default_factory=list)  # x, kind, tooltip
    ttft_x: float | None = None
    gap: tuple[float, float] | None = None
    stall: tuple[float, float] | None = None
    axis: list[tuple[float, str]] = field(default_factory=list)


def readable_date(moment: datetime) -> str:
    """`21 Nov 2026, 18:19 UTC`."""
    return f"{moment.day} {moment.strftime('%b %Y, %H:%M')} {moment.tzname() or ''}".strip()


def strip(result: TestResult) -> Strip:
    """The stream of `result` to scale: frame ticks, TTFT, the largest gap and the stall."""
    m = result.response.metrics
    kept = [(f.at_ms, frames.decode(f.data)[0]) for f in result.response.frames]
    content = [at for at, kind in kept if kind is not frames.Kind.CONTROL]
    last = content[-1] if content else None
    stall_end = last + m.stalled_ms if last is not None and m.stalled_ms is not None else None
    end = max([1.0, *(at for at, _ in kept), stall_end or 0.0])
    if not content and result.response.error is not None:
        end = max(end, m.total_ms)

    def x(at: float) -> float:
        return round(STRIP_LEFT + (STRIP_WIDTH - STRIP_LEFT - STRIP_RIGHT) * max(at, 0.0) / end, 1)

    drawn = Strip(axis=[(x(end * i / 2), f"{end * i / 2:,.0f} ms") for i in range(3)])
    drawn.ticks = [(x(at), kind.name.lower(), f"{at:.1f} ms · {kind.name.lower()}")
                   for at, kind in kept]  # fmt: skip
    if content:
        drawn.ttft_x = x(content[0])
        pairs = list(itertools.pairwise(content))
        if pairs:
            widest = max(pairs, key=lambda pair: pair[1] - pair[0])
            drawn.gap = (x(widest[0]), x(widest[1]))
    if last is not None and stall_end is not None:
        drawn.stall = (x(last), x(stall_end))
    return drawn


def _output_text(result: TestResult) -> str:
    output = result.response.output
    if output is None:
        return ""
    return output if isinstance(output, str) else json.dumps(output, ensure_ascii=False, indent=2)


def _plain(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def row(result: TestResult) -> dict[str, Any]:
    """What the template shows of one result."""
    return {
        "status": result.status,
        "stalled": stalled(result),
        "description": result.test.description or "",
        "vars": [(k, _plain(v)) for k, v in result.test.vars.items()],
        "target": result.target.label,
        "prompt": result.prompt.label[:120],
        "score": f"{result.score:.2f}",
        "error": result.response.error or "",
        "reasons": failing_reasons(result.grading),
        "output": _output_text(result),
        "figures": stream_figures(result),
        "stall": stall_note(result) or "",
        "strip": strip(result),
    }


def cards(s: RunSummary) -> list[tuple[str, str, bool]]:
    """(label, value, alarm) for the head of the page."""
    return [
        ("tests", f"{s.total} of {s.planned}" if s.partial else str(s.total), s.partial),
        ("pass / fail / error", f"{s.passed} / {s.failed} / {s.errors}", False),
        ("pass rate", f"{s.pass_rate:.1f}%" + (f" of {s.total}" if s.partial else ""), False),
        ("TTFT p50", _ms(s.first_delta_ms["p50"]), False),
        ("TTFT p95", _ms(s.first_delta_ms["p95"]), False),
        ("largest gap", _ms(s.max_gap_ms["max"]), s.stalled > 0),
        ("stalled streams", str(s.stalled), s.stalled > 0),
        ("duration", f"{s.duration_s:.2f} s", False),
    ]


def _ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f} ms" if value < 10 else f"{value:,.0f} ms"


def render_html(run: EvalRun) -> str:
    """The whole report page."""
    summary = summarise_run(run)
    page = resources.files("wsllm.report").joinpath("report.html").read_text()
    template = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(page)
    return template.render(
        title=run.config.description or run.config.path.name, run_id=run.id,
        started=readable_date(run.started_at), config_path=str(run.config.path),
        version=__version__, summary=summary, cards=cards(summary), legend=LEGEND,
        rows=[row(r) for r in run.results], strip_width=STRIP_WIDTH,
    )  # fmt: skip


def write_html(run: EvalRun, path: Path) -> None:
    """Write the report page."""
    path.write_text(render_html(run))
