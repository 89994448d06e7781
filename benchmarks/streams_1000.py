"""Many slow streams on one worker: CONNS concurrent streams, each delta 1/RATE s apart upstream;
how much latency does the server add?

    python benchmarks/streams_1000.py                                  # the simulated model
    python benchmarks/streams_1000.py --upstream http://127.0.0.1:4011/v1   # an upstream pacing ITL

With the simulated model the server paces the deltas itself (`--sim-itl-ms`), so what the client
sees beyond that pacing is the server's own added latency. With `--upstream`, point it at an
OpenAI-compatible stand-in that sends a delta every 1000/RATE ms (e.g. ITL_MS=20), and the figure
also holds the stand-in's own timer jitter.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from wsllm.bench.engine import Workload, run_load
from wsllm.bench.figures import figures
from wsllm.bench.workload import SEED_TEMPLATE, generated_prompts, seed_renderer, seed_states
from wsllm.process import use_uvloop
from wsllm.server.spawn import spawned_server


@contextmanager
def server(args: argparse.Namespace) -> Iterator[str]:
    """One `wsllm serve` worker; yields its /ws-stream URL."""
    gap = 1000 / args.rate
    command = ["--port", "0"]
    if args.upstream:
        command += ["--backend", "openai", "--base-url", args.upstream]
    else:
        command += ["--backend", "simulated", "--sim-ttft-ms", "0", "--sim-itl-ms", f"{gap:g}",
                    "--sim-tokens", str(args.deltas)]  # fmt: skip
    env = {"OPENAI_API_KEY": "sk-bench", "WSLLM_MAX_CONNECTIONS_PER_CLIENT": "100000",
           "WSLLM_LOG_LEVEL": "info", "PATH": "/usr/bin:/bin"}  # fmt: skip
    with spawned_server(command, env) as base:
        yield base.replace("http://", "ws://") + "/ws-stream"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conns", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="deltas per second per stream")
    parser.add_argument("--deltas", type=int, default=100, help="deltas per reply (simulated)")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--upstream", help="OpenAI-compatible base URL pacing its own deltas")
    args = parser.parse_args()
    use_uvloop()
    with server(args) as url:
        load = Workload(url=url, render=seed_renderer(SEED_TEMPLATE),
                        prompts=generated_prompts(1000, 6, 0), new_state=seed_states(),
                        concurrency=args.conns, requests=args.requests, timeout_s=120)  # fmt: skip
        result = figures(asyncio.run(run_load(load, lambda record: None)))
    gap = 1000 / args.rate
    itl, ttft = result["itl_ms"], result["ttft_ms"]
    print(f"{args.conns} streams x {args.rate:g} deltas/s: completed {result['completed']}, "
          f"errors {result['errors']}, {result['deltas_per_s']:.0f} deltas/s overall")  # fmt: skip
    print(f"gap between deltas: p50 {itl['p50']:.2f} ms, p99 {itl['p99']:.2f} ms, "
          f"max {itl['max']:.2f} ms (paced at {gap:g} ms)")  # fmt: skip
    print(f"added latency per delta: p50 {itl['p50'] - gap:.2f} ms, p99 {itl['p99'] - gap:.2f} ms")
    print(f"time to first delta: p50 {ttft['p50']:.2f} ms, p99 {ttft['p99']:.2f} ms")


if __name__ == "__main__":
    main()
