"""The one registry of assertion types: each entry carries its handler and its load-time check.

A module of handlers registers them with `@assertion("contains", needs="value")`; the config
loader asks the registry whether a type exists and what it needs, so a typo or a missing value
stops the run before any request.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from wsllm.registry import Registry

if TYPE_CHECKING:
    from wsllm.evals.grading.context import GradingContext
    from wsllm.evals.results import GradingResult
    from wsllm.evals.schema import Assertion
    from wsllm.evals.validate import Where

Needs = Literal["value", "list", "threshold", "script", "nothing"]
Handler = Callable[["Assertion", Any, "GradingContext"], "GradingResult"]
AsyncHandler = Callable[["Assertion", Any, "GradingContext"], Awaitable["GradingResult"]]
Check = Callable[[dict[str, Any], "Where"], None]


@dataclass(frozen=True, slots=True)
class AssertionType:
    """One type: how it grades, what it needs, and what else to check at load."""

    name: str
    handler: Handler | AsyncHandler
    needs: Needs = "nothing"
    check: Check | None = None
    uses_grader: bool = False

    @property
    def is_async(self) -> bool:
        """Whether the handler must be awaited (it asks a model)."""
        return inspect.iscoroutinefunction(self.handler)


ASSERTIONS: Registry[AssertionType] = Registry(
    "assertion type",
    scan=(
        "wsllm.evals.grading.text",
        "wsllm.evals.grading.timing",
        "wsllm.evals.grading.script",
        "wsllm.evals.grading.graded",
        "wsllm.evals.grading.compared",
        "wsllm.evals.grading.markup",
        "wsllm.evals.grading.overlap",
        "wsllm.evals.grading.response",
    ),
)


def assertion(*names: str, needs: Needs = "nothing", check: Check | None = None,
              uses_grader: bool = False) -> Callable[[Any], Any]:  # fmt: skip
    """Decorator: register the handler under each of `names`."""

    def register(handler: Any) -> Any:
        for name in names:
            ASSERTIONS.add(name, AssertionType(name, handler, needs, check, uses_grader))
        return handler

    return register
