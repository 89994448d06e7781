"""The geometry of the bench report's charts (no I/O, no markup): histograms of several runs on
one scale with p50 and p99 marked, and a run's throughput and TTFT over time. The template
(`bench/report.html`) draws what these return."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from wsllm.stats import percentile

COLORS = ("#2563eb", "#ea580c")
WIDE = 1150
LEFT_AXIS = 56
BASELINE = 130 - 22
TTFT_LINES = (("ttft_p50", "TTFT p50", "#1d4ed8"), ("ttft_p99", "TTFT p99", "#7c3aed"))
WIDTH = 360
HEIGHT = 150
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 8, 8, 22, 22


@dataclass(slots=True)
class Series:
    """One run's share of a chart."""

    name: str
    color: str
    bars: list[tuple[float, float, float, float]] = field(default_factory=list)  # x, y, w, h
    marks: list[tuple[float, str, float, str]] = field(default_factory=list)  # x, text, at, anchor
    count: int = 0


@dataclass(slots=True)
class Chart:
    """A chart to draw: its series, its x axis, and a note when there is nothing to show."""

    title: str
    width: int = WIDTH
    height: int = HEIGHT
    series: list[Series] = field(default_factory=list)
    axis: list[tuple[float, str]] = field(default_factory=list)
    lines: list[tuple[str, str, str]] = field(default_factory=list)  # name, color, points
    y_axis: list[tuple[float, str]] = field(default_factory=list)  # y, label
    empty: str = ""


def nice_step(span: float, ticks: int = 5) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about `ticks` ticks over `span`."""
    raw = max(span, 1e-9) / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    return next(float(m * power) for m in (1, 2, 5, 10) if m * power >= raw)


def _axis(low: float, high: float, x: Any, unit: str) -> list[tuple[float, str]]:
    step = nice_step(high - low)
    first = math.ceil(low / step) * step
    count = int((high - first) / step + 1e-9) + 1
    return [(x(first + i * step), f"{_number(first + i * step)}{unit}") for i in range(count)]


def _number(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.1f}" if value >= 10 else f"{value:.2f}".rstrip("0").rstrip(".")


def histogram(title: str, samples: dict[str, list[float]], unit: str, bins: int = 30) -> Chart:
    """A histogram per run, all on one x scale and one count scale, p50 and p99 marked."""
    chart = Chart(title)
    values = [v for run in samples.values() for v in run]
    if not values:
        chart.empty = "no data"
        return chart
    low, high = min(values), max(values)
    high = high if high > low else low + 1.0
    inner = WIDTH - PAD_LEFT - PAD_RIGHT

    def x(value: float) -> float:
        return round(PAD_LEFT + inner * (value - low) / (high - low), 1)

    counts = {name: _counts(run, low, high, bins) for name, run in samples.items()}
    top = max(max(c) for c in counts.values()) or 1
    for index, (name, run) in enumerate(samples.items()):
        series = Series(name, COLORS[index % len(COLORS)], count=len(run))
        series.bars = _bars(counts[name], top, inner / bins, len(samples), index)
        marks = _marks(run)
        series.marks = [_mark(x(v), f"{stat} {_number(v)}", stat == "p50") for stat, v in marks]
        chart.series.append(series)
    chart.axis = _axis(low, high, x, unit)
    return chart


def _counts(values: list[float], low: float, high: float, bins: int) -> list[int]:
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int((value - low) / (high - low) * bins))] += 1
    return counts


def _bars(counts: list[int], top: int, width: float, runs: int, index: int
          ) -> list[tuple[float, float, float, float]]:  # fmt: skip
    """Bars side by side within each bin, one run after the other."""
    inner_height = HEIGHT - PAD_TOP - PAD_BOTTOM
    each = max(width / runs - 0.5, 0.8)
    bars = []
    for i, count in enumerate(counts):
        if count:
            h = inner_height * count / top
            left = PAD_LEFT + i * width + index * (width / runs)
            bars.append((round(left, 1), round(PAD_TOP + inner_height - h, 1), round(each, 1),
                         round(h, 1)))  # fmt: skip
    return bars


def _mark(x: float, text: str, left: bool) -> tuple[float, str, float, str]:
    """A p50 label left of its line and a p99 label right of it, kept inside the chart."""
    room = len(text) * 6 + 4
    if (left and x - room < 0) or (not left and x + room > WIDTH):
        left = not left
    return (x, text, x - 3 if left else x + 3, "end" if left else "start")


def _marks(values: list[float]) -> list[tuple[str, float]]:
    found = [("p50", percentile(values, 0.5)), ("p99", percentile(values, 0.99))]
    return [(label, v) for label, v in found if v is not None]


def over_time(slices: list[dict[str, Any]], wall_s: float) -> tuple[Chart, Chart]:
    """Two charts sharing one time axis: completed requests per second as bars (errors stacked in
    red), and TTFT p50 and p99 as lines, each with its own scale."""
    rate = Chart("completed requests/s", width=WIDE, height=130)
    ttft = Chart("TTFT (ms)", width=WIDE, height=130)
    if not slices or not any(s["completed"] or s["errors"] for s in slices):
        rate.empty = ttft.empty = "no requests"
        return rate, ttft
    inner = WIDE - LEFT_AXIS - PAD_RIGHT
    step = slices[0]["end_s"] - slices[0]["start_s"]

    def x(seconds: float) -> float:
        return round(LEFT_AXIS + inner * seconds / max(wall_s, 1e-9), 1)

    top_rate = max((s["completed"] + s["errors"]) / step for s in slices) or 1.0
    done, failed = Series("completed", "#94a3b8"), Series("errors", "#dc2626")
    for s in slices:
        left, width = x(s["start_s"]), max(x(s["end_s"]) - x(s["start_s"]) - 1.0, 0.8)
        h_done = _height(s["completed"] / step, top_rate)
        h_failed = _height(s["errors"] / step, top_rate)
        done.bars.append((left, round(BASELINE - h_done, 1), round(width, 1), h_done))
        stacked = round(BASELINE - h_done - h_failed, 1)
        failed.bars.append((left, stacked, round(width, 1), h_failed))
    rate.series, rate.y_axis = [done, failed], _y_axis(top_rate, "/s")
    top_ttft = max((s["ttft_p99"] or 0.0) for s in slices) or 1.0
    for key, name, color in TTFT_LINES:
        points = [f"{x((s['start_s'] + s['end_s']) / 2)},"
                  f"{round(BASELINE - _height(s[key], top_ttft), 1)}"
                  for s in slices if s[key] is not None]  # fmt: skip
        ttft.lines.append((name, color, " ".join(points)))
    ttft.y_axis = _y_axis(top_ttft, " ms")
    rate.axis = ttft.axis = _axis(0.0, wall_s, x, " s")
    return rate, ttft


def _height(value: float, top: float) -> float:
    return round((BASELINE - PAD_TOP) * value / top, 1)


def _y_axis(top: float, unit: str) -> list[tuple[float, str]]:
    ticks = (0.0, top / 2, top)
    return [(round(BASELINE - _height(v, top), 1), f"{_number(v)}{unit}") for v in ticks]


def slice_count(wall_s: float, typical_s: float) -> int:
    """Slices of at least four typical requests each (fewer slices smooth a closed loop's waves),
    between 5 and 60."""
    if typical_s <= 0:
        return 60
    return max(5, min(60, int(wall_s / (4 * typical_s))))
