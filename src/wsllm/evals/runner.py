"""Run a suite: plan the jobs, run them with bounded concurrency, grade each as it finishes.

A failed call is data in its result, not an exception; a stop request (Ctrl-C) cancels what is in
flight and keeps every result that finished.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wsllm.errors import WsllmError
from wsllm.evals.grading.aggregate import grade_test
from wsllm.evals.grading.context import GradingContext
from wsllm.evals.results import TargetResponse, TestResult
from wsllm.evals.schema import EvalConfig, Prompt, Target, TestCase
from wsllm.evals.target import call_target
from wsllm.evals.templates import render
from wsllm.graders.embeddings import Embedders
from wsllm.graders.models import Graders


@dataclass(frozen=True, slots=True)
class Job:
    """One call to make: a test, a prompt and a target, on one repeat."""

    test: TestCase
    prompt_index: int
    prompt: Prompt
    target_index: int
    target: Target
    repeat: int


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to run: concurrency, repeats, pacing, per-test deadline, filters, frames kept."""

    concurrency: int = 4
    repeat: int = 1
    delay_ms: float = 0.0
    timeout_ms: float = 0.0
    filter_pattern: str | None = None
    filter_first_n: int | None = None
    frame_limit: int = 2000


def plan(config: EvalConfig, options: RunOptions) -> list[Job]:
    """Every job, test by test: each prompt on each target, `repeat` times."""
    tests = _filtered(config.tests, options)
    return [
        Job(test, p, prompt, t, target, r)
        for test in tests
        for r in range(options.repeat)
        for p, prompt in enumerate(config.prompts)
        for t, target in enumerate(config.targets)
    ]


def _filtered(tests: list[TestCase], options: RunOptions) -> list[TestCase]:
    if options.filter_pattern:
        try:
            pattern = re.compile(options.filter_pattern)
        except re.error as exc:
            raise WsllmError(f"--filter-pattern: invalid regular expression: {exc}") from exc
        tests = [t for t in tests if pattern.search(t.description or "")]
    if options.filter_first_n is not None:
        tests = tests[: options.filter_first_n]
    return tests


@dataclass(frozen=True, slots=True)
class Judges:
    """The models that grade, shared by every test of a run."""

    graders: Graders | None = None
    embedders: Embedders | None = None


async def run_jobs(
    jobs: list[Job],
    options: RunOptions,
    on_result: Callable[[int, TestResult], None],
    stop: asyncio.Event,
    judges: Judges | None = None,
) -> tuple[list[TestResult], bool]:
    """Run `jobs`; return the finished results in plan order, and whether the run was stopped."""
    slots: list[TestResult | None] = [None] * len(jobs)
    queue = iter(enumerate(jobs))
    workers_count = 1 if options.delay_ms > 0 else max(1, options.concurrency)

    async def worker() -> None:
        for index, job in queue:
            if stop.is_set():
                return
            result = await run_job(job, options, judges or Judges())
            slots[index] = result
            on_result(index, result)
            pause = options.delay_ms + job.target.delay_ms
            if pause > 0:
                await asyncio.sleep(pause / 1000)

    workers = [asyncio.create_task(worker()) for _ in range(min(workers_count, len(jobs)))]
    await _until_done_or_stopped(workers, stop)
    finished = [r for r in slots if r is not None]
    return finished, stop.is_set() and len(finished) < len(jobs)


async def _until_done_or_stopped(workers: list[asyncio.Task[None]], stop: asyncio.Event) -> None:
    stopper = asyncio.ensure_future(stop.wait())
    everything = asyncio.gather(*workers)
    waiting: list[asyncio.Future[Any]] = [everything, stopper]
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if stop.is_set():
        for task in workers:
            task.cancel()
    outcomes = await asyncio.gather(everything, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, Exception) and not isinstance(outcome, asyncio.CancelledError):
            raise outcome


async def run_job(job: Job, options: RunOptions, judges: Judges) -> TestResult:
    """Call the target for one job and grade what came back."""
    variables = job.test.vars
    try:
        prompt = render(job.prompt.raw, variables)
    except WsllmError as exc:
        response = TargetResponse(error=f"prompt: {exc}")
        return TestResult(job.test, job.prompt, job.prompt_index, job.target, job.target_index,
                          job.repeat, job.prompt.raw, response, None)  # fmt: skip
    deadline = min(job.target.timeout_ms, options.timeout_ms or math.inf)
    response = await call_target(job.target, prompt, variables, deadline, options.frame_limit)
    grading = None
    if response.error is None:
        context = GradingContext(response.output, job.test, prompt, response.metrics,
                                 judges.graders, judges.embedders)  # fmt: skip
        grading = await grade_test(job.test, context)
    return TestResult(job.test, job.prompt, job.prompt_index, job.target, job.target_index,
                      job.repeat, prompt, response, grading)  # fmt: skip
