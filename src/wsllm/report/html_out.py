"""A standalone HTML report: summary, every result with its reasons, and each stream drawn as a
strip of frame arrivals. All output is escaped: model text is untrusted."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from wsllm.evals.results import EvalRun, TestResult
from wsllm.report.summary import summarise_run
from wsllm.report.table import stream_figures

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1d1f24;background:#fafafa}
h1{font-size:1.4rem;margin:0 0 .3rem} .sub{color:#666;margin-bottom:1.2rem}
.cards{display:flex;gap:1rem;margin-bottom:1.5rem;flex-wrap:wrap}
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:.7rem 1rem;min-width:7rem}
.card b{display:block;font-size:1.3rem}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #e2e2e2;padding:.45rem .6rem;vertical-align:top;text-align:left}
th{background:#f0f1f4;position:sticky;top:0}
.pass{color:#17803d;font-weight:600}.fail{color:#c0262d;font-weight:600}
.error{color:#fff;background:#c0262d;padding:0 .3rem;border-radius:3px}
pre{white-space:pre-wrap;word-break:break-word;margin:0;font:12.5px/1.4 ui-monospace,monospace}
.reason{color:#8a1c22}.dim{color:#777;font-size:12px}
svg.strip{display:block;margin-top:.3rem}
"""


def strip(result: TestResult, width: int = 220, height: int = 18) -> str:
    """An SVG strip: one tick per frame at its arrival time, the first content frame in blue."""
    frames = result.response.frames
    total = max(result.response.metrics.total_ms, 1.0)
    first = result.response.metrics.first_delta_ms
    ticks = []
    for frame in frames:
        x = 2 + (width - 4) * min(max(frame.at_ms, 0.0) / total, 1.0)
        ticks.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="3" y2="{height - 3}" stroke="#888"/>')
    if first is not None:
        x = 2 + (width - 4) * min(first / total, 1.0)
        marker = 'stroke="#2563eb" stroke-width="2"'
        ticks.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{height}" {marker}/>')
    return (
        f'<svg class="strip" width="{width}" height="{height}" role="img" '
        f'aria-label="frame arrivals"><rect width="{width}" height="{height}" fill="#f4f5f7"/>'
        + "".join(ticks)
        + "</svg>"
    )


def _row(result: TestResult) -> str:
    status = result.status
    badge = f'<span class="{status}">{status.upper()}</span>'
    output = result.response.output
    shown = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False, indent=2)
    detail = ""
    if status == "error":
        detail = f'<pre class="reason">{escape(result.response.error or "")}</pre>'
    elif status == "fail" and result.grading is not None:
        detail = f'<pre class="reason">{escape(result.grading.reason)}</pre>'
    variables = json.dumps(result.test.vars, ensure_ascii=False, indent=1)
    return (
        "<tr>"
        f"<td>{escape(result.test.description or '')}"
        f"<pre class='dim'>{escape(variables)}</pre></td>"
        f"<td>{escape(result.target.label)}"
        f"<div class='dim'>{escape(result.prompt.label[:80])}</div></td>"
        f"<td>{badge}<div class='dim'>score {result.score:.2f}</div></td>"
        f"<td>{detail}<pre>{escape(shown or '')}</pre></td>"
        f"<td><span class='dim'>{escape(stream_figures(result))}</span>{strip(result)}</td>"
        "</tr>"
    )


def render_html(run: EvalRun) -> str:
    """The whole report page."""
    s = summarise_run(run)
    title = escape(run.config.description or run.config.path.name)
    cards = [
        ("passed", s.passed), ("failed", s.failed), ("errors", s.errors),
        ("pass rate", f"{s.pass_rate:.1f}%"), ("duration", f"{s.duration_s:.2f}s"),
        ("ttft p50", _ms(s.first_delta_ms["p50"])), ("ttft p95", _ms(s.first_delta_ms["p95"])),
        ("largest gap p95", _ms(s.max_gap_ms["p95"])),
    ]  # fmt: skip
    card_html = "".join(
        f'<div class="card"><b>{escape(str(v))}</b>{escape(k)}</div>' for k, v in cards
    )
    rows = "".join(_row(r) for r in run.results)
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{title} · wsllm</title>"
        f"<style>{_CSS}</style><h1>{title}</h1>"
        f'<div class="sub">{escape(run.id)} · {escape(run.started_at.isoformat())}</div>'
        f'<div class="cards">{card_html}</div>'
        "<table><thead><tr><th>test</th><th>target</th><th>result</th><th>output</th>"
        f"<th>stream</th></tr></thead><tbody>{rows}</tbody></table></html>"
    )


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def write_html(run: EvalRun, path: Path) -> None:
    """Write the report page."""
    path.write_text(render_html(run))
