"""The process's connection timers: fire in order, at their time, never after a cancel."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from wsllm.timers import Deadlines, Ticks, tick_of


async def test_timers_fire_in_time_order_whatever_order_they_were_set() -> None:
    deadlines, fired = Deadlines(), list[object]()
    deadlines.call_later(0.06, fired.append, "third")
    deadlines.call_later(0.02, fired.append, "first")
    deadlines.call_later(0.04, fired.append, "second")
    await asyncio.sleep(0.12)
    assert fired == ["first", "second", "third"]
    assert len(deadlines) == 0


async def test_a_timer_does_not_fire_before_its_time() -> None:
    deadlines, fired_at = Deadlines(), []
    start = time.monotonic()
    deadlines.call_later(0.05, lambda: fired_at.append(time.monotonic() - start))
    await asyncio.sleep(0.1)
    assert len(fired_at) == 1
    assert fired_at[0] >= 0.049


async def test_a_cancelled_timer_never_fires_and_the_others_still_do() -> None:
    deadlines, fired = Deadlines(), list[object]()
    first = deadlines.call_later(0.02, fired.append, "cancelled")
    deadlines.call_later(0.03, fired.append, "kept")
    deadlines.cancel(first)
    deadlines.cancel(first)  # twice is harmless
    assert not first.pending
    assert len(deadlines) == 1
    await asyncio.sleep(0.08)
    assert fired == ["kept"]


async def test_an_earlier_timer_set_later_is_not_held_up_by_a_later_one() -> None:
    deadlines, fired = Deadlines(), list[object]()
    deadlines.call_later(5.0, fired.append, "late")
    deadlines.call_later(0.02, fired.append, "early")
    await asyncio.sleep(0.08)
    assert fired == ["early"]
    deadlines.stop()


async def test_many_cancellations_are_compacted_away() -> None:
    deadlines, fired = Deadlines(), list[object]()
    dues = [deadlines.call_later(60.0, fired.append, n) for n in range(2000)]
    for due in dues[:1990]:
        deadlines.cancel(due)
    assert len(deadlines) == 10
    assert len(deadlines._heap) < 1000  # the heap does not keep what was cancelled
    deadlines.stop()


async def test_one_failing_timer_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    deadlines, fired = Deadlines(), list[object]()

    def boom() -> None:
        raise RuntimeError("boom")

    deadlines.call_later(0.01, boom)
    deadlines.call_later(0.01, fired.append, "after")
    await asyncio.sleep(0.06)
    assert fired == ["after"]
    assert "a connection timer failed" in caplog.text


async def test_a_timer_may_set_another_from_its_callback() -> None:
    deadlines, fired = Deadlines(), list[object]()

    def again() -> None:
        fired.append("one")
        deadlines.call_later(0.01, fired.append, "two")

    deadlines.call_later(0.01, again)
    await asyncio.sleep(0.08)
    assert fired == ["one", "two"]


async def test_sleep_until_wakes_the_sleeper_at_its_time_and_not_a_cancelled_one() -> None:
    ticks = Ticks()
    start = time.monotonic()
    cancelled = asyncio.ensure_future(ticks.sleep_until(start + 0.02))
    cancelled.cancel()
    await ticks.sleep_until(start + 0.03)
    assert time.monotonic() - start >= 0.029
    assert cancelled.cancelled()


def test_timers_left_on_a_finished_loop_do_not_fire_on_the_next() -> None:
    deadlines, fired = Deadlines(), list[object]()

    async def set_one(label: str, delay: float) -> None:
        deadlines.call_later(delay, fired.append, label)

    asyncio.run(set_one("old loop", 0.01))  # the loop ends before its timer is due

    async def wait() -> None:
        deadlines.call_later(0.02, fired.append, "waited")
        await asyncio.sleep(0.05)

    asyncio.run(wait())
    assert fired == ["waited"]


async def test_ticks_run_in_their_millisecond_in_order_and_not_before() -> None:
    ticks, start, fired = Ticks(), time.monotonic(), list[tuple[str, float, int]]()

    def mark(name: str) -> Callable[[int], None]:
        return lambda now: fired.append((name, time.monotonic(), now))

    for name, delay in (("late", 0.06), ("early", 0.02), ("middle", 0.04), ("middle too", 0.04)):
        ticks.at(tick_of(start + delay), mark(name))
    await asyncio.sleep(0.1)
    assert [name for name, _, _ in fired] == ["early", "middle", "middle too", "late"]
    for (_, at, now), delay in zip(fired, (0.02, 0.04, 0.04, 0.06), strict=True):
        assert at >= start + delay - 0.0011  # a timer may run up to a millisecond early
        assert now >= tick_of(start + delay)  # and is told a millisecond it may run in


async def test_a_tick_may_set_another_and_one_failing_does_not_stop_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ticks, fired = Ticks(), list[str]()

    def fail(now: int) -> None:
        raise RuntimeError("boom")

    def again(now: int) -> None:
        fired.append("first")
        ticks.at(now + 10, lambda now: fired.append("second"))

    when = tick_of(time.monotonic() + 0.01)
    ticks.at(when, fail)
    ticks.at(when, again)
    await asyncio.sleep(0.06)
    assert fired == ["first", "second"]
    assert "a timer callback failed" in caplog.text


def test_ticks_left_on_a_finished_loop_do_not_fire_on_the_next() -> None:
    ticks, fired = Ticks(), list[str]()

    async def leave_one() -> None:
        ticks.at(tick_of(time.monotonic() + 0.05), lambda now: fired.append("stale"))

    async def set_another() -> None:
        ticks.at(tick_of(time.monotonic() + 0.01), lambda now: fired.append("fresh"))
        await asyncio.sleep(0.1)

    asyncio.run(leave_one())
    asyncio.run(set_another())
    assert fired == ["fresh"]
