"""One job of a run, as promptfoo runs a test on a target: render the prompt, call the target,
transform the output (the target's `transform`, then the test's), grade it. A failure at any
step is that result's error, never the run's."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from wsllm.errors import GradingFault, WsllmError
from wsllm.evals import hooks
from wsllm.evals.grading.aggregate import grade_test
from wsllm.evals.grading.context import GradingContext
from wsllm.evals.rendering import Renderer
from wsllm.evals.results import TargetResponse, TestResult
from wsllm.evals.schema import Extension, Prompt, ScriptFunction, Target, TestCase
from wsllm.evals.target import call_target
from wsllm.graders.embeddings import Embedders
from wsllm.graders.models import Graders


@dataclass(frozen=True, slots=True)
class Job:
    """One call to make: a test on one column (a target and a prompt), on one repeat."""

    test: TestCase
    prompt_index: int
    prompt: Prompt
    target_index: int
    target: Target
    repeat: int
    row: int = 0
    column: int = 0


@dataclass(frozen=True, slots=True)
class Judges:
    """The models that grade, shared by every test of a run."""

    graders: Graders | None = None
    embedders: Embedders | None = None


@dataclass(frozen=True, slots=True)
class RunContext:
    """What every job of a run shares: how to render, who grades, the hooks, the limits."""

    renderer: Renderer
    judges: Judges = field(default_factory=Judges)
    extensions: tuple[Extension, ...] = ()
    timeout_ms: float = 0.0
    frame_limit: int = 2000


def _result(job: Job, test: TestCase, rendered: str, response: TargetResponse,
            config: dict[str, Any] | None = None) -> TestResult:  # fmt: skip
    return TestResult(test, job.prompt, job.prompt_index, job.target, job.target_index,
                      job.repeat, rendered, response, None, job.row, job.column,
                      {**(config or job.prompt.config), **test.options})  # fmt: skip


async def run_job(job: Job, context: RunContext) -> TestResult:
    """Call the target for one job and grade what came back."""
    test = job.test
    if context.extensions:
        found = hooks.call_hook(list(context.extensions), "beforeEach", {"test": test.raw})
        test = hooks.test_from_hook(found, test)
    try:
        rendered = context.renderer.render(job.prompt, test, job.target)
    except WsllmError as exc:
        return _result(job, test, "", TargetResponse(error=f"prompt: {exc}"))
    deadline = min(job.target.timeout_ms, context.timeout_ms or math.inf)
    response = await call_target(job.target, rendered.text, rendered.vars, deadline,
                                 context.frame_limit, context.renderer.env)  # fmt: skip
    result = _result(job, test, rendered.text, response, rendered.config)
    if response.error is None and response.output is not None:
        _transform_output(result, job, rendered.vars)
    if response.error is None:
        grading = GradingContext(response.output, test, rendered.text, response.metrics,
                                 context.judges.graders, context.judges.embedders,
                                 rendered.vars, job.target, response.details,
                                 context.renderer.env)  # fmt: skip
        try:
            result.grading = await grade_test(test, grading)
        except GradingFault as exc:
            result.response.error = str(exc)
    if context.extensions:
        from wsllm.evals.rows import result_row

        row = result_row("run", 0, result)
        hooks.call_hook(list(context.extensions), "afterEach", {"test": test.raw, "result": row})
    return result


def _transform_output(result: TestResult, job: Job, variables: dict[str, Any]) -> None:
    """The target's `transform`, then the test's, on the output; a failure is the error."""
    prompt = {"raw": f"{job.test.prefix}{job.prompt.raw}{job.test.suffix}",
              "label": job.prompt.label}  # fmt: skip
    steps: list[tuple[str, ScriptFunction | None]] = [
        ("target transform", job.target.transform), ("transform", result.test.transform),
    ]  # fmt: skip
    for name, function in steps:
        if function is None:
            continue
        try:
            output = function(result.response.output, {"vars": variables, "prompt": prompt})
        except Exception as exc:  # a ScriptError, or anything a Python transform raised
            result.response.error = f"{name} failed: {_described(exc)}"
            return
        if output is None:
            result.response.error = f"{name} failed: it did not return a value"
            return
        result.response.output = output


def _described(exc: Exception) -> str:
    return str(exc) if isinstance(exc, WsllmError) else f"{type(exc).__name__}: {exc}"
