"""Run a suite: plan the jobs, run them with bounded concurrency, grade each as it finishes.

A failed call is data in its result, not an exception; a stop request (Ctrl-C) cancels what is in
flight and keeps every result that finished.
"""

from __future__ import annotations

import asyncio
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from wsllm.errors import WsllmError
from wsllm.evals.assertions import Checked, grade_test
from wsllm.evals.jsengine import JsEngine
from wsllm.evals.model import EvalConfig, Prompt, Target, TestCase
from wsllm.evals.results import TargetResponse, TestResult
from wsllm.evals.target import WebSocketCaller
from wsllm.evals.templates import render
from wsllm.graders.client import Graders
from wsllm.graders.embeddings import Embedders


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

    def counts(self) -> dict[str, int]:
        """How many results passed, failed and errored."""
        counts = {"pass": 0, "fail": 0, "error": 0}
        for result in self.results:
            counts[result.status] += 1
        return counts


def new_run_id(now: datetime) -> str:
    """A unique, sortable id such as `eval-20261121T093000-1a2b3c`."""
    return f"eval-{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"


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


async def run_jobs(
    config: EvalConfig,
    jobs: list[Job],
    options: RunOptions,
    js: JsEngine | None,
    on_result: Callable[[int, TestResult], None],
    stop: asyncio.Event,
    graders: Graders | None = None,
    embedders: Embedders | None = None,
) -> tuple[list[TestResult], bool]:
    """Run `jobs`; return the finished results in plan order, and whether the run was stopped."""
    slots: list[TestResult | None] = [None] * len(jobs)
    queue = iter(enumerate(jobs))
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        caller = WebSocketCaller(session, js, options.frame_limit)
        workers_count = 1 if options.delay_ms > 0 else max(1, options.concurrency)

        async def worker() -> None:
            for index, job in queue:
                if stop.is_set():
                    return
                result = await run_job(job, caller, js, options, graders, embedders)
                slots[index] = result
                on_result(index, result)
                if options.delay_ms > 0:
                    await asyncio.sleep(options.delay_ms / 1000)

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


async def run_job(
    job: Job,
    caller: WebSocketCaller,
    js: JsEngine | None,
    options: RunOptions,
    graders: Graders | None = None,
    embedders: Embedders | None = None,
) -> TestResult:
    """Call the target for one job and grade what came back."""
    variables = job.test.vars
    try:
        prompt = render(job.prompt.raw, variables)
    except WsllmError as exc:
        response = TargetResponse(error=f"prompt: {exc}")
        return TestResult(job.test, job.prompt, job.prompt_index, job.target, job.target_index,
                          job.repeat, job.prompt.raw, response, None)  # fmt: skip
    deadline = min(job.target.timeout_ms, options.timeout_ms or math.inf)
    response = await caller.call(job.target, prompt, variables, deadline)
    grading = None
    if response.error is None:
        checked = Checked(
            response.output, job.test, prompt, response.metrics, js, graders, embedders
        )
        grading = await grade_test(job.test, checked)
    return TestResult(job.test, job.prompt, job.prompt_index, job.target, job.target_index,
                      job.repeat, prompt, response, grading)  # fmt: skip


def start_run(config: EvalConfig, planned: int) -> EvalRun:
    """A new, empty run record."""
    now = datetime.now(UTC)
    return EvalRun(new_run_id(now), config, now, planned)
