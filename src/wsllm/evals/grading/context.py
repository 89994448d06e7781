"""What an assertion sees: the output, the test, the prompt, the stream's figures, and the
models that grade (no I/O of its own)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wsllm.client.recorder import StreamMetrics
from wsllm.evals.results import GradingResult
from wsllm.evals.schema import Assertion, TestCase

if TYPE_CHECKING:
    from wsllm.graders.embeddings import Embedders
    from wsllm.graders.models import Graders


@dataclass(frozen=True, slots=True)
class GradingContext:
    """One output under judgement, and what judges it."""

    output: Any
    test: TestCase
    prompt: str
    metrics: StreamMetrics
    graders: Graders | None = None
    embedders: Embedders | None = None

    @property
    def text(self) -> str:
        """The output as text, objects as JSON."""
        if isinstance(self.output, str):
            return self.output
        return "" if self.output is None else json.dumps(self.output, ensure_ascii=False)

    def script_context(self) -> dict[str, Any]:
        """The `context` handed to javascript and python assertions."""
        return {
            "prompt": self.prompt,
            "vars": self.test.vars,
            "test": self.test.raw,
            "stream": self.metrics.as_dict(),
        }


def verdict(condition: bool, a: Assertion, *, failure: Callable[[str], str] | None = None,
            score: float | None = None, reason: str | None = None) -> GradingResult:  # fmt: skip
    """The verdict on `condition`, inverted by `not-` (and the score with it: 1 - score).

    The reason is `reason` when given; else "Assertion passed", or `failure` worded with
    "not " for an inverted assertion ("" otherwise).
    """
    passed = condition != a.inverse
    if score is None:
        score = 1.0 if passed else 0.0
    elif a.inverse:
        score = 1.0 - score
    if reason is None:
        reason = (
            "Assertion passed"
            if passed or failure is None
            else failure("not " if a.inverse else "")
        )
    return GradingResult(passed, score, reason)
