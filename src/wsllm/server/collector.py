"""The garbage collector of a serving process, run on a clock instead of a count.

CPython collects its youngest generation once allocations outnumber deallocations by 700. Under
steady traffic the two keep pace (requests begin and end all the time), so that count wanders: a
collection may come after a few milliseconds or after seconds, and then walks every object made
since the last one that is still alive. A request holds its objects for its whole reply (seconds),
so at 1000 streams a late collection walked 25,000 of them: a 12 ms pause, and as long again for
the next generation up, with every stream's next delta waiting behind it.

On a clock the walks stay short: the youngest generation every `young_every_s` (what a few tens
of milliseconds made), the middle one every `middle_every` of those, and a full collection every
`full_every_s` (garbage that lived long enough to get old waits that long; a request makes none).
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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Collect on the clock from now on (the count no longer starts collections)."""
        self._loop = asyncio.get_running_loop()
        self._full_at = self._loop.time() + self._full_every_s
        gc.disable()
        self._timer = self._loop.call_later(self._young_every_s, self._tick)

    def _tick(self) -> None:
        assert self._loop is not None
        self._ticks += 1
        now = self._loop.time()
        if now >= self._full_at:
            gc.collect()
            self._full_at = now + self._full_every_s
        elif self._ticks % self._middle_every == 0:
            gc.collect(1)
        else:
            gc.collect(0)
        self._timer = self._loop.call_later(self._young_every_s, self._tick)

    def stop(self) -> None:
        """Back to the count."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        gc.enable()
