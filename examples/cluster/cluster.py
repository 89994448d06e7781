"""A test bed of the deployment wsllm is built for, on loopback: Redis, three `wsllm serve`
nodes and HAProxy in front (round robin, no stickiness), all from Debian's packages.

    python examples/cluster/cluster.py            # prints the balancer's URL; Ctrl-C stops it all
    python examples/cluster/cluster.py --nodes 5 -- --sim-itl-ms 20

Each node runs the simulated model unless other `wsllm serve` flags follow `--`. Tests start the
same set-up through `Cluster`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HAPROXY = """global
    maxconn 8000
defaults
    mode http
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    retries 2
    option redispatch
frontend wsllm
    bind 127.0.0.1:{port}
    default_backend nodes
backend nodes
    balance roundrobin
    option forwardfor
    option httpchk GET /health
{servers}
"""


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def wait_for_port(port: int, within: float = 10.0) -> None:
    """Until something accepts connections on `port`."""
    async with asyncio.timeout(within):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return


@dataclass
class Node:
    """One `wsllm serve` process."""

    process: asyncio.subprocess.Process
    port: int
    log: list[str] = field(default_factory=list)


@dataclass
class Cluster:
    """Redis, nodes and a balancer, each a real process on loopback."""

    nodes_wanted: int = 3
    serve_args: tuple[str, ...] = ("--sim-ttft-ms", "5", "--sim-itl-ms", "5")
    env: dict[str, str] = field(default_factory=dict)
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="wsllm-cluster-")))
    redis_port: int = 0
    balancer_port: int = 0
    nodes: list[Node] = field(default_factory=list)
    _redis: asyncio.subprocess.Process | None = None
    _haproxy: asyncio.subprocess.Process | None = None

    @property
    def redis_url(self) -> str:
        """Where the nodes share their streams."""
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def url(self) -> str:
        """The balancer, as clients see the service: ws://127.0.0.1:PORT."""
        return f"ws://127.0.0.1:{self.balancer_port}"

    async def start(self) -> None:
        """Redis, then the nodes, then the balancer."""
        await self.start_redis()
        for _ in range(self.nodes_wanted):
            await self.start_node()
        await self.start_balancer()

    async def start_redis(self) -> None:
        """A Redis that keeps nothing on disk."""
        self.redis_port = self.redis_port or free_port()
        self._redis = await asyncio.create_subprocess_exec(
            _program("redis-server"), "--port", str(self.redis_port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.folder),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await wait_for_port(self.redis_port)

    async def stop_redis(self) -> None:
        """Redis goes away (the nodes must carry on)."""
        if self._redis is not None and self._redis.returncode is None:
            self._redis.kill()
            await self._redis.wait()

    async def start_node(self, *extra: str) -> Node:
        """One more node, on a free port, sharing the cluster's Redis."""
        port = free_port()
        env = {**os.environ, "WSLLM_TRUSTED_PROXIES": "127.0.0.1", **self.env,
               "WSLLM_REDIS_URL": self.redis_url, "PORT": str(port)}  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wsllm", "serve", "--backend", "simulated", *self.serve_args,
            *extra, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        node = Node(process, port)
        asyncio.get_running_loop().create_task(_read_log(node))
        await wait_for_port(port)
        self.nodes.append(node)
        return node

    async def start_balancer(self) -> None:
        """HAProxy, round robin over the nodes, health-checked, with no stickiness."""
        self.balancer_port = self.balancer_port or free_port()
        lines = [f"    server n{i} 127.0.0.1:{n.port} check inter 300ms fall 2 rise 1"
                 for i, n in enumerate(self.nodes)]  # fmt: skip
        config = self.folder / "haproxy.cfg"
        config.write_text(HAPROXY.format(port=self.balancer_port, servers="\n".join(lines)))
        self._haproxy = await asyncio.create_subprocess_exec(
            _program("haproxy"), "-f", str(config), "-db",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await wait_for_port(self.balancer_port)

    async def stop(self) -> None:
        """Everything, balancer first."""
        for process in [self._haproxy, *(n.process for n in self.nodes), self._redis]:
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 20)
                except TimeoutError:
                    process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


async def _read_log(node: Node) -> None:
    assert node.process.stderr is not None
    while line := await node.process.stderr.readline():
        node.log.append(line.decode())


def _program(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin")
    if found is None:
        raise SystemExit(f"{name} is not installed: apt-get install {name.split('-')[0]}")
    return found


async def main(nodes: int, serve_args: list[str]) -> None:
    cluster = Cluster(nodes, tuple(serve_args) or Cluster.serve_args)
    await cluster.start()
    print(f"redis   {cluster.redis_url}")
    for node in cluster.nodes:
        print(f"node    ws://127.0.0.1:{node.port}/ws-stream")
    print(f"balance {cluster.url}/ws-stream   (Ctrl-C stops everything)", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    with contextlib.suppress(asyncio.CancelledError):
        await stop.wait()
    await cluster.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("serve_args", nargs="*", help="flags for every `wsllm serve`, after --")
    args = parser.parse_args()
    asyncio.run(main(args.nodes, args.serve_args))
