"""`wsllm eval` at work: load the config, run it with a progress bar, store it as it goes, report,
write the outputs, and say how it went in the exit code."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from wsllm.commands.stored import StoredRun
from wsllm.errors import ConfigError
from wsllm.evals.config.loading import find_config, load_config
from wsllm.evals.derived import run_derived
from wsllm.evals.functions import bounds
from wsllm.evals.results import TestResult, new_run
from wsllm.evals.runner import Job, Judges, RunOptions, plan, run_context, run_jobs
from wsllm.evals.schema import EvalConfig
from wsllm.graders.embeddings import Embedders
from wsllm.graders.models import Graders, default_cache_path, default_grader, parse_grader_id
from wsllm.process import use_uvloop
from wsllm.report import check_output_path, write_output
from wsllm.report.table import print_report
from wsllm.store import ResultStore, default_db_path

EXIT_INTERRUPTED = 130


def failed_exit_code() -> int:
    """The exit code for a run with failures: 100, as promptfoo, unless the environment says."""
    for name in ("WSLLM_FAILED_TEST_EXIT_CODE", "PROMPTFOO_FAILED_TEST_EXIT_CODE"):
        value = os.environ.get(name)
        if value and value.strip().isdigit():
            return int(value)
    return 100


def run_eval(args: argparse.Namespace) -> int:
    """Run the command; return the exit code."""
    config = load_config(find_config(args.config))
    outputs = args.output or config.output_paths
    for output in outputs:
        check_output_path(output)
    options = _options(args, config)
    jobs = plan(config, options)
    if not jobs:
        raise ConfigError("no tests to run: the filters matched none")
    run = new_run(config, len(jobs))
    recorder = None if args.no_write else StoredRun(ResultStore(args.db or default_db_path()), run)
    started = time.perf_counter()
    cache = None if args.no_cache or not config.options.cache else default_cache_path()
    grader = _default_grader(config, args.grader)
    parse_grader_id(grader)  # an unknown grader stops the run before any request
    graders = Graders(grader, cache, environ={**os.environ, **config.env})
    progress = not args.no_progress and config.options.show_progress
    run.results, run.interrupted = _execute(jobs, options, progress, recorder, graders, config)
    run.duration_s = time.perf_counter() - started
    run.derived = run_derived(config.derived_metrics, run.results)
    console = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
    summary = print_report(run, console, not args.no_table, args.table_rows)
    _report_grading(console, graders)
    run.grader_usage = graders.usage.as_dict()
    for output in outputs:
        console.print(f"Wrote {write_output(run, output)}", style="dim")
    if recorder is not None:
        recorder.finish(summary.as_dict())
        _say_how_to_view(console, recorder.store.path, run.id, args.db is not None)
    if run.interrupted:
        return EXIT_INTERRUPTED
    return failed_exit_code() if summary.failed or summary.errors else 0


def _options(args: argparse.Namespace, config: EvalConfig) -> RunOptions:
    chosen = config.options
    concurrency = args.max_concurrency or chosen.max_concurrency
    if concurrency < 1:
        raise ConfigError("-j must be 1 or more")
    return RunOptions(
        concurrency=concurrency,
        repeat=args.repeat or chosen.repeat,
        delay_ms=args.delay if args.delay is not None else chosen.delay_ms,
        timeout_ms=chosen.timeout_ms,
        filter_pattern=args.filter_pattern,
        filter_first_n=args.filter_first_n,
        frame_limit=max(0, args.max_frames),
    )


def _execute(jobs: list[Job], options: RunOptions, progress: bool, recorder: StoredRun | None,
             graders: Graders, config: EvalConfig) -> tuple[list[TestResult], bool]:  # fmt: skip
    use_uvloop()
    show = progress and sys.stderr.isatty()
    bounds.reset()

    async def main() -> tuple[list[TestResult], bool]:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        with _progress_bar(len(jobs), show) as counter:

            def on_result(index: int, result: TestResult) -> None:
                counter(result)
                if recorder is not None:
                    recorder.add(index, result)

            embedders = Embedders(environ={**os.environ, **config.env})
            context = run_context(config, options, Judges(graders, embedders))
            try:
                return await run_jobs(jobs, context, options, on_result, stop)
            finally:
                await graders.aclose()
                await embedders.aclose()

    return asyncio.run(main())


def _stop_on_signals(stop: asyncio.Event) -> None:
    """Ctrl-C or SIGTERM stops the run, even while a config's Python function is running."""
    loop = asyncio.get_running_loop()

    def handle(signum: int, frame: object) -> None:
        bounds.request_stop()
        loop.call_soon_threadsafe(stop.set)

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def _default_grader(config: EvalConfig, flag: str | None) -> Any:
    """--grader, else defaultTest.options.provider, else the environment's default."""
    if flag:
        return flag
    chosen = (config.raw.get("defaultTest") or {}).get("options", {}).get("provider")
    if isinstance(chosen, dict) and "text" in chosen:
        chosen = chosen["text"]
    return chosen if chosen is not None else default_grader(None)


def _report_grading(console: Console, graders: Graders) -> None:
    usage = graders.usage
    if usage.requests or usage.cached:
        line = f"Grader: {usage.requests} calls, {usage.total:,} tokens, {usage.cached} from cache"
        console.print(line, style="dim")
    if graders.used_simulated:
        warning = "Graded assertions used the simulated grader: it is not a real judge."
        console.print(warning, style="yellow")


def _say_how_to_view(console: Console, path: object, run_id: str, custom_db: bool) -> None:
    where = f" --db {path}" if custom_db else ""
    console.print(f"Stored as {run_id} in {path}")
    console.print(f"Browse it: wsllm view{where}  (then open the URL it prints)", style="dim")


@contextmanager
def _progress_bar(total: int, show: bool) -> Iterator[_Counter]:
    counter = _Counter(total, show)
    if not show:
        yield counter
        return
    columns = (
        TextColumn("[bold]eval"), BarColumn(), MofNCompleteColumn(),
        TextColumn("[green]{task.fields[passed]} pass [red]{task.fields[failed]} fail "
                   "{task.fields[errors]} error"),
        TimeElapsedColumn(),
    )  # fmt: skip
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        counter.attach(bar)
        yield counter


class _Counter:
    """Receives each finished result; moves the progress bar when there is one."""

    def __init__(self, total: int, show: bool) -> None:
        self.total = total
        self.counts = {"pass": 0, "fail": 0, "error": 0}
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def attach(self, bar: Progress) -> None:
        self._bar = bar
        self._task = bar.add_task("eval", total=self.total, passed=0, failed=0, errors=0)

    def __call__(self, result: TestResult) -> None:
        self.counts[result.status] += 1
        if self._bar is not None and self._task is not None:
            c = self.counts
            self._bar.update(
                self._task, advance=1, passed=c["pass"], failed=c["fail"], errors=c["error"]
            )
