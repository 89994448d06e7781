"""Is the load generator the bottleneck, and does it measure right? `wsllm bench` and another
load generator (the Node one, say) on the same target, alternating.

    python benchmarks/bench_vs_loadgen.py --target ws://127.0.0.1:3399/ws-stream \
        --loadgen-cmd "node loadgen.mjs" --conns 50 --reqs 20 --rounds 5

The other generator runs as `CMD URL CONNS REQS` and prints one JSON line with `req_per_s`,
`deltas_per_s`, `ttft_ms_p50`, `ttft_ms_p99`, `e2e_ms_p50` and `e2e_ms_p99`. Use a target that
answers at once (a bare server sending 64 deltas per request), so that the generators are what
is measured.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
from typing import Any

import orjson

FIELDS = ("req_per_s", "deltas_per_s", "ttft_ms_p50", "ttft_ms_p99", "e2e_ms_p50", "e2e_ms_p99")


def ours(url: str, conns: int, reqs: int) -> dict[str, Any]:
    """wsllm's generator, in a fresh process like the other one."""
    code = (
        "import asyncio, sys, orjson\n"
        "from wsllm.bench.api import closed_loop\n"
        "from wsllm.process import use_uvloop\n"
        "use_uvloop()\n"
        "url, c, r = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n"
        "print(orjson.dumps(asyncio.run(closed_loop(url, c, r))).decode())\n"
    )
    out = subprocess.run([sys.executable, "-c", code, url, str(conns), str(reqs)],
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    result: dict[str, Any] = orjson.loads(out.strip().splitlines()[-1])
    return result


def theirs(command: str, url: str, conns: int, reqs: int) -> dict[str, Any]:
    """The other generator."""
    out = subprocess.run([*shlex.split(command), url, str(conns), str(reqs)],
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    result: dict[str, Any] = orjson.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument(
        "--loadgen-cmd", default=os.environ.get("WSLLM_LOADGEN_CMD"), required=False
    )
    parser.add_argument("--conns", type=int, default=50)
    parser.add_argument("--reqs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not args.loadgen_cmd:
        raise SystemExit("give --loadgen-cmd or set WSLLM_LOADGEN_CMD")
    runs: dict[str, list[dict[str, Any]]] = {"wsllm": [], "other": []}
    for number in range(args.rounds):
        runs["wsllm"].append(ours(args.target, args.conns, args.reqs))
        runs["other"].append(theirs(args.loadgen_cmd, args.target, args.conns, args.reqs))
        print(f"round {number + 1}: wsllm {runs['wsllm'][-1]['deltas_per_s']} deltas/s, "
              f"other {runs['other'][-1]['deltas_per_s']} deltas/s")  # fmt: skip
    medians = {
        n: {f: statistics.median(float(r[f]) for r in rs) for f in FIELDS} for n, rs in runs.items()
    }
    print(f"{'':<8}" + "".join(f"{f:>14}" for f in FIELDS))
    for name, row in medians.items():
        print(f"{name:<8}" + "".join(f"{row[f]:>14.1f}" for f in FIELDS))
    ratio = "".join(f"{medians['wsllm'][f] / medians['other'][f]:>13.2f}x" for f in FIELDS)
    print(f"{'ratio':<8}{ratio}")


if __name__ == "__main__":
    main()
