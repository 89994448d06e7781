"""The serving process's garbage collector on a clock: young collections often, older ones
seldom, a full one now and then; garbage with cycles is still freed."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable

from wsllm.server.collector import CollectorClock


class _Node:
    other: object = None


async def _until(check: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)


async def test_collections_follow_the_clock_and_the_count_no_longer_starts_them() -> None:
    seen: list[int] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    clock = CollectorClock(young_every_s=0.002, middle_every=3, full_every_s=0.2)
    gc.callbacks.append(watch)
    try:
        clock.start()
        assert not gc.isenabled()
        junk = [[i] for i in range(50_000)]  # far past the count that would start one
        assert seen == []
        await _until(lambda: 2 in seen and seen.count(1) >= 2)
        del junk
    finally:
        clock.stop()
        gc.callbacks.remove(watch)
    assert gc.isenabled()
    assert seen.count(1) >= 2
    first_full = seen.index(2)
    # Young collections, every third a middle one, until the first full one is due.
    assert seen[:first_full] == [1 if tick % 3 == 0 else 0 for tick in range(1, first_full + 1)]


async def test_garbage_with_cycles_is_freed_while_the_clock_runs() -> None:
    clock = CollectorClock(young_every_s=0.002, full_every_s=3600)
    clock.start()
    try:
        first, second = _Node(), _Node()
        first.other, second.other = second, first
        gone = weakref.ref(first)
        del first, second
        await _until(lambda: gone() is None)
        assert gone() is None
    finally:
        clock.stop()
