"""Bench results out: the terminal summary (with the A/B ratios and what limited the run), a JSON
file, and an HTML report from a template (`bench/report.html`): the settings, the ratios, both
runs' histograms on one scale with p50 and p99 marked, and throughput and TTFT over time.

Figures are named as a person reads them: TTFT (time to first delta), requests/s, not the keys
of the JSON (`ttft_ms.p50`, `req_per_s`)."""

from __future__ import annotations

import math
import statistics
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from jinja2 import Environment
from rich.console import Console
from rich.table import Table
from rich.text import Text

from wsllm.bench import charts
from wsllm.bench.engine import LoadRun
from wsllm.bench.figures import over_time
from wsllm.stats import KEYS

DISTRIBUTIONS = (
    ("ttft_ms", "TTFT, time to first delta (ms)"),
    ("itl_ms", "gap between deltas (ms)"),
    ("tpot_ms", "time per delta after the first (ms)"),
    ("e2e_ms", "end to end (ms)"),
    ("request_deltas_per_s", "deltas/s per request"),
    ("request_chars_per_s", "chars/s per request"),
)
RATIOS = (  # key, label, whether more is better
    ("req_per_s", "requests/s", True),
    ("deltas_per_s", "deltas/s", True),
    ("chars_per_s", "chars/s", True),
    ("ttft_ms.p50", "TTFT p50 (ms)", False),
    ("ttft_ms.p99", "TTFT p99 (ms)", False),
    ("itl_ms.p50", "gap between deltas p50 (ms)", False),
    ("itl_ms.p99", "gap between deltas p99 (ms)", False),
    ("e2e_ms.p50", "end to end p50 (ms)", False),
    ("e2e_ms.p99", "end to end p99 (ms)", False),
)
HIDDEN = "[redacted]"


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
        console.print(Text(_counts(last)))
        for kind, examples in errors.get(url, {}).items():
            console.print(Text(f"  {kind}: {examples[0]}", style="red"))
    if len(results) == 2:
        console.print(ratio_table(results))


def _counts(last: dict[str, Any]) -> str:
    kinds = last["errors_by_kind"]
    shown = "(" + ", ".join(f"{k} {v}" for k, v in kinds.items()) + ") " if kinds else ""
    return (
        f"completed {last['completed']} · errors {last['errors']} {shown}· cut at end "
        f"{last['cut_at_end']} · {last['wall_s']:.2f} s · {last['req_per_s']:.1f} requests/s · "
        f"{last['deltas_per_s']:.0f} deltas/s · {last['chars_per_s']:.0f} chars/s"
    )


def ratios(results: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str, str, str, str]]:
    """(figure, first, second, ratio, which is better) over the medians of the rounds."""
    (_, a), (_, b) = results.items()
    rows = []
    for key, label, more_is_better in RATIOS:
        x, y = headline(a, key), headline(b, key)
        ratio = f"{y / x:.2f}x" if x and y is not None else "n/a"
        better = ""
        if x and y is not None and x != y:
            better = "second" if (y > x) == more_is_better else "first"
        rows.append((label, _fmt(x), _fmt(y), ratio, better))
    return rows


def ratio_table(results: dict[str, list[dict[str, Any]]]) -> Table:
    """The A/B table: medians over rounds, and second / first."""
    first, second = results
    table = Table(title=Text("medians over rounds; ratio = second / first"))
    for name, justify in (("figure", "left"), (first, "right"), (second, "right"),
                          ("ratio", "right"), ("better", "left")):  # fmt: skip
        table.add_column(Text(name), justify=justify)  # type: ignore[arg-type]
    for row in ratios(results):
        table.add_row(*row)
    return table


def shortfall_warning(shortfall: dict[str, float], concurrency: int) -> str:
    """What to tell a user whose --rate the connections could not carry."""
    s = shortfall
    return (
        f"--rate {s['asked']:g}/s asked, {s['delivered']:g} requests/s delivered: --concurrency "
        f"{concurrency} caps it (a request took {s['mean_s']:.2f} s on average, so {concurrency} "
        f"connections carry about {s['ceiling']:g}/s). Use --concurrency {s['needed']:.0f} or more."
    )


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"


def public_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The run's settings fit to write down: header values (often keys) hidden."""
    shown = {k: str(v) if isinstance(v, Path) else v for k, v in settings.items() if k != "func"}
    names = [h.partition(":")[0].strip() for h in settings.get("header", [])]
    shown["header"] = [f"{name}: {HIDDEN}" for name in names]
    return shown


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
            "settings": public_settings(settings),
            "results": results,
            "requests": {url: [_records(run) for run in rs] for url, rs in runs.items()},
        }
        target.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2, default=str))
    else:
        target.write_text(render_html(results, runs, settings))


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
            "resumes": r.resumes,
        }
        for r in run.records
    ]


def _settings_rows(settings: dict[str, Any], urls: list[str]) -> list[tuple[str, str]]:
    s = public_settings(settings)
    mode = f"open loop, Poisson arrivals at {s['rate']:g}/s" if s.get("rate") else "closed loop"
    amount = (
        f"for {s['duration']:g} s" if s.get("duration") else f"{s.get('requests') or 100} requests"
    )
    generated = f"generated, {s.get('prompt_words')} words, seed {s.get('seed')}"
    kept = "a new one per request" if s.get("new_connection") else "kept between requests"
    rows = [
        ("endpoints", " vs ".join(urls)),
        ("load", f"{mode}, {amount}, {s.get('concurrency')} in flight"),
        ("rounds", str(s.get("rounds") or (3 if len(urls) == 2 else 1))),
        ("connections", kept),
        ("warm-up requests", str(s.get("warmup", 0))),
        ("timeout per request", f"{s.get('timeout')} s"),
        ("prompts", str(s.get("prompts") or generated)),
        ("request frame", str(s.get("message_template", ""))),
        ("headers", ", ".join(s["header"]) or "none"),
    ]
    if s.get("config"):
        rows.insert(1, ("eval config", f"{s['config']} (target {s.get('target', 0)})"))
    return rows


def _samples(run: LoadRun) -> dict[str, list[float]]:
    done = [r for r in run.records if r.error is None]
    return {
        "ttft_ms": [r.ttft_ms for r in done if r.ttft_ms is not None],
        "itl_ms": [g for r in done for g in r.gaps_ms],
        "e2e_ms": [r.e2e_ms for r in done if r.e2e_ms is not None],
    }


def _sections(results: dict[str, list[dict[str, Any]]], runs: dict[str, list[LoadRun]]
              ) -> list[dict[str, Any]]:  # fmt: skip
    sections = []
    for url, rounds in results.items():
        last, run = rounds[-1], runs[url][-1]
        cards = [
            ("requests/s", last["req_per_s"]), ("deltas/s", last["deltas_per_s"]),
            ("chars/s", last["chars_per_s"]), ("TTFT p50 (ms)", last["ttft_ms"]["p50"]),
            ("TTFT p99 (ms)", last["ttft_ms"]["p99"]),
            ("gap between deltas p99 (ms)", last["itl_ms"]["p99"]),
            ("completed", last["completed"]), ("errors", last["errors"]),
        ]  # fmt: skip
        distributions = [(name, [_fmt(last[key][s]) for s in KEYS]) for key, name in DISTRIBUTIONS]
        sections.append({
            "url": url, "rounds": len(rounds), "cards": [(k, _fmt(v)) for k, v in cards],
            "distributions": distributions, "counts": _counts(last),
            "time": _over_time(run),
        })  # fmt: skip
    return sections


def _over_time(run: LoadRun) -> tuple[charts.Chart, charts.Chart]:
    durations = [r.e2e_ms for r in run.records if r.e2e_ms is not None]
    typical_s = statistics.median(durations) / 1000 if durations else 0.0
    return charts.over_time(over_time(run, charts.slice_count(run.wall_s, typical_s)), run.wall_s)


def render_html(
    results: dict[str, list[dict[str, Any]]],
    runs: dict[str, list[LoadRun]],
    settings: dict[str, Any] | None = None,
) -> str:
    """The report page."""
    samples = {url: _samples(rs[-1]) for url, rs in runs.items()}
    histograms = [
        charts.histogram(label, {url: s[key] for url, s in samples.items()}, " ms")
        for key, label in DISTRIBUTIONS[:2] + DISTRIBUTIONS[3:4]
    ]
    page = resources.files("wsllm.bench").joinpath("report.html").read_text()
    template = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(page)
    return template.render(
        settings=_settings_rows(settings or {}, list(results)), sections=_sections(results, runs),
        ratios=ratios(results) if len(results) == 2 else [], urls=list(results),
        histograms=histograms, keys=KEYS, colors=charts.COLORS,
    )  # fmt: skip
