"""A node's drain under load: the same `wsllm bench --resume` load through HAProxy on three nodes
sharing Redis, once undisturbed and once with one node sent SIGTERM mid-run; what the clients saw.

    python benchmarks/drain_under_load.py --concurrency 200 --requests 1200 --rounds 3

Uses `examples/cluster/cluster.py` (Debian's redis-server and haproxy). Each node streams replies
of 48 deltas 50 ms apart and drains in 2.6 s, so a stopped node hands its streaming clients to
the others (`reconnect`) while it finishes their streams. Reported per case: requests completed,
errors, how many resumed, and the clients' p99 time to first delta, p99 and largest gap between
deltas (the hand-over shows there), and p99 end to end.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import signal
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

_BED = Path(__file__).resolve().parent.parent / "examples" / "cluster" / "cluster.py"
_spec = importlib.util.spec_from_file_location("wsllm_cluster", _BED)
assert _spec is not None
assert _spec.loader is not None
cluster: Any = importlib.util.module_from_spec(_spec)
sys.modules["wsllm_cluster"] = cluster
_spec.loader.exec_module(cluster)

FIGURES = ("completed", "errors", "resumed", "ttft p99", "gap p99", "gap max", "e2e p99")


async def one_run(concurrency: int, requests: int, restart: bool) -> dict[str, float]:
    """Start the cluster, run the load (stopping node 2 of 3 after 3 s if `restart`)."""
    bed = cluster.Cluster(serve_args=("--sim-ttft-ms", "5", "--sim-itl-ms", "50", "--sim-tokens",
                                      "48"), env={"WSLLM_DRAIN_TIMEOUT": "2.6"})  # fmt: skip
    await bed.start()
    report = Path(tempfile.mkdtemp(prefix="wsllm-drain-")) / "bench.json"
    try:
        bench = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wsllm", "bench", bed.url + "/ws-stream", "--resume",
            "--concurrency", str(concurrency), "--requests", str(requests), "--timeout", "60",
            "--no-progress", "-o", str(report),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        if restart:
            await asyncio.sleep(3.0)
            bed.nodes[1].process.send_signal(signal.SIGTERM)
        _, err = await bench.communicate()
        if bench.returncode != 0:
            raise SystemExit(f"wsllm bench failed: {err.decode()}")
    finally:
        await bed.stop()
    [figures] = next(iter(json.loads(report.read_text())["results"].values()))
    return {
        "completed": figures["completed"], "errors": figures["errors"],
        "resumed": figures["resumed"], "ttft p99": figures["ttft_ms"]["p99"],
        "gap p99": figures["itl_ms"]["p99"], "gap max": figures["itl_ms"]["max"],
        "e2e p99": figures["e2e_ms"]["p99"],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--requests", type=int, default=1200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"undisturbed": [], "one node restarted": []}
    for round_number in range(args.rounds):
        for name in runs:
            result = asyncio.run(one_run(args.concurrency, args.requests, name != "undisturbed"))
            runs[name].append(result)
            print(f"round {round_number + 1} {name}: {result}", flush=True)
    print(f"{'median of ' + str(args.rounds):<20}" + "".join(f"{f:>11}" for f in FIGURES))
    for name, results in runs.items():
        row = [statistics.median(r[f] for r in results) for f in FIGURES]
        print(f"{name:<20}" + "".join(f"{v:>11.0f}" if i < 3 else f"{v:>11.1f}"
                                      for i, v in enumerate(row)))  # fmt: skip


if __name__ == "__main__":
    main()
