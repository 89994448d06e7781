"""`wsllm eval`: load the config, run it with a progress bar, report, write outputs, exit code."""

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

from wsllm.errors import ConfigError
from wsllm.evals.config import find_config, load_config
from wsllm.evals.model import EvalConfig
from wsllm.evals.results import TestResult
from wsllm.evals.runner import EvalRun, Job, RunOptions, plan, run_jobs, start_run
from wsllm.graders.client import Graders, default_cache_path, default_grader, parse_grader_id
from wsllm.graders.embeddings import Embedders
from wsllm.loop import use_uvloop
from wsllm.report import check_output_path, write_output
from wsllm.report.table import print_report
from wsllm.store import ResultStore, default_db_path

EXIT_INTERRUPTED = 130


def add_eval_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `eval` subcommand's flags, named as promptfoo names them."""
    parser = commands.add_parser(
        "eval",
        help="run a promptfoo-style test suite against WebSocket endpoints",
        description="Run promptfooconfig.yaml (or -c PATH) against its ws:// targets.",
    )
    parser.add_argument("-c", "--config", type=_path, help="config file or folder")
    parser.add_argument("-o", "--output", action="append", default=[], help=".json .csv .xml .html")
    parser.add_argument("-j", "--max-concurrency", type=int, help="tests at a time (default 4)")
    parser.add_argument("--repeat", type=int, help="run each test N times")
    parser.add_argument(
        "--delay", type=float, help="ms to wait after each test (runs one at a time)"
    )
    parser.add_argument("--filter-pattern", help="only tests whose description matches this regex")
    parser.add_argument("--filter-first-n", type=int, help="only the first N tests")
    parser.add_argument("--no-progress", "--no-progress-bar", action="store_true")
    parser.add_argument("--no-table", action="store_true", help="print only the summary")
    parser.add_argument("--table-rows", type=int, default=50, help="tests shown in the table")
    parser.add_argument(
        "--max-frames", type=int, default=2000, help="frames kept (and stored) per test (2000)"
    )
    parser.add_argument(
        "--db", type=_path, help="results database (default: $WSLLM_DB, else the user data folder)"
    )
    parser.add_argument("--no-write", action="store_true", help="do not store this run")
    parser.add_argument("--grader", help="openai:chat:MODEL, openai:responses:MODEL or simulated")
    parser.add_argument(
        "--no-cache", action="store_true", help="ask graders again, ignoring the cache"
    )


def _path(text: str) -> os.PathLike[str]:
    from pathlib import Path

    return Path(text)


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
    run = start_run(config, len(jobs))
    recorder = None if args.no_write else StoredRun(ResultStore(args.db or default_db_path()), run)
    started = time.perf_counter()
    cache = None if args.no_cache else default_cache_path()
    grader = _default_grader(config, args.grader)
    parse_grader_id(grader)  # an unknown grader stops the run before any request
    graders = Graders(grader, cache)
    progress = not args.no_progress
    run.results, run.interrupted = _execute(config, jobs, options, progress, recorder, graders)
    run.duration_s = time.perf_counter() - started
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


def _execute(
    config: EvalConfig,
    jobs: list[Job],
    options: RunOptions,
    progress: bool,
    recorder: StoredRun | None,
    graders: Graders,
) -> tuple[list[TestResult], bool]:
    use_uvloop()
    show = progress and sys.stderr.isatty()

    async def main() -> tuple[list[TestResult], bool]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        with _progress_bar(len(jobs), show) as counter:

            def on_result(index: int, result: TestResult) -> None:
                counter(result)
                if recorder is not None:
                    recorder.add(index, result)

            embedders = Embedders()
            try:
                return await run_jobs(
                    config, jobs, options, config.js, on_result, stop, graders, embedders
                )
            finally:
                await graders.aclose()
                await embedders.aclose()

    return asyncio.run(main())


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


class StoredRun:
    """Writes a run's results to the database as they finish, a batch at a time."""

    BATCH = 64
    EVERY_S = 0.5

    def __init__(self, store: ResultStore, run: EvalRun) -> None:
        self.store = store
        self._run = run
        self._pending: list[tuple[int, TestResult]] = []
        self._flushed = time.perf_counter()
        store.begin_run(run)

    def add(self, index: int, result: TestResult) -> None:
        """Queue one result; write the batch when it is full or old enough."""
        self._pending.append((index, result))
        if len(self._pending) >= self.BATCH or time.perf_counter() - self._flushed > self.EVERY_S:
            self.flush()

    def flush(self) -> None:
        """Write what is queued."""
        if self._pending:
            self.store.add_results(self._run.id, self._pending)
            self._pending = []
        self._flushed = time.perf_counter()

    def finish(self, summary: dict[str, object]) -> None:
        """Write the rest and close the run's record."""
        self.flush()
        self.store.finish_run(self._run, summary)
        self.store.close()


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
