"""Closed-loop streaming load: N connections, each sending requests one after another.

Times are taken on the client with `time.perf_counter`: time to first delta (request sent to first
`delta` frame), end to end (request sent to `done`), and the gaps between a request's frames.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp
import orjson

from wsllm.bench.stats import summarise


@dataclass
class LoadResult:
    """Everything measured in one run."""

    url: str
    conns: int
    reqs_per_conn: int
    wall_s: float = 0.0
    completed: int = 0
    deltas: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    ttft_ms: list[float] = field(default_factory=list)
    e2e_ms: list[float] = field(default_factory=list)

    def add_error(self, kind: str) -> None:
        """Count one failed request under `kind`."""
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def summary(self) -> dict[str, object]:
        """The figures as one flat JSON-ready object."""
        wall = self.wall_s or 1e-9
        ttft, e2e = summarise(self.ttft_ms), summarise(self.e2e_ms)
        return {
            "url": self.url,
            "conns": self.conns,
            "reqs_per_conn": self.reqs_per_conn,
            "completed": self.completed,
            "errors": sum(self.errors.values()),
            "errors_by_kind": self.errors,
            "wall_s": round(self.wall_s, 3),
            "req_per_s": round(self.completed / wall, 1),
            "deltas_per_s": round(self.deltas / wall),
            "ttft_ms_p50": ttft["p50"],
            "ttft_ms_p99": ttft["p99"],
            "e2e_ms_p50": e2e["p50"],
            "e2e_ms_p99": e2e["p99"],
        }


async def closed_loop(url: str, conns: int, reqs: int, timeout: float = 60.0) -> LoadResult:
    """Run `conns` clients that each send `reqs` requests in turn; measure every one."""
    result = LoadResult(url, conns, reqs)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(
            *(_client(session, url, n, reqs, timeout, result) for n in range(conns))
        )
        result.wall_s = time.perf_counter() - started
    return result


async def _client(
    session: aiohttp.ClientSession, url: str, n: int, reqs: int, timeout: float, result: LoadResult
) -> None:
    try:
        async with session.ws_connect(url, max_msg_size=0, autoping=True) as ws:
            await _wait_ready(ws, timeout)
            for i in range(reqs):
                await _one_request(ws, f"client {n} request {i + 1}", timeout, result)
    except (aiohttp.ClientError, OSError):
        result.add_error("connect")
    except TimeoutError:
        result.add_error("timeout")


async def _wait_ready(ws: aiohttp.ClientWebSocketResponse, timeout: float) -> None:
    message = await ws.receive(timeout=timeout)
    if message.type is not aiohttp.WSMsgType.TEXT:
        raise aiohttp.ClientError("closed before ready")


async def _one_request(
    ws: aiohttp.ClientWebSocketResponse, text: str, timeout: float, result: LoadResult
) -> None:
    sent = time.perf_counter()
    await ws.send_str(orjson.dumps({"input": text}).decode())
    first = 0.0
    while True:
        message = await ws.receive(timeout=timeout)
        if message.type is not aiohttp.WSMsgType.TEXT:
            raise aiohttp.ClientError("closed mid-request")
        kind = orjson.loads(message.data).get("type")
        if kind == "delta":
            result.deltas += 1
            if not first:
                first = time.perf_counter()
                result.ttft_ms.append((first - sent) * 1000)
        elif kind == "done":
            result.e2e_ms.append((time.perf_counter() - sent) * 1000)
            result.completed += 1
            return
        elif kind == "error":
            result.add_error("error_frame")
            return
