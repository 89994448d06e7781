"""Many slow streams on one worker: CONNS concurrent streams, each delta 1/RATE s apart upstream;
how much latency does the server add?

    python benchmarks/streams_1000.py                          # steady state (Poisson arrivals)
    python benchmarks/streams_1000.py --arrivals lockstep      # every stream in step
    python benchmarks/streams_1000.py --upstream http://127.0.0.1:4011/v1   # an upstream paces

With the simulated model (the default) delta i of a reply is due i/RATE s after the request
arrives, on the model's own clock, so how late each delta reaches its client is what the server
(and the client, and the loopback) added. Arrivals are Poisson at CONNS / (reply length) a second,
so CONNS streams run at once on average, started at random moments as users start them;
`--arrivals lockstep` instead keeps CONNS clients each sending its next request when its last
reply ends, so all streams run in step and every delta of a round is due in the same
millisecond: the worst case. Requests that start in the first reply-length of the run (the ramp
up) are left out of the figures.

With `--upstream`, point it at an OpenAI-compatible stand-in that sends a delta every 1000/RATE
ms (e.g. ITL_MS=20): only gaps between deltas are reported then, since the stand-in's schedule is
its own.

The load comes from `--clients` processes of a lean client (`lean_client.py`: raw sockets on one
epoll loop, a few microseconds a delta) so that the measuring takes little of the machine's two
cores from the server it measures; `--client wsllm` uses `wsllm bench`'s own client instead, which
costs about as much CPU a delta as the server. The CPU each side used is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import statistics
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

from lean_client import LeanLoad
from workers import pin_servers, server_cpu_s
from wsllm.bench.engine import LoadRun, Workload, run_load
from wsllm.bench.figures import figures
from wsllm.bench.workload import SEED_TEMPLATE, generated_prompts, seed_renderer, seed_states
from wsllm.process import use_uvloop
from wsllm.server.spawn import spawned_server
from wsllm.stats import percentile

_SERVER_CPU = 0


def _client_cpus() -> set[int]:
    """With `--pin`, the CPUs the clients share: every one but the server's."""
    return os.sched_getaffinity(0) - {_SERVER_CPU}


@contextmanager
def server(args: argparse.Namespace) -> Iterator[str]:
    """One `wsllm serve` worker; yields its /ws-stream URL."""
    command = ["--port", "0"]
    if args.upstream:
        command += ["--backend", "openai", "--base-url", args.upstream]
    else:
        itl = f"{1000 / args.rate:g}"
        command += ["--backend", "simulated", "--sim-ttft-ms", "0", "--sim-itl-ms", itl,
                    "--sim-tokens", str(args.deltas)]  # fmt: skip
    env = {"OPENAI_API_KEY": "sk-bench", "WSLLM_MAX_CONNECTIONS_PER_CLIENT": "100000",
           "WSLLM_LOG_LEVEL": "info", "PATH": "/usr/bin:/bin"}  # fmt: skip
    with spawned_server(command, env) as base:
        yield base.replace("http://", "ws://") + "/ws-stream"


def load_share(url: str, conns: int, requests: int, arrivals_per_s: float | None,
               client: str, pin: bool) -> LoadRun:  # fmt: skip
    """One client process's share of the load (run in a process of its own)."""
    # The least priority: the client yields the cores to the server it measures, as it would
    # on a machine of its own (it reads the kernel's arrival times, so reading late does not
    # make a delta late).
    os.nice(19)
    if pin:
        os.sched_setaffinity(0, _client_cpus())
    pool = conns if arrivals_per_s is None else int(conns * 1.25) + 10  # room for Poisson peaks
    if client == "lean":
        prompts = generated_prompts(1000, 6, 0)
        return LeanLoad(url, pool, requests, arrivals_per_s, prompts, seed=os.getpid()).go()
    use_uvloop()
    load = Workload(url=url, render=seed_renderer(SEED_TEMPLATE),
                    prompts=generated_prompts(1000, 6, 0), new_state=seed_states(),
                    concurrency=pool, requests=requests, rate=arrivals_per_s, timeout_s=120,
                    seed=os.getpid())  # fmt: skip
    return asyncio.run(run_load(load, lambda record: None))


def run_clients(url: str, args: argparse.Namespace) -> LoadRun:
    """The load from `args.clients` processes at once; their records pooled."""
    n = args.clients
    reply_s = args.deltas / args.rate
    per_s = None if args.arrivals == "lockstep" else args.conns / reply_s / n
    shares = [(url, args.conns // n + (i < args.conns % n), args.requests // n, per_s, args.client,
               args.pin) for i in range(n)]  # fmt: skip
    with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn")) as pool:
        runs = list(pool.map(load_share, *zip(*shares, strict=True)))
    started = min(r.started_at for r in runs)
    steady = [rec for run in runs for rec in run.records if rec.started_s >= started + reply_s]
    ended = max(r.started_at + r.wall_s for r in runs)
    return LoadRun(url=url, records=steady, started_at=started, wall_s=ended - started - reply_s)


def lateness_ms(run: LoadRun, gap_ms: float) -> list[float]:
    """How late each delta reached its client: delta i is due i x gap after the request was
    sent, so anything beyond is the server's, the network's and the client's own delay."""
    late: list[float] = []
    for record in run.records:
        if record.error is not None or record.ttft_ms is None:
            continue
        seen = record.ttft_ms
        late.append(seen)
        for index, step in enumerate(record.gaps_ms, start=1):
            seen += step
            late.append(seen - index * gap_ms)
    return late


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conns", type=int, default=1000, help="streams at once")
    parser.add_argument("--rate", type=float, default=50.0, help="deltas per second per stream")
    parser.add_argument("--deltas", type=int, default=100, help="deltas per reply (simulated)")
    parser.add_argument("--requests", type=int, default=8000)
    parser.add_argument("--arrivals", choices=("poisson", "lockstep"), default="poisson")
    parser.add_argument("--upstream", help="OpenAI-compatible base URL pacing its own deltas")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--client", choices=("lean", "wsllm"), default="lean",
                        help="the lean client, or wsllm bench's own")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs, each on a fresh server")  # fmt: skip
    parser.add_argument("--pin", action="store_true",
                        help="the server on the first CPU, the clients on the others")  # fmt: skip
    args = parser.parse_args()
    if args.pin and not _client_cpus():
        parser.error("--pin needs two CPUs or more")
    worst: list[float] = []
    for round_number in range(1, args.rounds + 1):
        if args.rounds > 1:
            print(f"round {round_number} of {args.rounds}")
        with server(args) as url:
            if args.pin:
                pin_servers(b"serve\0", {_SERVER_CPU})
            server_cpu = server_cpu_s(b"serve\0")
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            run = run_clients(url, args)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            server_cpu = server_cpu_s(b"serve\0") - server_cpu
        clients_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        worst.append(report(args, run, server_cpu, clients_cpu))
    if args.rounds > 1 and not args.upstream:
        rounds = ", ".join(f"{p99:.1f}" for p99 in worst)
        print(f"p99 added latency over {args.rounds} rounds: median {statistics.median(worst):.1f} "
              f"ms ({rounds})")  # fmt: skip


def report(args: argparse.Namespace, run: LoadRun, server_cpu: float, clients_cpu: float
           ) -> float:  # fmt: skip
    """Print one round's figures; its p99 added latency per delta (0 with `--upstream`)."""
    result, gap = figures(run), 1000 / args.rate
    itl, ttft, e2e = result["itl_ms"], result["ttft_ms"], result["e2e_ms"]
    in_flight = sum(r.e2e_ms or 0.0 for r in run.records) / 1000 / run.wall_s
    print(f"{args.conns} streams x {args.rate:g} deltas/s, {args.arrivals} arrivals: "
          f"{result['completed']} replies measured, {result['errors']} errors, "
          f"{result['deltas_per_s']:.0f} deltas/s, {in_flight:.0f} streams at once on average"
    )  # fmt: skip
    print(f"CPU (whole run, ramp-up included): server {server_cpu:.1f} s, "
          f"{args.clients} client processes {clients_cpu:.1f} s")  # fmt: skip
    print(f"gap between deltas: p50 {itl['p50']:.2f} ms, p99 {itl['p99']:.2f} ms, "
          f"max {itl['max']:.2f} ms (paced at {gap:g} ms)")  # fmt: skip
    print(f"time to first delta: p50 {ttft['p50']:.2f} ms, p99 {ttft['p99']:.2f} ms; "
          f"reply end to end p99 {e2e['p99']:.1f} ms")  # fmt: skip
    if args.upstream:
        return 0.0
    late = lateness_ms(run, gap)
    p50, p99 = percentile(late, 0.5) or 0.0, percentile(late, 0.99) or 0.0
    print(f"added latency per delta (reached the client - due on the model's clock): "
          f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(late):.2f} ms")  # fmt: skip
    return p99


if __name__ == "__main__":
    main()
