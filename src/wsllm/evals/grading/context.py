"""What an assertion sees: the output, the test, the prompt, the stream's figures, and the
models that grade (no I/O of its own)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wsllm.client.recorder import StreamMetrics
from wsllm.evals.results import GradingResult
from wsllm.evals.schema import Assertion, Target, TestCase
from wsllm.evals.templates import render

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
    vars: dict[str, Any] | None = None
    target: Target | None = None
    details: dict[str, Any] | None = None
    env: Mapping[str, str] | None = None

    @property
    def variables(self) -> dict[str, Any]:
        """The vars the prompt was rendered with (the test's, before any file was read)."""
        return self.test.vars if self.vars is None else self.vars

    @property
    def text(self) -> str:
        """The output as text, objects as JSON."""
        if isinstance(self.output, str):
            return self.output
        return "" if self.output is None else json.dumps(self.output, ensure_ascii=False)

    def with_output(self, output: Any) -> GradingContext:
        """This context with another output (an assertion's `transform` gave it)."""
        return dataclasses.replace(self, output=output)

    def render(self, value: Any) -> Any:
        """An assertion's value with the vars (and `env`) filled into its strings."""
        scope, env = self.variables, self.env
        if isinstance(value, str):
            return render(value, scope, env=env)
        if isinstance(value, list):
            return [render(v, scope, env=env) if isinstance(v, str) else v for v in value]
        return value

    def script_context(self) -> dict[str, Any]:
        """The `context` handed to javascript and python assertions and value functions."""
        target = self.target
        provider = {"id": target.id, "label": target.given_label} if target else None
        response = {"output": self.output, **(self.details or {})}
        return {
            "prompt": self.prompt,
            "vars": self.variables,
            "test": self.test.raw,
            "provider": provider,
            "providerResponse": response,
            "logProbs": (self.details or {}).get("logProbs"),
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
