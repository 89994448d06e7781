"""Prometheus metrics in the text exposition format (no I/O, no dependency).

With `--workers`, each worker's counts are a snapshot (plain JSON) that any worker merges into
the answer of `/metrics`, so the figures are the whole server's whichever worker answers.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from typing import Any

Labels = tuple[tuple[str, str], ...]

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in labels
    )
    return "{" + inner + "}"


class Histogram:
    """Counts of observations at or under each bucket bound."""

    def __init__(self, buckets: tuple[float, ...] = _SECONDS) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0
        self.n = 0

    def add(self, other: Histogram) -> None:
        """Count another histogram's observations too (same buckets)."""
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.total += other.total
        self.n += other.n

    def snapshot(self) -> dict[str, Any]:
        """The histogram as plain data."""
        return {"counts": self.counts, "total": self.total, "n": self.n}

    @classmethod
    def restore(cls, data: dict[str, Any]) -> Histogram:
        """A histogram from `snapshot()`."""
        made = cls()
        made.counts, made.total, made.n = list(data["counts"]), float(data["total"]), int(data["n"])
        return made

    def observe(self, value: float) -> None:
        """Add one observation."""
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str) -> list[str]:
        """The `_bucket`, `_sum` and `_count` lines."""
        out, running = [], 0
        for bound, count in zip(self.buckets, self.counts, strict=False):
            running += count
            out.append(f'{name}_bucket{{le="{bound:g}"}} {running}')
        out.append(f'{name}_bucket{{le="+Inf"}} {self.n}')
        out.append(f"{name}_sum {self.total:.6f}")
        out.append(f"{name}_count {self.n}")
        return out


class ServerMetrics:
    """What the server counts: connections, requests by outcome, latencies, tokens."""

    def __init__(self) -> None:
        self.connections_open = 0
        self.connections_total = 0
        self.rejected: defaultdict[str, int] = defaultdict(int)
        self.requests: defaultdict[Labels, int] = defaultdict(int)
        self.deltas_total = 0
        self.tokens: defaultdict[str, int] = defaultdict(int)
        self.ttft = Histogram()
        self.duration = Histogram()

    def request_done(self, path: str, outcome: str, ttft_s: float | None, duration_s: float,
                     deltas: int, usage: dict[str, int] | None) -> None:  # fmt: skip
        """Record one finished request."""
        self.requests[(("path", path), ("outcome", outcome))] += 1
        self.duration.observe(duration_s)
        if ttft_s is not None:
            self.ttft.observe(ttft_s)
        self.deltas_total += deltas
        for kind in ("input_tokens", "output_tokens"):
            if usage and kind in usage:
                self.tokens[kind.removesuffix("_tokens")] += usage[kind]

    def snapshot(self) -> dict[str, Any]:
        """The counts as plain data, for another worker to merge."""
        return {
            "open": self.connections_open, "total": self.connections_total,
            "rejected": dict(self.rejected), "deltas": self.deltas_total,
            "requests": [[dict(k), n] for k, n in self.requests.items()],
            "tokens": dict(self.tokens), "ttft": self.ttft.snapshot(),
            "duration": self.duration.snapshot(),
        }  # fmt: skip

    def merged(self, snapshots: list[dict[str, Any]]) -> ServerMetrics:
        """These counts and the snapshots' together."""
        whole = ServerMetrics()
        for data in [self.snapshot(), *snapshots]:
            whole.connections_open += data["open"]
            whole.connections_total += data["total"]
            whole.deltas_total += data["deltas"]
            for reason, n in data["rejected"].items():
                whole.rejected[reason] += n
            for labels, n in data["requests"]:
                whole.requests[tuple(sorted(labels.items(), key=_label_order))] += n
            for kind, n in data["tokens"].items():
                whole.tokens[kind] += n
            whole.ttft.add(Histogram.restore(data["ttft"]))
            whole.duration.add(Histogram.restore(data["duration"]))
        return whole

    def render(self) -> str:
        """The exposition text."""
        lines = [
            "# HELP wsllm_connections_open WebSocket connections open now.",
            "# TYPE wsllm_connections_open gauge",
            f"wsllm_connections_open {self.connections_open}",
            "# HELP wsllm_connections_total WebSocket connections accepted.",
            "# TYPE wsllm_connections_total counter",
            f"wsllm_connections_total {self.connections_total}",
            "# HELP wsllm_connections_rejected_total Handshakes refused, by reason.",
            "# TYPE wsllm_connections_rejected_total counter",
            *(
                f'wsllm_connections_rejected_total{{reason="{r}"}} {n}'
                for r, n in sorted(self.rejected.items())
            ),
            "# HELP wsllm_requests_total Requests finished, by path and outcome.",
            "# TYPE wsllm_requests_total counter",
            *(f"wsllm_requests_total{_labels(k)} {n}" for k, n in sorted(self.requests.items())),
            "# HELP wsllm_time_to_first_token_seconds Request received to first delta sent.",
            "# TYPE wsllm_time_to_first_token_seconds histogram",
            *self.ttft.lines("wsllm_time_to_first_token_seconds"),
            "# HELP wsllm_request_duration_seconds Request received to its last frame.",
            "# TYPE wsllm_request_duration_seconds histogram",
            *self.duration.lines("wsllm_request_duration_seconds"),
            "# HELP wsllm_deltas_total Delta frames sent.",
            "# TYPE wsllm_deltas_total counter",
            f"wsllm_deltas_total {self.deltas_total}",
            "# HELP wsllm_tokens_total Tokens the backends reported, by kind.",
            "# TYPE wsllm_tokens_total counter",
            *(f'wsllm_tokens_total{{kind="{k}"}} {n}' for k, n in sorted(self.tokens.items())),
        ]
        return "\n".join(lines) + "\n"


def _label_order(pair: tuple[str, str]) -> int:
    return ("path", "outcome").index(pair[0]) if pair[0] in ("path", "outcome") else 2
