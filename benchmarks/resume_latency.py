"""How long a resume takes: from the `resume` frame sent to the first replayed frame, on the
node that made the stream (from memory) and on another node (from Redis), p50 and p99.

    python benchmarks/resume_latency.py --samples 300

Starts Redis and two `wsllm serve` nodes (the simulated model, 64 deltas, 2 ms apart) on loopback.
Each sample: a request on node A, 10 frames read, the connection closed, then a resume after
frame 10 on A or on B, alternating.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import Any

import aiohttp

from redis_on_off import redis_server
from wsllm.process import use_uvloop
from wsllm.server.spawn import spawned_server
from wsllm.stats import percentile


async def sample(http: aiohttp.ClientSession, maker: str, resumer: str) -> float:
    ws = await http.ws_connect(maker + "/ws-stream")
    await ws.receive()
    await ws.send_str('{"input": "resume me"}')
    first: Any = (await ws.receive()).json()
    for _ in range(9):
        await ws.receive()
    await ws.close()
    other = await http.ws_connect(resumer + "/ws-stream")
    await other.receive()
    started = time.perf_counter()
    await other.send_json({"type": "resume", "stream": first["stream"], "after": 10})
    replayed: Any = (await other.receive()).json()
    took = (time.perf_counter() - started) * 1000
    assert replayed["seq"] == 11, replayed
    await other.close()
    return took


async def run(a: str, b: str, samples: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"same node": [], "other node": []}
    async with aiohttp.ClientSession() as http:
        for n in range(samples):
            name = "same node" if n % 2 == 0 else "other node"
            times[name].append(await sample(http, a, b if n % 2 else a))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    use_uvloop()
    serve = ["--port", "0", "--backend", "simulated", "--sim-ttft-ms", "0", "--sim-itl-ms", "2",
             "--sim-tokens", "64"]  # fmt: skip
    with redis_server() as redis:
        env = {**os.environ, "WSLLM_REDIS_URL": redis}
        with spawned_server(serve, env) as a, spawned_server(serve, env) as b:
            times = asyncio.run(run(a.replace("http", "ws"), b.replace("http", "ws"), args.samples))
    for name, values in times.items():
        print(f"{name:<12} resume to first replayed frame: p50 {statistics.median(values):.2f} ms, "
              f"p99 {percentile(values, 0.99):.2f} ms ({len(values)} samples)")  # fmt: skip


if __name__ == "__main__":
    main()
