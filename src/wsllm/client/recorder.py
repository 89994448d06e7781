"""One stream's figures, measured as its frames arrive (no I/O: callers pass clock readings).

The definitions every report of wsllm uses:
- Content frames: deltas, and the frame that carries the whole text (`message`, `response`);
  not control frames such as `ready`, `done` or pings (`client/frames.py` tells them apart).
- TTFT (time to first delta): from the request frame sent to the first content frame.
- Deltas: the delta frames; on a path that answers with one whole-text frame (`/ws`), that one.
- Gaps: the silences between consecutive content frames. When a stream is cut before its final
  frame (a deadline, an early close), the silence from its last content frame to the cut is a
  gap too, so a stall shows as one.
- Total: from the start of the call (before connecting) to the final frame, or to the cut.
- A stream the server ended (its `done` frame) is not cut, even when the client's fold has not
  finished by the deadline: what is missing then is the fold, not the stream.
- Frame times are from the request being sent; a frame that came before it (`ready`) is negative.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from wsllm.client.frames import Kind


@dataclass(frozen=True, slots=True)
class Frame:
    """One received frame and when it arrived, in ms since the request was sent."""

    at_ms: float
    data: str


@dataclass(frozen=True, slots=True)
class StreamMetrics:
    """One call's stream, in milliseconds from the request frame being sent (see the module)."""

    connect_ms: float | None = None
    first_delta_ms: float | None = None
    total_ms: float = 0.0
    frames: int = 0
    deltas: int = 0
    max_gap_ms: float | None = None
    stalled_ms: float | None = None
    bytes: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The figures, rounded to 0.01 ms."""
        return {
            "connectMs": _round(self.connect_ms),
            "firstDeltaMs": _round(self.first_delta_ms),
            "totalMs": _round(self.total_ms),
            "frames": self.frames,
            "deltas": self.deltas,
            "maxGapMs": _round(self.max_gap_ms),
            "stalledMs": _round(self.stalled_ms),
            "bytes": self.bytes,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass(slots=True)
class StreamRecorder:
    """Collects one call's timings; times are seconds from any fixed clock."""

    started: float
    frame_limit: int = 0
    opened_at: float | None = None
    sent_at: float | None = None
    content_times: list[float] = field(default_factory=list)
    deltas: int = 0
    last_frame: float | None = None
    frames: int = 0
    bytes: int = 0
    chars: int = 0
    raw_kept: list[tuple[float, str]] = field(default_factory=list)
    dropped: int = 0
    done_at: float | None = None

    @property
    def kept(self) -> list[Frame]:
        """The frames kept, timed from the request being sent."""
        base = self.sent_at if self.sent_at is not None else self.started
        return [Frame((at - base) * 1000, data) for at, data in self.raw_kept]

    def ended_by_server(self, now: float) -> None:
        """The server said its stream is over (`done`)."""
        if self.done_at is None:
            self.done_at = now

    def opened(self, now: float) -> None:
        """The connection is open."""
        self.opened_at = now

    def sent(self, now: float) -> None:
        """The request frame is sent."""
        self.sent_at = now

    def frame(self, now: float, data: str, size: int, kind: Kind, chars: int = 0) -> None:
        """A frame arrived."""
        self.frames += 1
        self.bytes += size
        self.last_frame = now
        if kind is not Kind.CONTROL:
            if kind is Kind.DELTA or not self.deltas:
                self.deltas += 1
                self.chars += chars
            self.content_times.append(now)
        if len(self.raw_kept) < self.frame_limit:
            self.raw_kept.append((now, data))
        elif self.frame_limit:
            self.dropped += 1

    def gaps(self, cut_at: float | None = None) -> list[float]:
        """The gaps in seconds; with `cut_at`, the silence from the last content to the cut too."""
        times = self.content_times
        gaps = [b - a for a, b in itertools.pairwise(times)]
        if cut_at is not None and times:
            gaps.append(cut_at - times[-1])
        return gaps

    def finish(self, now: float, cut: bool) -> StreamMetrics:
        """The figures of the call, ended now: by its final frame, or `cut` short."""
        base = self.sent_at if self.sent_at is not None else self.started
        cut = cut and self.done_at is None
        gaps = self.gaps(now if cut else None)
        first = self.content_times[0] if self.content_times else None
        return StreamMetrics(
            connect_ms=None if self.opened_at is None else (self.opened_at - self.started) * 1000,
            first_delta_ms=None if first is None else (first - base) * 1000,
            total_ms=(now - self.started) * 1000,
            frames=self.frames,
            deltas=self.deltas,
            max_gap_ms=max(gaps) * 1000 if gaps else (0.0 if first is not None else None),
            stalled_ms=(now - self.content_times[-1]) * 1000 if cut and first is not None else None,
            bytes=self.bytes,
        )
