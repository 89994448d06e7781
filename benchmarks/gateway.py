"""Gateway throughput: `wsllm serve --backend openai` against an OpenAI-compatible upstream, under
closed-loop load, side by side with other endpoints (the Node reference server, say) in one run.

    python benchmarks/gateway.py --upstream http://127.0.0.1:4010/v1 \
        --compare node=ws://127.0.0.1:3301/ws-stream --conns 50 --reqs 20 --rounds 5

Rounds alternate between the targets, and the table reports medians and ratios, because machines
are noisy. `--loadgen-cmd` (or $WSLLM_LOADGEN_CMD) runs an external load generator that takes
`URL CONNS REQS` and prints one JSON line with the same fields; otherwise wsllm's own is used.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import statistics
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import orjson

from wsllm.bench.api import closed_loop
from wsllm.process import use_uvloop
from wsllm.server.spawn import spawned_server

FIGURES = ("req_per_s", "deltas_per_s", "ttft_ms_p50", "ttft_ms_p99", "e2e_ms_p50", "e2e_ms_p99")


@contextmanager
def wsllm_server(upstream: str, extra: list[str]) -> Iterator[str]:
    """`wsllm serve` on a free port in front of `upstream`; yields its /ws-stream URL."""
    env = {**os.environ, "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY", "sk-bench")}
    args = ["--backend", "openai", "--port", "0", "--base-url", upstream, *extra]
    with spawned_server(args, env) as base:
        yield base.replace("http://", "ws://") + "/ws-stream"


def measure(url: str, conns: int, reqs: int, loadgen: str | None) -> dict[str, object]:
    """One load run against `url`."""
    if loadgen:
        command = [*shlex.split(loadgen), url, str(conns), str(reqs)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        summary: dict[str, object] = orjson.loads(output.strip().splitlines()[-1])
        return summary
    use_uvloop()
    return asyncio.run(closed_loop(url, conns, reqs))


def median_table(runs: dict[str, list[dict[str, object]]]) -> dict[str, dict[str, float]]:
    """Median of each figure per target."""
    return {
        name: {f: statistics.median(_number(r[f]) for r in results) for f in FIGURES}
        for name, results in runs.items()
    }


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def report(medians: dict[str, dict[str, float]], baseline: str | None) -> None:
    """Print medians, and each target's ratio to the baseline."""
    print(f"{'target':<10}" + "".join(f"{f:>14}" for f in FIGURES))
    for name, row in medians.items():
        print(f"{name:<10}" + "".join(f"{row[f]:>14.1f}" for f in FIGURES))
    if baseline is None:
        return
    base = medians[baseline]
    for name, row in medians.items():
        if name != baseline:
            ratios = (f"{row[f] / base[f]:.2f}x" if base[f] else "n/a" for f in FIGURES)
            print(f"{name + '/' + baseline:<10}" + "".join(f"{r:>14}" for r in ratios))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="OpenAI-compatible base URL (…/v1)")
    parser.add_argument("--compare", action="append", default=[], help="NAME=WS_URL, repeatable")
    parser.add_argument("--conns", type=int, default=50)
    parser.add_argument("--reqs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--loadgen-cmd", default=os.environ.get("WSLLM_LOADGEN_CMD"))
    parser.add_argument("--serve-arg", action="append", default=[], help="extra `wsllm serve` flag")
    args = parser.parse_args()
    targets = dict(item.split("=", 1) for item in args.compare)
    runs: dict[str, list[dict[str, object]]] = {"wsllm": [], **{name: [] for name in targets}}
    with wsllm_server(args.upstream, args.serve_arg) as url:
        targets = {"wsllm": url, **targets}
        measure(url, args.conns, 2, args.loadgen_cmd)  # warm-up
        for round_number in range(args.rounds):
            for name, target in targets.items():
                result = measure(target, args.conns, args.reqs, args.loadgen_cmd)
                runs[name].append(result)
                print(f"round {round_number + 1} {name}: {orjson.dumps(result).decode()}")
    report(median_table(runs), next(iter(targets)) if len(targets) == 1 else list(targets)[1])


if __name__ == "__main__":
    main()
