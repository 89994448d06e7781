"""`/v1/responses` (OpenAI's WebSocket mode) against `/ws-stream` (the seed protocol) on one
`wsllm serve`, the same backend and the same closed-loop load, alternating; deltas a second and
time to first delta, medians of the rounds.

    python benchmarks/responses_vs_seed.py --upstream http://127.0.0.1:4010/v1 --rounds 5
    python benchmarks/responses_vs_seed.py                # the simulated model at full speed

With `--upstream`, the server runs the `openai` backend against that OpenAI-compatible server
(use a deterministic, instant one); without it, the simulated model answers with 64 deltas at once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from wsllm.bench.api import closed_loop
from wsllm.process import use_uvloop
from wsllm.server.spawn import spawned_server

FIGURES = ("req_per_s", "deltas_per_s", "ttft_ms_p50", "ttft_ms_p99", "e2e_ms_p99")
PATHS = {"seed": "/ws-stream", "responses": "/v1/responses"}


@contextmanager
def server(upstream: str | None) -> Iterator[str]:
    """One `wsllm serve`; yields its ws:// base."""
    if upstream:
        args = ["--backend", "openai", "--base-url", upstream]
        env = {**os.environ, "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY", "sk-bench")}
    else:
        args = ["--backend", "simulated", "--sim-ttft-ms", "0", "--sim-itl-ms", "0",
                "--sim-tokens", "64"]  # fmt: skip
        env = dict(os.environ)
    with spawned_server(["--port", "0", *args], env) as base:
        yield base.replace("http://", "ws://")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", help="an OpenAI-compatible base URL (else: simulated)")
    parser.add_argument("--conns", type=int, default=50)
    parser.add_argument("--reqs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    use_uvloop()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in PATHS}
    with server(args.upstream) as base:
        for number in range(args.rounds):
            for name, path in PATHS.items():
                result = asyncio.run(closed_loop(base + path, args.conns, args.reqs,
                                                 protocol=name))  # fmt: skip
                assert result["errors"] == 0, result
                runs[name].append(result)
                print(f"round {number + 1} {name}: {result['req_per_s']} req/s, "
                      f"ttft p99 {result['ttft_ms_p99']} ms")  # fmt: skip
    report(runs)


def report(runs: dict[str, list[dict[str, Any]]]) -> None:
    """Medians per path, and the ratio of /v1/responses to /ws-stream."""
    medians = {n: {f: statistics.median(float(r[f]) for r in rs) for f in FIGURES}
               for n, rs in runs.items()}  # fmt: skip
    print(f"{'path':<16}" + "".join(f"{f:>14}" for f in FIGURES))
    for name, row in medians.items():
        print(f"{PATHS[name]:<16}" + "".join(f"{row[f]:>14.1f}" for f in FIGURES))
    ratio = "".join(f"{medians['responses'][f] / medians['seed'][f]:>13.2f}x" for f in FIGURES)
    print(f"{'responses/seed':<16}{ratio}")


if __name__ == "__main__":
    main()
