"""What running a suite produces: each target response, its grading, and the run as a whole."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from wsllm.client.recorder import Frame, StreamMetrics
from wsllm.evals.schema import EvalConfig, Prompt, Target, TestCase

Status = Literal["pass", "fail", "error"]


@dataclass(slots=True)
class TargetResponse:
    """What the target answered: an output or an error, with the stream's measure."""

    output: Any = None
    error: str | None = None
    metrics: StreamMetrics = field(default_factory=StreamMetrics)
    frames: list[Frame] = field(default_factory=list)
    frames_dropped: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    unreachable: bool = False  # the connection was refused: nothing listens at the URL


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
    row: int = 0
    column: int = 0
    prompt_config: dict[str, Any] = field(default_factory=dict)

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


@dataclass(slots=True)
class EvalRun:
    """A finished (or stopped) run and its results in plan order."""

    id: str
    config: EvalConfig
    started_at: datetime
    planned: int
    results: list[TestResult] = field(default_factory=list)
    duration_s: float = 0.0
    interrupted: bool = False
    grader_usage: dict[str, int] = field(default_factory=dict)
    derived: dict[int, dict[str, float]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """How many results passed, failed and errored."""
        counts = {"pass": 0, "fail": 0, "error": 0}
        for result in self.results:
            counts[result.status] += 1
        return counts


def new_run(config: EvalConfig, planned: int) -> EvalRun:
    """A new, empty run record with a unique, sortable id such as `eval-20261121T093000-1a2b3c`."""
    now = datetime.now(UTC)
    run_id = f"eval-{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    return EvalRun(run_id, config, now, planned)
