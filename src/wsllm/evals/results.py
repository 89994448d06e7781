"""What running a test produces: the target's response, its stream metrics, its grading."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from wsllm.evals.model import Prompt, Target, TestCase

Status = Literal["pass", "fail", "error"]


@dataclass(frozen=True, slots=True)
class StreamMetrics:
    """One call's stream, measured on the client, in milliseconds from the request being sent.

    `first_delta_ms` is the first content frame: any frame but a JSON control frame (`ready`,
    `done`, `error`, `ping`, `pong`, ...). `max_gap_ms` is the largest silence between consecutive
    frames from the first content frame to the last frame. `total_ms` runs from before connecting
    to the final frame, as promptfoo's latency does.
    """

    connect_ms: float | None = None
    first_frame_ms: float | None = None
    first_delta_ms: float | None = None
    total_ms: float = 0.0
    frames: int = 0
    max_gap_ms: float | None = None
    bytes: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The figures, rounded to 0.01 ms."""
        return {
            "connectMs": _round(self.connect_ms),
            "firstFrameMs": _round(self.first_frame_ms),
            "firstDeltaMs": _round(self.first_delta_ms),
            "totalMs": _round(self.total_ms),
            "frames": self.frames,
            "maxGapMs": _round(self.max_gap_ms),
            "bytes": self.bytes,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass(frozen=True, slots=True)
class Frame:
    """One received frame and when it arrived, in ms since the request was sent."""

    at_ms: float
    data: str


@dataclass(slots=True)
class TargetResponse:
    """What the target answered: an output or an error, with the stream's measure."""

    output: Any = None
    error: str | None = None
    metrics: StreamMetrics = field(default_factory=StreamMetrics)
    frames: list[Frame] = field(default_factory=list)
    frames_dropped: int = 0


@dataclass(slots=True)
class GradingResult:
    """The verdict of an assertion, or of all of a test's assertions together."""

    passed: bool
    score: float
    reason: str
    assertion: dict[str, Any] | None = None
    named_scores: dict[str, float] = field(default_factory=dict)
    components: list[GradingResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """promptfoo's gradingResult shape."""
        result: dict[str, Any] = {"pass": self.passed, "score": self.score, "reason": self.reason}
        if self.assertion is not None:
            result["assertion"] = self.assertion
        if self.named_scores:
            result["namedScores"] = self.named_scores
        if self.components:
            result["componentResults"] = [c.as_dict() for c in self.components]
        return result


@dataclass(slots=True)
class TestResult:
    """One test against one prompt and one target: what was sent, what came back, the verdict."""

    test: TestCase
    prompt: Prompt
    prompt_index: int
    target: Target
    target_index: int
    repeat_index: int
    rendered_prompt: str
    response: TargetResponse
    grading: GradingResult | None

    @property
    def status(self) -> Status:
        """error when the target failed, else pass or fail by the grading."""
        if self.response.error is not None:
            return "error"
        return "pass" if self.grading is None or self.grading.passed else "fail"

    @property
    def score(self) -> float:
        """The aggregate assertion score (0 for errors)."""
        if self.response.error is not None or self.grading is None:
            return 0.0 if self.response.error is not None else 1.0
        return self.grading.score
