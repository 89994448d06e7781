"""`wsllm eval`: run a promptfoo-style test suite against WebSocket endpoints."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from wsllm.commands import parser, path

if TYPE_CHECKING:
    from wsllm.commands import Subcommands

OUTPUT_FORMATS = ".json, .jsonl, .yaml, .yml, .csv, .xml (JUnit) or .html"


def add_parser(commands: Subcommands) -> None:
    """The `eval` subcommand's flags, named as promptfoo names them."""
    p = parser(
        commands, "eval", help="run a promptfoo-style test suite against WebSocket endpoints",
        description="Run promptfooconfig.yaml (or -c PATH) against its ws:// targets.",
    )  # fmt: skip
    _strict(p)
    p.add_argument("-c", "--config", type=path, help="config file or folder")
    p.add_argument("-o", "--output", action="append", default=[],
                   help=f"write results to FILE: {OUTPUT_FORMATS}, by its extension "
                        "(repeatable)")  # fmt: skip
    p.add_argument("-j", "--max-concurrency", type=int, help="tests at a time (default 4)")
    p.add_argument("--repeat", type=int, help="run each test N times")
    p.add_argument("--delay", type=float, help="ms to wait after each test (runs one at a time)")
    _selection(p)
    p.add_argument("--var", action="append", default=[], metavar="KEY=VALUE",
                   help="a var for every test (a test's own var wins; repeatable)")  # fmt: skip
    p.add_argument("--env-file", "--env-path", action="append", default=[], metavar="PATH",
                   help="load environment variables from this .env file (repeatable; "
                        "default: ./.env if there is one)")  # fmt: skip
    p.add_argument("-x", "--extension", action="append", default=[], metavar="REF",
                   help="an extension hook, file://x.js:fn or file://x.py:fn, as in the "
                        "config's `extensions` (repeatable)")  # fmt: skip
    p.add_argument("-w", "--watch", action="store_true",
                   help="run again whenever the config or a file it names changes")  # fmt: skip
    p.add_argument("--no-progress", "--no-progress-bar", action="store_true",
                   help="no progress bar")  # fmt: skip
    p.add_argument("--no-table", action="store_true", help="print only the summary")
    p.add_argument("--table-rows", type=int, default=50, help="tests shown in the table (50)")
    p.add_argument("--max-frames", type=int, default=2000,
                   help="frames kept (and stored) per test (2000)")  # fmt: skip
    p.add_argument(
        "--db", type=path, help="results database (default: $WSLLM_DB, else the user data folder)"
    )
    p.add_argument("--no-write", action="store_true", help="do not store this run")
    p.add_argument("--grader", help="openai:chat:MODEL, openai:responses:MODEL or simulated")
    p.add_argument("--no-cache", action="store_true", help="ask graders again, ignoring the cache")
    p.set_defaults(func=run)


def _selection(p: argparse.ArgumentParser) -> None:
    """The flags that choose which tests and targets run."""
    p.add_argument("--filter-pattern", help="only tests whose description matches this regex")
    p.add_argument("-n", "--filter-first-n", type=int, metavar="N",
                   help="only the first N tests")  # fmt: skip
    p.add_argument("--filter-failing", metavar="RUN",
                   help="only the tests that failed or errored in RUN: a stored run's id or a "
                        "results .json file")  # fmt: skip
    p.add_argument("--filter-targets", "--filter-providers", metavar="REGEX",
                   help="only the targets whose id or label matches REGEX")  # fmt: skip


def _strict(p: argparse.ArgumentParser) -> None:
    """An unknown flag is reported with `wsllm eval`'s own usage, not the top-level one."""
    known = p.parse_known_args

    def parse_known_args(args: Any = None, namespace: Any = None) -> Any:
        parsed, extras = known(args, namespace)
        if extras:
            p.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras

    setattr(p, "parse_known_args", parse_known_args)  # noqa: B010  # replaces one instance's


def run(args: argparse.Namespace) -> int:
    """Run the suite; the exit code says how it went."""
    if args.watch:
        from wsllm.commands.eval_watch import watch

        code: int = watch(args)
        return code
    from wsllm.commands.eval_job import run_eval

    return run_eval(args)
