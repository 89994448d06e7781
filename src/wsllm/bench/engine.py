"""The load engine: issue requests (closed loop or Poisson arrivals) and record each one's stream.

A request's clock starts when its frame is sent. With `--duration`, requests still running when
time is up are cut and reported as such, so a run ends on time whatever the server does.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wsllm.bench.frames import RequestState
from wsllm.client.transport import WebSocket, connect
from wsllm.errors import ConnectionClosed, HandshakeError, TargetError


@dataclass(frozen=True, slots=True)
class Workload:
    """What to send, where, and how hard."""

    url: str
    render: Callable[[str], str]
    prompts: tuple[str, ...]
    new_state: Callable[[], RequestState]
    concurrency: int = 10
    requests: int | None = 100
    duration_s: float | None = None
    rate: float | None = None
    keep_connection: bool = True
    warmup: int = 0
    timeout_s: float = 30.0
    headers: dict[str, str] = field(default_factory=dict)
    subprotocols: tuple[str, ...] = ()
    seed: int = 0
    resume: bool = False


@dataclass(slots=True)
class RequestRecord:
    """One measured request; times in ms from the moment its frame was sent."""

    started_s: float
    connect_ms: float | None = None
    ttft_ms: float | None = None
    e2e_ms: float | None = None
    deltas: int = 0
    chars: int = 0
    gaps_ms: list[float] = field(default_factory=list)
    error: str | None = None
    error_detail: str = ""
    resumes: int = 0


@dataclass(slots=True)
class LoadRun:
    """Everything one run recorded."""

    url: str
    records: list[RequestRecord] = field(default_factory=list)
    started_at: float = 0.0
    wall_s: float = 0.0
    cut_at_end: int = 0


class _Budget:
    """Hands out request slots until the count or the time runs out."""

    def __init__(self, requests: int | None, deadline: float | None) -> None:
        self._left = requests
        self.deadline = deadline

    def take(self) -> bool:
        if self.deadline is not None and time.perf_counter() >= self.deadline:
            return False
        if self._left is None:
            return True
        if self._left <= 0:
            return False
        self._left -= 1
        return True


async def run_load(workload: Workload, on_record: Callable[[RequestRecord], None]) -> LoadRun:
    """Warm up, then run the workload; return every measured request."""
    prompts = itertools.cycle(workload.prompts)
    if workload.warmup:
        await _closed_loop(workload, _Budget(workload.warmup, None), prompts, lambda r: None, None)
    run = LoadRun(workload.url)
    started = time.perf_counter()
    deadline = started + workload.duration_s if workload.duration_s else None
    budget = _Budget(workload.requests if not workload.duration_s else None, deadline)

    def record(item: RequestRecord) -> None:
        run.records.append(item)
        on_record(item)

    if workload.rate:
        run.cut_at_end = await _open_loop(workload, budget, prompts, record, deadline)
    else:
        run.cut_at_end = await _closed_loop(workload, budget, prompts, record, deadline)
    run.started_at = started
    run.wall_s = time.perf_counter() - started
    return run


async def _closed_loop(
    workload: Workload,
    budget: _Budget,
    prompts: itertools.cycle[str],
    record: Callable[[RequestRecord], None],
    deadline: float | None,
) -> int:
    async def client() -> None:
        connection: WebSocket | None = None
        try:
            while budget.take():
                connection = await _request(workload, connection, next(prompts), record)
        finally:
            if connection is not None:
                connection.close()

    tasks = [asyncio.create_task(client()) for _ in range(workload.concurrency)]
    return await _finish(tasks, deadline)


async def _open_loop(
    workload: Workload,
    budget: _Budget,
    prompts: itertools.cycle[str],
    record: Callable[[RequestRecord], None],
    deadline: float | None,
) -> int:
    assert workload.rate is not None
    pool: asyncio.Queue[WebSocket | None] = asyncio.Queue()
    for _ in range(workload.concurrency):
        pool.put_nowait(None)
    arrivals = random.Random(workload.seed)
    tasks: list[asyncio.Task[None]] = []

    async def one(prompt: str) -> None:
        connection = await pool.get()
        try:
            connection = await _request(workload, connection, prompt, record)
        finally:
            pool.put_nowait(connection)

    async def dispatch() -> None:
        next_at = time.perf_counter()
        while budget.take():
            tasks.append(asyncio.create_task(one(next(prompts))))
            next_at += arrivals.expovariate(workload.rate or 1.0)
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    dispatcher = asyncio.create_task(dispatch())
    cut = await _finish([dispatcher], deadline)
    cut += await _finish(tasks, deadline)
    while not pool.empty():
        connection = pool.get_nowait()
        if connection is not None:
            connection.close()
    return cut


async def _finish(tasks: list[asyncio.Task[None]], deadline: float | None) -> int:
    """Wait for `tasks`; at the deadline cancel the rest and return how many were cut."""
    if not tasks:
        return 0
    timeout = None if deadline is None else max(0.0, deadline - time.perf_counter())
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return len(pending)


async def _request(
    workload: Workload,
    connection: WebSocket | None,
    prompt: str,
    record: Callable[[RequestRecord], None],
) -> WebSocket | None:
    """Run one request; return the connection to reuse (None when it should not be)."""
    state = workload.new_state()
    item = RequestRecord(started_s=time.perf_counter())
    try:
        async with asyncio.timeout(workload.timeout_s):
            if connection is None or not connection.is_open:
                opened = time.perf_counter()
                connection = await _open(workload, state)
                item.connect_ms = (time.perf_counter() - opened) * 1000
            connection.on_message(state.on_message)
            state.begin(time.perf_counter())
            connection.send_text(workload.render(prompt))
            connection = await _until_end(workload, state, connection, prompt)
    except HandshakeError as exc:
        state.fail("handshake", str(exc))
    except ConnectionClosed as exc:
        state.fail("closed", str(exc))
    except TimeoutError:  # before OSError, its base class
        state.fail("timeout", f"no final frame within {workload.timeout_s:g} s")
        if connection is not None:
            connection.abort()
    except OSError as exc:
        state.fail("connect", f"{type(exc).__name__}: {exc}")
    except TargetError as exc:
        state.fail("protocol", str(exc))
    except Exception as exc:  # anything else is still a failed request, counted and shown
        state.fail("client", f"{type(exc).__name__}: {exc}")
    state.fill(item)
    record(item)
    if item.error is not None or not workload.keep_connection:
        if connection is not None:
            connection.close()
        return None
    return connection


async def _open(workload: Workload, state: RequestState) -> WebSocket:
    return await connect(workload.url, state.on_message, workload.headers, workload.subprotocols)


async def _until_end(workload: Workload, state: RequestState, connection: WebSocket,
                     prompt: str) -> WebSocket:  # fmt: skip
    """Wait for the request's final frame; a client that resumes follows its stream onto a new
    connection when the old one closes or the server says `reconnect`."""
    while True:
        waiting: list[asyncio.Future[Any]] = [state.done, connection.closed, state.moved]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if state.done.done():
            return connection
        if not workload.resume:
            if connection.closed.done():
                raise ConnectionClosed(connection.closed.result())
            await connection.closed  # without resuming, a `reconnect` is the end of it
            raise ConnectionClosed(connection.closed.result())
        connection.close()
        picked_up = state.resumed()
        connection = await _open(workload, state)
        connection.on_message(state.on_message)
        connection.send_text(picked_up or workload.render(prompt))
