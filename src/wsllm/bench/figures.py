"""A load run's figures, defined as vLLM's benchmark_serving defines them, over deltas.

- TTFT (time to first delta): request frame sent to the first delta (the first content frame).
- ITL: every gap between consecutive deltas of a request, pooled over all requests.
- TPOT: per request, (end to end - TTFT) / (deltas - 1), for requests of two deltas or more.
- E2E: request frame sent to the frame that ends the request.
- Throughput: completed requests, deltas and characters over the run's wall time; per request,
  deltas/s and chars/s over its time after the first delta.

Where ours differs: we count deltas (frames) and characters, not tokens, since a WebSocket server
may pack several tokens in a frame; and a failed request adds to the errors, not to latencies.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from wsllm.bench.engine import LoadRun, RequestRecord
from wsllm.stats import percentile, summarise

LATENCIES = ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms")


def _per_request_rate(record: RequestRecord, amount: float) -> float | None:
    if record.e2e_ms is None or record.ttft_ms is None:
        return None
    streaming_s = (record.e2e_ms - record.ttft_ms) / 1000
    return amount / streaming_s if streaming_s > 0 else None


def figures(run: LoadRun) -> dict[str, Any]:
    """Counts, throughput and latency distributions of one run."""
    done = [r for r in run.records if r.error is None]
    wall = run.wall_s or 1e-9
    deltas = sum(r.deltas for r in done)
    chars = sum(r.chars for r in done)
    tpot = [
        (r.e2e_ms - r.ttft_ms) / (r.deltas - 1)
        for r in done
        if r.e2e_ms is not None and r.ttft_ms is not None and r.deltas > 1
    ]
    delta_rates = [x for r in done if (x := _per_request_rate(r, max(r.deltas - 1, 0))) is not None]
    char_rates = [x for r in done if (x := _per_request_rate(r, r.chars)) is not None]
    return {
        "url": run.url,
        "completed": len(done),
        "resumed": sum(r.resumes > 0 for r in run.records),
        "errors": len(run.records) - len(done),
        "errors_by_kind": dict(Counter(r.error for r in run.records if r.error)),
        "cut_at_end": run.cut_at_end,
        "wall_s": round(run.wall_s, 3),
        "req_per_s": round(len(done) / wall, 2),
        "deltas_per_s": round(deltas / wall, 1),
        "chars_per_s": round(chars / wall, 1),
        "deltas": deltas,
        "chars": chars,
        "ttft_ms": summarise([r.ttft_ms for r in done if r.ttft_ms is not None]),
        "itl_ms": summarise([g for r in done for g in r.gaps_ms]),
        "tpot_ms": summarise(tpot),
        "e2e_ms": summarise([r.e2e_ms for r in done if r.e2e_ms is not None]),
        "request_deltas_per_s": summarise(delta_rates),
        "request_chars_per_s": summarise(char_rates),
        "connect_ms": summarise([r.connect_ms for r in run.records if r.connect_ms is not None]),
    }


def error_examples(run: LoadRun, limit: int = 3) -> dict[str, list[str]]:
    """A few distinct messages per error kind, for the report."""
    examples: dict[str, list[str]] = {}
    for record in run.records:
        if record.error:
            seen = examples.setdefault(record.error, [])
            if record.error_detail not in seen and len(seen) < limit:
                seen.append(record.error_detail)
    return examples


def rate_shortfall(run: LoadRun, rate: float, concurrency: int) -> dict[str, float] | None:
    """When `--rate` asked for more than the connections could carry: what was delivered, how long
    a request took, and the concurrency that would carry the rate; None when the rate was met."""
    if not run.records or run.wall_s <= 0:
        return None
    delivered = len(run.records) / run.wall_s
    durations = [r.e2e_ms for r in run.records if r.e2e_ms is not None]
    if delivered >= 0.9 * rate or not durations:
        return None
    mean_s = sum(durations) / len(durations) / 1000
    if concurrency / mean_s > 1.1 * rate:
        return None  # the connections could carry it: the shortfall comes from elsewhere
    return {
        "asked": rate,
        "delivered": round(delivered, 2),
        "mean_s": round(mean_s, 3),
        "ceiling": round(concurrency / mean_s, 2),
        "needed": math.ceil(rate * mean_s * 1.2),
    }


def over_time(run: LoadRun, bins: int = 60) -> list[dict[str, Any]]:
    """The run in time slices: requests started, completed and failed, and TTFT p50 and p99 of
    the requests started in each slice (times in seconds from the start)."""
    wall = max(run.wall_s, 1e-3)
    step = wall / bins
    slices: list[dict[str, Any]] = [
        {"start_s": i * step, "end_s": (i + 1) * step, "completed": 0, "errors": 0, "ttft": []}
        for i in range(bins)
    ]
    for record in run.records:
        index = min(bins - 1, max(0, int((record.started_s - run.started_at) / step)))
        target = slices[index]
        if record.error is not None:
            target["errors"] += 1
            continue
        target["completed"] += 1
        if record.ttft_ms is not None:
            target["ttft"].append(record.ttft_ms)
    for piece in slices:
        samples = piece.pop("ttft")
        piece["ttft_p50"] = percentile(samples, 0.5)
        piece["ttft_p99"] = percentile(samples, 0.99)
    return slices
