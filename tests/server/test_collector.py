"""The serving process's garbage collector on a clock: young collections often, older ones
seldom, a full one only once enough has grown old; garbage with cycles is still freed."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from wsllm.server.collector import CollectorClock


class _Node:
    other: object = None


async def _until(check: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)


@asynccontextmanager
async def _running(clock: CollectorClock) -> AsyncIterator[list[int]]:
    """The clock started; yields the generations collected meanwhile, in order."""
    seen: list[int] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(watch)
    clock.start()
    try:
        yield seen
    finally:
        clock.stop()
        gc.callbacks.remove(watch)


async def test_collections_follow_the_clock_and_the_count_no_longer_starts_them() -> None:
    clock = CollectorClock(young_every_s=0.002, middle_every=3, full_every_s=3600)
    async with _running(clock) as seen:
        assert not gc.isenabled()
        junk = [[i] for i in range(50_000)]  # far past the count that would start one
        assert seen == []
        await _until(lambda: len(seen) >= 12)
        del junk
    assert gc.isenabled()
    # Young collections, every third a middle one.
    assert seen[:12] == [1 if tick % 3 == 0 else 0 for tick in range(1, 13)]


async def test_a_full_collection_waits_until_a_quarter_more_objects_have_grown_old() -> None:
    clock = CollectorClock(young_every_s=0.002, middle_every=2, full_every_s=0.01)
    async with _running(clock) as seen:
        await _until(lambda: len(seen) >= 40)
        assert 2 not in seen  # due many times over, but nothing has grown old
        kept = [[i] for i in range(len(gc.get_objects(2)) // 4 + 10_000)]
        await _until(lambda: 2 in seen)
        assert 2 in seen
        del kept


async def test_garbage_with_cycles_is_freed_while_the_clock_runs() -> None:
    async with _running(CollectorClock(young_every_s=0.002, full_every_s=3600)):
        first, second = _Node(), _Node()
        first.other, second.other = second, first
        gone = weakref.ref(first)
        del first, second
        await _until(lambda: gone() is None)
        assert gone() is None
