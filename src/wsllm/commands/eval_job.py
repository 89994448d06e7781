"""`wsllm eval` at work: load the config, run it with a progress bar, store it as it goes, judge
the comparisons, report, write the outputs, and say how it went in the exit code."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from wsllm.commands.eval_inputs import load
from wsllm.commands.eval_progress import progress_bar
from wsllm.commands.stored import StoredRun
from wsllm.errors import ConfigError, HookError, WsllmError
from wsllm.evals import hooks
from wsllm.evals.compare import compare
from wsllm.evals.config.suites import default_test
from wsllm.evals.derived import run_derived
from wsllm.evals.functions import bounds
from wsllm.evals.results import EvalRun, TestResult, new_run
from wsllm.evals.rows import column_entries, result_row, sorted_results
from wsllm.evals.runner import Job, Judges, RunOptions, plan, run_context, run_jobs
from wsllm.evals.schema import EvalConfig
from wsllm.evals.validate import Where
from wsllm.graders.embeddings import Embedders
from wsllm.graders.models import Graders, default_cache_path, default_grader, parse_grader_id
from wsllm.process import use_uvloop
from wsllm.report import check_output_path, write_output
from wsllm.report.table import print_report
from wsllm.store import ResultStore, default_db_path

EXIT_INTERRUPTED = 130
EXIT_NOTHING_ANSWERED = 1


def failed_exit_code() -> int:
    """The exit code for a run with failures: 100, as promptfoo, unless the environment says."""
    for name in ("WSLLM_FAILED_TEST_EXIT_CODE", "PROMPTFOO_FAILED_TEST_EXIT_CODE"):
        value = os.environ.get(name)
        if value and value.strip().isdigit():
            return int(value)
    return 100


@dataclass(slots=True)
class Outcome:
    """How the run itself went, besides its results."""

    interrupted: bool = False
    refused: str | None = None  # every call was refused: the URL nobody listens on
    failure: str | None = None  # an extension hook stopped the run


def run_eval(args: argparse.Namespace) -> int:
    """Run the command; return the exit code."""
    config = load(args)
    outputs = args.output or config.output_paths
    for output in outputs:
        check_output_path(output)
    options = _options(args, config)
    jobs = plan(config, options)
    console = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
    if not jobs:
        console.print("Nothing to run: no tests (or the filters matched none).", style="yellow")
        return 0
    run = new_run(config, len(jobs))
    recorder = None if args.no_write else StoredRun(ResultStore(args.db or default_db_path()), run)
    graders = _graders(config, args)
    started = time.perf_counter()
    progress = not args.no_progress and config.options.show_progress
    outcome = _execute(jobs, options, progress, recorder, graders, run)
    run.duration_s = time.perf_counter() - started
    run.interrupted = outcome.interrupted or outcome.refused is not None or bool(outcome.failure)
    run.derived = run_derived(config.derived_metrics, run.results)
    summary = print_report(run, console, not args.no_table, args.table_rows)
    _report_grading(console, graders)
    run.grader_usage = graders.usage.as_dict()
    for output in outputs:
        console.print(f"Wrote {write_output(run, output)}", style="dim")
    _finish_store(console, recorder, summary.as_dict(), run, args, outcome)
    return _exit_code(console, outcome, summary.failed + summary.errors)


def _exit_code(console: Console, outcome: Outcome, bad: int) -> int:
    if outcome.failure:
        print(f"wsllm: error: {outcome.failure}", file=sys.stderr)
        return 1
    if outcome.refused is not None:
        console.print(
            f"Nothing is listening at {outcome.refused}: every connection was refused, so the "
            "run stopped. Start a server (in another terminal: wsllm serve), or point the "
            "config's targets at one that is running.",
            style="bold red",
        )
        return EXIT_NOTHING_ANSWERED
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    return failed_exit_code() if bad else 0


def _graders(config: EvalConfig, args: argparse.Namespace) -> Graders:
    cache = None if args.no_cache or not config.options.cache else default_cache_path()
    grader = _default_grader(config, args.grader)
    parse_grader_id(grader)  # an unknown grader stops the run before any request
    return Graders(grader, cache, environ={**os.environ, **config.env})


def _options(args: argparse.Namespace, config: EvalConfig) -> RunOptions:
    chosen = config.options
    concurrency = args.max_concurrency or chosen.max_concurrency
    if concurrency < 1:
        raise ConfigError("-j must be 1 or more")
    for flag, value in (("--repeat", args.repeat), ("-n", args.filter_first_n)):
        if value is not None and value < 1:
            raise ConfigError(f"{flag} must be 1 or more")
    return RunOptions(
        concurrency=concurrency,
        repeat=args.repeat or chosen.repeat,
        delay_ms=args.delay if args.delay is not None else chosen.delay_ms,
        timeout_ms=chosen.timeout_ms,
        filter_pattern=args.filter_pattern,
        filter_first_n=args.filter_first_n,
        frame_limit=max(0, args.max_frames),
    )


class _Watcher:
    """Watches results as they land: stops the run when every call so far was refused."""

    def __init__(self, jobs: list[Job], options: RunOptions, stop: asyncio.Event) -> None:
        self.enough = min(len(jobs), max(2, options.concurrency))
        self.refused = 0
        self.answered = False
        self.url: str | None = None
        self._stop = stop

    def __call__(self, result: TestResult) -> None:
        if not result.response.unreachable:
            self.answered = True
            return
        self.refused += 1
        self.url = result.target.url
        if not self.answered and self.refused >= self.enough:
            self._stop.set()


def _execute(jobs: list[Job], options: RunOptions, progress: bool, recorder: StoredRun | None,
             graders: Graders, run: EvalRun) -> Outcome:  # fmt: skip
    use_uvloop()
    show = progress and sys.stderr.isatty()
    bounds.reset()
    config = run.config

    async def main() -> Outcome:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        watcher = _Watcher(jobs, options, stop)
        embedders = Embedders(environ={**os.environ, **config.env})
        context = run_context(config, options, Judges(graders, embedders))
        with progress_bar(len(jobs), show) as counter:

            def on_result(index: int, result: TestResult) -> None:
                counter(result)
                watcher(result)
                if recorder is not None:
                    recorder.add(index, result)

            try:
                return await _run(jobs, context, options, on_result, stop, watcher, run)
            finally:
                await graders.aclose()
                await embedders.aclose()

    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        return asyncio.run(main())
    finally:  # the handlers belong to this run's loop, now closed
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGTERM, handlers[1])


async def _run(jobs: list[Job], context: Any, options: RunOptions, on_result: Any,
               stop: asyncio.Event, watcher: _Watcher, run: EvalRun) -> Outcome:  # fmt: skip
    """The jobs, then the comparisons across outputs, then the afterAll hook."""
    try:
        run.results, stopped = await run_jobs(jobs, context, options, on_result, stop)
    except HookError as exc:
        return Outcome(failure=str(exc))
    refused = watcher.url if stopped and not watcher.answered and watcher.refused else None
    if refused is not None:
        stopped = False
    await compare(run.results, context.judges.graders)
    if run.config.extensions:
        try:
            hooks.call_hook(run.config.extensions, "afterAll", _after_all(run))
        except WsllmError as exc:
            return Outcome(failure=str(exc))
    return Outcome(interrupted=stopped, refused=refused)


def _after_all(run: EvalRun) -> dict[str, Any]:
    return {
        "prompts": column_entries(run),
        "results": [result_row(run.id, i, r) for i, r in sorted_results(run)],
        "suite": hooks.suite_context(run.config)["suite"],
        "evalId": run.id,
        "config": run.config.raw,
    }


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
    default = config.raw.get("defaultTest")
    if default is not None and not isinstance(default, dict):  # file://default.yaml
        default = default_test(default, Where(config.path.name, "defaultTest"), config.base)
    chosen = ((default or {}).get("options") or {}).get("provider")
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


def _finish_store(console: Console, recorder: StoredRun | None, summary: dict[str, Any],
                  run: EvalRun, args: argparse.Namespace, outcome: Outcome) -> None:  # fmt: skip
    if recorder is None:
        return
    recorder.finish(summary)
    if recorder.failed is not None:
        return
    path = recorder.store.path
    stored = f"Stored as {run.id} in {path}"
    if outcome.refused is not None or not run.results:
        stored += " (stopped early: nothing answered, so it holds no passing or failing test)"
    console.print(stored)
    where = f" --db {path}" if args.db is not None else ""
    console.print(f"Browse it: {wsllm_command()} view{where}  (then open the URL it prints)",
                  style="dim")  # fmt: skip


def wsllm_command() -> str:
    """How the user runs wsllm from here: `wsllm` when it is on PATH, else the path of the
    script beside this interpreter (such as `.venv/bin/wsllm`), else `python -m wsllm`."""
    script = Path(sys.executable).with_name("wsllm")
    on_path = shutil.which("wsllm")
    if on_path and (not script.exists() or Path(on_path).resolve() == script.resolve()):
        return "wsllm"
    if script.exists():
        try:
            return str(script.relative_to(Path.cwd()))
        except ValueError:
            return str(script)
    return f"{sys.executable} -m wsllm"
