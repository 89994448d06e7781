"""Memory per idle WebSocket connection: the server's resident memory before and after N
connections are opened (each has had its `ready` frame and then sits idle), divided by N; for
`wsllm serve` and for another server started by command, same run.

    python benchmarks/idle_memory.py --counts 5000 20000 \
        --compare-cmd "node seed-server.mjs" --compare-path /ws-stream

`--compare-cmd` (or $WSLLM_COMPARE_CMD) is started with PORT set to a free port; the Node seed
reference is the intended one. The clients run in this process on the lean transport.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from wsllm.client.transport import WebSocket, connect
from wsllm.process import use_uvloop


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def rss_kb(pid: int) -> int:
    """Resident memory of process `pid`, in KB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match is not None
    return int(match.group(1))


async def settle(pid: int) -> int:
    """The RSS once it stops moving."""
    last = -1
    for _ in range(20):
        await asyncio.sleep(0.5)
        now = rss_kb(pid)
        if abs(now - last) < 64:
            return now
        last = now
    return last


async def open_idle(url: str, count: int) -> list[WebSocket]:
    """`count` connections, each having read its first frame."""
    opened: list[WebSocket] = []
    for start in range(0, count, 200):
        batch = await asyncio.gather(*(connect(url) for _ in range(min(200, count - start))))
        opened += batch
    await asyncio.sleep(1.0)
    return opened


async def measure(pid: int, url: str, count: int) -> float:
    """KB per idle connection."""
    before = await settle(pid)
    connections = await open_idle(url, count)
    after = await settle(pid)
    for ws in connections:
        ws.abort()
    await asyncio.sleep(1.0)
    return (after - before) / count


def start(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, env={**env, "PORT": str(port)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    for _ in range(100):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.1)
    raise SystemExit(f"{command} did not listen on {port}")


def raise_file_limit(wanted: int) -> int:
    """Let this process and the servers it starts hold `wanted` sockets each, raising the hard
    limit too where allowed; the limit they get."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(wanted, hard), max(wanted, hard)))
    except (ValueError, OSError):  # not allowed to raise the hard limit here
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[5000])
    parser.add_argument("--compare-cmd", default=os.environ.get("WSLLM_COMPARE_CMD"))
    parser.add_argument("--compare-path", default="/ws-stream")
    args = parser.parse_args()
    limit = raise_file_limit(max(args.counts) + 100)
    counts = [min(count, limit - 100) for count in args.counts]
    if counts != args.counts:
        print(f"open-file limit {limit}: counts capped at {limit - 100}")
    use_uvloop()
    env = {**os.environ, "WSLLM_MAX_CONNECTIONS": "100000",
           "WSLLM_MAX_CONNECTIONS_PER_CLIENT": "0", "WSLLM_LOG_LEVEL": "warning"}  # fmt: skip
    servers: dict[str, tuple[list[str], str]] = {
        "wsllm": ([sys.executable, "-m", "wsllm", "serve", "--backend", "simulated"], "/ws-stream"),
    }
    if args.compare_cmd:
        servers["other"] = (shlex.split(args.compare_cmd), args.compare_path)
    results: dict[str, dict[int, float]] = {name: {} for name in servers}
    for count in counts:
        for name, (command, path) in servers.items():
            port = free_port()
            process = start(command, env, port)
            try:
                url = f"ws://127.0.0.1:{port}{path}"
                results[name][count] = asyncio.run(measure(process.pid, url, count))
            finally:
                process.terminate()
                process.wait()
            print(f"{name} {count} idle connections: {results[name][count]:.2f} KB each",
                  flush=True)  # fmt: skip
    report(results, counts)


def report(results: dict[str, dict[int, Any]], counts: list[int]) -> None:
    print(f"{'server':<8}" + "".join(f"{c:>12}" for c in counts))
    for name, row in results.items():
        print(f"{name:<8}" + "".join(f"{row[c]:>9.2f} KB" for c in counts))
    if "other" in results:
        ratios = "".join(f"{results['wsllm'][c] / results['other'][c]:>11.2f}x" for c in counts)
        print(f"{'ratio':<8}{ratios}")


if __name__ == "__main__":
    main()
