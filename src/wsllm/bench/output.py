"""Bench results out: the terminal summary, a JSON file, and an HTML report with latency
histograms and a timeline of requests."""

from __future__ import annotations

import math
import statistics
from html import escape
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from wsllm.bench.engine import LoadRun
from wsllm.stats import KEYS

DISTRIBUTIONS = (
    ("ttft_ms", "time to first delta (ms)"),
    ("itl_ms", "gap between deltas (ms)"),
    ("tpot_ms", "time per delta after the first (ms)"),
    ("e2e_ms", "end to end (ms)"),
    ("request_deltas_per_s", "deltas/s per request"),
    ("request_chars_per_s", "chars/s per request"),
)
HEADLINES = ("req_per_s", "deltas_per_s", "chars_per_s")


def headline(results: list[dict[str, Any]], key: str) -> float | None:
    """The median over rounds of a top-level figure, or of a distribution's `key.p50` style path."""
    name, _, stat = key.partition(".")
    values = [f[name][stat] if stat else f[name] for f in results]
    numbers = [float(v) for v in values if v is not None]
    return statistics.median(numbers) if numbers else None


def print_summary(
    console: Console,
    results: dict[str, list[dict[str, Any]]],
    errors: dict[str, dict[str, list[str]]],
) -> None:
    """One table per endpoint (last round), then ratios when there are two."""
    for url, rounds in results.items():
        last = rounds[-1]
        table = Table(title=Text(f"{url} ({len(rounds)} round{'s' if len(rounds) > 1 else ''})"))
        table.add_column("figure")
        for stat in KEYS:
            table.add_column(stat, justify="right")
        for key, label in DISTRIBUTIONS:
            table.add_row(label, *(_fmt(last[key][s]) for s in KEYS))
        console.print(table)
        counts = (
            f"completed {last['completed']} · errors {last['errors']} "
            f"{_kinds(last['errors_by_kind'])}· cut at end {last['cut_at_end']} · "
            f"{last['wall_s']:.2f} s · {last['req_per_s']:.1f} req/s · "
            f"{last['deltas_per_s']:.0f} deltas/s · {last['chars_per_s']:.0f} chars/s"
        )
        console.print(Text(counts))
        for kind, examples in errors.get(url, {}).items():
            console.print(Text(f"  {kind}: {examples[0]}", style="red"))
    if len(results) == 2:
        _print_ratios(console, results)


def _kinds(kinds: dict[str, int]) -> str:
    return "(" + ", ".join(f"{k} {v}" for k, v in kinds.items()) + ") " if kinds else ""


def _print_ratios(console: Console, results: dict[str, list[dict[str, Any]]]) -> None:
    (first, a), (second, b) = results.items()
    table = Table(title=Text("medians over rounds; ratio = second / first"))
    table.add_column("figure")
    table.add_column(Text(first), justify="right")
    table.add_column(Text(second), justify="right")
    table.add_column("ratio", justify="right")
    for key in (
        *HEADLINES,
        "ttft_ms.p50",
        "ttft_ms.p99",
        "itl_ms.p50",
        "itl_ms.p99",
        "e2e_ms.p50",
        "e2e_ms.p99",
    ):
        x, y = headline(a, key), headline(b, key)
        ratio = f"{y / x:.2f}x" if x and y is not None else "n/a"
        table.add_row(key, _fmt(x), _fmt(y), ratio)
    console.print(table)


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"


def write(
    path: str,
    results: dict[str, list[dict[str, Any]]],
    runs: dict[str, list[LoadRun]],
    settings: dict[str, Any],
) -> None:
    """Write `path` as JSON or HTML by its extension."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if path.endswith(".json"):
        document = {
            "settings": {k: str(v) if isinstance(v, Path) else v for k, v in settings.items()},
            "results": results,
            "requests": {url: [_records(run) for run in rs] for url, rs in runs.items()},
        }
        target.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2, default=str))
    else:
        target.write_text(render_html(results, runs))


def _records(run: LoadRun) -> list[dict[str, Any]]:
    return [
        {
            "start_ms": round((r.started_s - run.started_at) * 1000, 3),
            "connect_ms": r.connect_ms,
            "ttft_ms": r.ttft_ms,
            "e2e_ms": r.e2e_ms,
            "deltas": r.deltas,
            "chars": r.chars,
            "error": r.error,
            "detail": r.error_detail or None,
        }
        for r in run.records
    ]


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1d1f24;background:#fafafa}
h1{font-size:1.4rem} h2{font-size:1.1rem;margin-top:2rem} .dim{color:#666}
.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:.6rem 0 1rem}
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:.6rem .9rem}
.card b{display:block;font-size:1.2rem} .charts{display:flex;flex-wrap:wrap;gap:1rem}
figure{background:#fff;border:1px solid #e2e2e2;border-radius:8px;margin:0;padding:.6rem}
figcaption{font-size:12.5px;color:#444;margin-bottom:.3rem}
table{border-collapse:collapse;background:#fff} td,th{border:1px solid #e2e2e2;padding:.3rem .6rem}
"""


def histogram(values: list[float], width: int = 320, height: int = 120, bins: int = 30) -> str:
    """An SVG histogram of `values`, with its range labelled."""
    if not values:
        return '<svg width="320" height="40"><text x="8" y="24" fill="#888">no data</text></svg>'
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - low) / span * bins))] += 1
    top = max(counts)
    bar = (width - 10) / bins
    rects = "".join(
        f'<rect x="{5 + i * bar:.1f}" y="{height - 18 - (c / top) * (height - 28):.1f}" '
        f'width="{bar - 1:.1f}" height="{(c / top) * (height - 28):.1f}" fill="#3b82f6"/>'
        for i, c in enumerate(counts) if c
    )  # fmt: skip
    text = f'y="{height - 4}" font-size="11" fill="#555"'
    labels = (
        f'<text x="5" {text}>{_fmt(low)}</text>'
        f'<text x="{width - 5}" {text} text-anchor="end">{_fmt(high)}</text>'
    )
    return f'<svg width="{width}" height="{height}" role="img">{rects}{labels}</svg>'


def timeline(run: LoadRun, width: int = 680, limit: int = 300) -> str:
    """Requests (an even sample of at most `limit`) as lines from start to end, the first delta
    as a dot; failed requests in red."""
    ordered = sorted(run.records, key=lambda r: r.started_s)
    records = ordered[:: max(1, math.ceil(len(ordered) / limit))]
    if not records:
        return ""
    row = 3
    height = len(records) * row + 20
    total = max(run.wall_s * 1000, 1.0)
    scale = (width - 10) / total
    parts = []
    for i, r in enumerate(records):
        start = (r.started_s - run.started_at) * 1000
        end = start + (r.e2e_ms if r.e2e_ms is not None else 0)
        y = 4 + i * row
        x1, x2 = 5 + start * scale, 5 + max(end, start + 0.5) * scale
        color = "#dc2626" if r.error else "#94a3b8"
        line = f'y1="{y}" y2="{y}" stroke="{color}" stroke-width="2"'
        parts.append(f'<line x1="{x1:.1f}" x2="{x2:.1f}" {line}/>')
        if r.ttft_ms is not None:
            x = 5 + (start + r.ttft_ms) * scale
            parts.append(f'<circle cx="{x:.1f}" cy="{y}" r="1.3" fill="#1d4ed8"/>')
    label = f'x="{width - 5}" y="{height - 3}" font-size="11" fill="#555" text-anchor="end"'
    parts.append(f"<text {label}>{total:,.0f} ms</text>")
    return f'<svg width="{width}" height="{height}" role="img">{"".join(parts)}</svg>'


def render_html(results: dict[str, list[dict[str, Any]]], runs: dict[str, list[LoadRun]]) -> str:
    """The report page."""
    sections = []
    for url, rounds in results.items():
        last, run = rounds[-1], runs[url][-1]
        done = [r for r in run.records if r.error is None]
        samples = {
            "ttft_ms": [r.ttft_ms for r in done if r.ttft_ms is not None],
            "itl_ms": [g for r in done for g in r.gaps_ms],
            "e2e_ms": [r.e2e_ms for r in done if r.e2e_ms is not None],
        }
        cards = [
            ("req/s", last["req_per_s"]), ("deltas/s", last["deltas_per_s"]),
            ("chars/s", last["chars_per_s"]), ("TTFT p50 ms", last["ttft_ms"]["p50"]),
            ("TTFT p99 ms", last["ttft_ms"]["p99"]), ("ITL p99 ms", last["itl_ms"]["p99"]),
            ("completed", last["completed"]), ("errors", last["errors"]),
        ]  # fmt: skip
        card_html = "".join(f'<div class="card"><b>{_fmt(v)}</b>{k}</div>' for k, v in cards)
        charts = "".join(
            f"<figure><figcaption>{escape(label)}</figcaption>{histogram(samples[key])}</figure>"
            for key, label in DISTRIBUTIONS[:4] if key in samples
        )  # fmt: skip
        rows = "".join(
            f"<tr><td>{escape(label)}</td>"
            + "".join(f"<td>{_fmt(last[key][s])}</td>" for s in KEYS)
            + "</tr>"
            for key, label in DISTRIBUTIONS
        )
        head = "".join(f"<th>{s}</th>" for s in KEYS)
        sections.append(
            f"<h2>{escape(url)}</h2>"
            f'<div class="cards">{card_html}</div><div class="charts">{charts}</div>'
            f"<h2>Requests over time (first delta as a dot)</h2>{timeline(run)}"
            f"<h2>Distributions</h2><table><tr><th></th>{head}</tr>{rows}</table>"
        )
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>wsllm bench</title>"
        f"<style>{_CSS}</style><h1>wsllm bench</h1>{''.join(sections)}</html>"
    )
