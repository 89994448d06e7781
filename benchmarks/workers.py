"""Does `wsllm serve --workers N` scale? The same closed-loop load on 1, 2, ... workers sharing
one listening socket, rounds alternating, medians and the ratio to one worker.

    python benchmarks/workers.py --workers 1 2 --conns 100 --reqs 40 --rounds 5 \
        --loadgen-cmd "node loadgen.mjs"

By default the workers answer from the simulated model at full speed (64 deltas a reply, no
pacing), so the figure is the server's own and no upstream shares the CPU; `--upstream URL`
puts an OpenAI-compatible upstream behind them instead. `--loadgen-cmd` (or $WSLLM_LOADGEN_CMD)
is an external load generator taking `URL CONNS REQS` and printing one JSON line, as in
`gateway.py`; without it, wsllm's own load generator is used (it costs more CPU).
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import orjson

from gateway import measure, median_table, report
from wsllm.server.spawn import spawned_server

SIM_TOKENS = 64  # deltas a reply from the simulated model


@contextmanager
def workers(count: int, upstream: str | None) -> Iterator[str]:
    """`wsllm serve --workers COUNT` on a free port; yields its /ws-stream URL."""
    args = ["--port", "0", "--workers", str(count)]
    if upstream:
        args += ["--backend", "openai", "--base-url", upstream]
    else:
        args += ["--backend", "simulated", "--sim-ttft-ms", "0", "--sim-itl-ms", "0",
                 "--sim-tokens", str(SIM_TOKENS)]  # fmt: skip
    env = {**os.environ, "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY", "sk-bench"),
           "WSLLM_MAX_CONNECTIONS_PER_CLIENT": "100000"}  # fmt: skip
    with spawned_server(args, env) as base:
        yield base.replace("http://", "ws://") + "/ws-stream"


def _read(pid: str, name: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:  # the process ended meanwhile
        return b""


def _servers(command_has: bytes) -> dict[int, list[bytes]]:
    """The `/proc` stat fields of the servers this process started whose command line has
    `command_has` (arguments end with a NUL byte), and of the workers they forked, by pid."""
    stats = {p.name: _read(p.name, "stat").rsplit(b")", 1)[-1].split()
             for p in Path("/proc").iterdir() if p.name.isdigit()}  # fmt: skip
    roots = [pid.encode() for pid, stat in stats.items()
             if len(stat) > 12 and int(stat[1]) == os.getpid()
             and command_has in _read(pid, "cmdline")]  # fmt: skip
    return {int(pid): stat for pid, stat in stats.items()
            if len(stat) > 12 and (pid.encode() in roots or stat[1] in roots)}  # fmt: skip


def server_cpu_s(command_has: bytes) -> float:
    """CPU seconds used so far by the servers this process started whose command line has
    `command_has`, and by the workers they forked."""
    tick = os.sysconf("SC_CLK_TCK")
    return sum((int(stat[11]) + int(stat[12])) / tick for stat in _servers(command_has).values())


def pin_servers(command_has: bytes, cpus: set[int]) -> None:
    """Run those servers (their event loops' threads) on `cpus` only."""
    for pid in _servers(command_has):
        os.sched_setaffinity(pid, cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--upstream", help="OpenAI-compatible base URL (…/v1)")
    parser.add_argument("--conns", type=int, default=100)
    parser.add_argument("--reqs", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--loadgen-cmd", default=os.environ.get("WSLLM_LOADGEN_CMD"))
    args = parser.parse_args()
    runs: dict[str, list[dict[str, object]]] = {f"{n} worker(s)": [] for n in args.workers}
    with ExitStack() as stack:
        urls = {name: stack.enter_context(workers(n, args.upstream))
                for name, n in zip(runs, args.workers, strict=True)}  # fmt: skip
        for url in urls.values():
            measure(url, args.conns, 2, args.loadgen_cmd)  # warm-up: every worker's imports
        for round_number in range(args.rounds):
            for (name, url), count in zip(urls.items(), args.workers, strict=True):
                flag = b"--workers\0" + str(count).encode() + b"\0"
                cpu = server_cpu_s(flag)
                result = measure(url, args.conns, args.reqs, args.loadgen_cmd)
                cpu = server_cpu_s(flag) - cpu
                result["server_cpu_ms_per_req"] = 1000 * cpu / max(1, _int(result["completed"]))
                runs[name].append(result)
                print(f"round {round_number + 1} {name}: {orjson.dumps(result).decode()}")
    report(median_table(runs), next(iter(runs)))
    for name, results in runs.items():
        per_request = statistics.median(float(str(r["server_cpu_ms_per_req"])) for r in results)
        print(f"{name}: server CPU {per_request:.3f} ms a request, so one core serves about "
              f"{1000 / per_request:.0f} requests/s"
              f"{'' if args.upstream else f' of {SIM_TOKENS} deltas'}")  # fmt: skip


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


if __name__ == "__main__":
    main()
