"""What sharing streams through Redis costs: `wsllm serve` with and without `--redis-url`, the
same upstream and the same closed-loop load, alternating; requests and deltas a second and time
to first delta, medians of the rounds.

    python benchmarks/redis_on_off.py --upstream http://127.0.0.1:4010/v1 --rounds 5

Starts its own Redis (Debian's redis-server) on a free port. `--loadgen-cmd` (or
$WSLLM_LOADGEN_CMD) runs another load generator as `CMD URL CONNS REQS`; otherwise wsllm's own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import orjson

from wsllm.bench.api import closed_loop
from wsllm.process import use_uvloop
from wsllm.server.spawn import spawned_server

FIGURES = ("req_per_s", "deltas_per_s", "ttft_ms_p50", "ttft_ms_p99")


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway Redis on loopback; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tempfile.mkdtemp()
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no", "--dir", folder],
                               stdout=subprocess.DEVNULL)  # fmt: skip
    time.sleep(0.5)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def measure(url: str, conns: int, reqs: int, command: str | None) -> dict[str, Any]:
    if command:
        out = subprocess.run([*shlex.split(command), url, str(conns), str(reqs)],
                             check=True, capture_output=True, text=True).stdout  # fmt: skip
        result: dict[str, Any] = orjson.loads(out.strip().splitlines()[-1])
        return result
    return asyncio.run(closed_loop(url, conns, reqs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="an instant OpenAI-compatible server")
    parser.add_argument("--conns", type=int, default=50)
    parser.add_argument("--reqs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--loadgen-cmd", default=os.environ.get("WSLLM_LOADGEN_CMD"))
    args = parser.parse_args()
    use_uvloop()
    env = {**os.environ, "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY", "sk-bench")}
    common = ["--port", "0", "--backend", "openai", "--base-url", args.upstream]
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    with redis_server() as redis, spawned_server(common, env) as off, \
            spawned_server([*common, "--redis-url", redis], env) as on:  # fmt: skip
        urls = {"off": off.replace("http", "ws") + "/ws-stream",
                "on": on.replace("http", "ws") + "/ws-stream"}  # fmt: skip
        for number in range(args.rounds):
            for name, url in urls.items():
                result = measure(url, args.conns, args.reqs, args.loadgen_cmd)
                runs[name].append(result)
                print(f"round {number + 1} redis {name}: {result['req_per_s']} req/s, "
                      f"ttft p99 {result['ttft_ms_p99']} ms", flush=True)  # fmt: skip
    medians = {n: {f: statistics.median(float(r[f]) for r in rs) for f in FIGURES}
               for n, rs in runs.items()}  # fmt: skip
    print(f"{'redis':<8}" + "".join(f"{f:>14}" for f in FIGURES))
    for name, row in medians.items():
        print(f"{name:<8}" + "".join(f"{row[f]:>14.1f}" for f in FIGURES))
    print(f"{'on/off':<8}" + "".join(f"{medians['on'][f] / medians['off'][f]:>13.2f}x"
                                      for f in FIGURES))  # fmt: skip


if __name__ == "__main__":
    main()
