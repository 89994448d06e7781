"""The garbage collector of a serving process, run on a clock instead of a count.

CPython collects its youngest generation once allocations outnumber deallocations by 700. Under
steady traffic the two keep pace (requests begin and end all the time), so that count wanders: a
collection may come after a few milliseconds or after seconds, and then walks every object made
since the last one that is still alive. A request holds its objects for its whole reply (seconds),
so at 1000 streams a late collection walked 25,000 of them: a 12 ms pause, and as long again for
the next generation up, with every stream's next delta waiting behind it.

On a clock the walks stay short: the youngest generation every `young_every_s` (what a few tens
of milliseconds made), the middle one every `middle_every` of those, and a full collection at
most every `full_every_s` (garbage that lived long enough to get old waits that long; a request
makes none), and only once a quarter more objects have grown old since the last (CPython's own
rule): a node holding many idle connections is not walked every minute for nothing.
"""

from __future__ import annotations

import asyncio
import gc


class CollectorClock:
    """Runs the collections of this process on the running loop's clock while started."""

    def __init__(self, young_every_s: float = 0.025, middle_every: int = 8,
                 full_every_s: float = 60.0) -> None:  # fmt: skip
        self._young_every_s = young_every_s
        self._middle_every = middle_every
        self._full_every_s = full_every_s
        self._ticks = 0
        self._full_at = 0.0
        self._old = 0  # objects in the old generation after the last full collection
        self._grown_old = 0  # objects moved there since
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Collect on the clock from now on (the count no longer starts collections)."""
        self._loop = asyncio.get_running_loop()
        self._full_at = self._loop.time() + self._full_every_s
        self._old, self._grown_old = len(gc.get_objects(2)), 0
        gc.disable()
        self._timer = self._loop.call_later(self._young_every_s, self._tick)

    def _tick(self) -> None:
        assert self._loop is not None
        self._ticks += 1
        self._timer = self._loop.call_later(self._young_every_s, self._tick)
        if self._ticks % self._middle_every:
            gc.collect(0)
            return
        now, young = self._loop.time(), len(gc.get_objects(0)) + len(gc.get_objects(1))
        if now >= self._full_at and self._grown_old + young > self._old // 4:
            gc.collect()
            self._old, self._grown_old = len(gc.get_objects(2)), 0
            self._full_at = now + self._full_every_s
        else:  # what the middle collection does not find to be garbage grows old
            self._grown_old += young - gc.collect(1)

    def stop(self) -> None:
        """Back to the count."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        gc.enable()
