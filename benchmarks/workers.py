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


@contextmanager
def workers(count: int, upstream: str | None) -> Iterator[str]:
    """`wsllm serve --workers COUNT` on a free port; yields its /ws-stream URL."""
    args = ["--port", "0", "--workers", str(count)]
    if upstream:
        args += ["--backend", "openai", "--base-url", upstream]
    else:
        args += ["--backend", "simulated", "--sim-ttft-ms", "0", "--sim-itl-ms", "0",
                 "--sim-tokens", "64"]  # fmt: skip
    env = {**os.environ, "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY", "sk-bench"),
           "WSLLM_MAX_CONNECTIONS_PER_CLIENT": "100000"}  # fmt: skip
    with spawned_server(args, env) as base:
        yield base.replace("http://", "ws://") + "/ws-stream"


def _stat(pid: str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def server_cpu_s(count: int) -> float:
    """CPU seconds used so far by the `--workers COUNT` server this process started: its main
    process and the workers forked from it."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {p.name: _stat(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()}
    flag = b"--workers\0" + str(count).encode() + b"\0"
    roots = [pid for pid, stat in stats.items()
             if stat and int(stat[1]) == os.getpid()
             and flag in Path(f"/proc/{pid}/cmdline").read_bytes()]  # fmt: skip
    total = 0.0
    for pid, stat in stats.items():
        if stat and (pid in roots or stat[1] in roots):
            total += (int(stat[11]) + int(stat[12])) / tick
    return total


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
                cpu = server_cpu_s(count)
                result = measure(url, args.conns, args.reqs, args.loadgen_cmd)
                cpu = server_cpu_s(count) - cpu
                result["server_cpu_ms_per_req"] = 1000 * cpu / max(1, _int(result["completed"]))
                runs[name].append(result)
                print(f"round {round_number + 1} {name}: {orjson.dumps(result).decode()}")
    report(median_table(runs), next(iter(runs)))
    for name, results in runs.items():
        per_request = statistics.median(float(str(r["server_cpu_ms_per_req"])) for r in results)
        print(f"{name}: server CPU {per_request:.3f} ms a request, so one core serves about "
              f"{1000 / per_request:.0f} requests/s of {args.reqs and 64} deltas")  # fmt: skip


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


if __name__ == "__main__":
    main()
