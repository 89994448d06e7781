"""Run a suite: plan the jobs, run them with bounded concurrency, grade each as it finishes.

A failed call is data in its result, not an exception; a stop request (Ctrl-C) cancels what is in
flight and keeps every result that finished.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wsllm.errors import WsllmError
from wsllm.evals.job import Job, Judges, RunContext, run_job
from wsllm.evals.refs import prompt_allowed, target_allowed
from wsllm.evals.rendering import Renderer
from wsllm.evals.results import TestResult
from wsllm.evals.schema import EvalConfig, ScriptFunction, TestCase

__all__ = ["Job", "Judges", "RunContext", "RunOptions", "plan", "run_context", "run_jobs"]


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


def run_context(config: EvalConfig, options: RunOptions, judges: Judges | None = None
                ) -> RunContext:  # fmt: skip
    """What the jobs of a run of `config` share."""
    filters = {name: _filter(function) for name, function in config.filters.items()}
    renderer = Renderer(config.base, {**os.environ, **config.env}, config.var_loaders, filters)
    return RunContext(renderer, judges or Judges(), tuple(config.extensions),
                      options.timeout_ms, options.frame_limit)  # fmt: skip


def _filter(function: ScriptFunction) -> ScriptFunction:
    """A config's filter as templates call it: keyword arguments go along as positional ones."""
    return lambda value, *args, **kwargs: function(value, *args, *kwargs.values())


def plan(config: EvalConfig, options: RunOptions) -> list[Job]:
    """Every job in promptfoo's order: test by test, each repeat, each combination of its vars
    (a row, with its own index), then each column the test's filters allow."""
    jobs: list[Job] = []
    row = 0
    for group in _groups(_filtered(config.tests, options)):
        for repeat in range(options.repeat):
            for test in group:
                jobs += _row_jobs(config, test, row, repeat)
                row += 1
    return jobs


def _row_jobs(config: EvalConfig, test: TestCase, row: int, repeat: int) -> list[Job]:
    jobs = []
    for c, column in enumerate(config.columns):
        target = config.targets[column.target_index]
        prompt = config.prompts[column.prompt_index]
        if target_allowed(target, test.targets) and prompt_allowed(prompt, test.prompts):
            jobs.append(Job(test, column.prompt_index, prompt, column.target_index, target,
                            repeat, row, c))  # fmt: skip
    return jobs


def _groups(tests: list[TestCase]) -> list[list[TestCase]]:
    groups: dict[int, list[TestCase]] = {}
    for test in tests:
        groups.setdefault(test.group, []).append(test)
    return list(groups.values())


def _filtered(tests: list[TestCase], options: RunOptions) -> list[TestCase]:
    """`--filter-pattern` (on descriptions; tests without one are left out), then
    `--filter-first-n` (test entries, before their vars are expanded)."""
    if options.filter_pattern:
        try:
            pattern = re.compile(options.filter_pattern)
        except re.error as exc:
            raise WsllmError(f"--filter-pattern: invalid regular expression: {exc}") from exc
        tests = [t for t in tests if t.description and pattern.search(t.description)]
    if options.filter_first_n is not None:
        kept = list(dict.fromkeys(t.group for t in tests))[: options.filter_first_n]
        tests = [t for t in tests if t.group in set(kept)]
    return tests


async def run_jobs(
    jobs: list[Job],
    context: RunContext,
    options: RunOptions,
    on_result: Callable[[int, TestResult], None],
    stop: asyncio.Event,
) -> tuple[list[TestResult], bool]:
    """Run `jobs`; return the finished results in plan order, and whether the run was stopped."""
    slots: list[TestResult | None] = [None] * len(jobs)
    queue = iter(enumerate(jobs))
    workers_count = 1 if options.delay_ms > 0 else max(1, options.concurrency)

    async def worker() -> None:
        for index, job in queue:
            if stop.is_set():
                return
            result = await run_job(job, context)
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
    if stop.is_set() or everything.done():  # stopped, or a worker raised: the others stop too
        for task in workers:
            task.cancel()
    outcomes = await asyncio.gather(everything, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, Exception) and not isinstance(outcome, asyncio.CancelledError):
            raise outcome
