"""`wsllm eval`: run a promptfoo-style test suite against WebSocket endpoints."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from wsllm.commands import parser, path

if TYPE_CHECKING:
    from wsllm.commands import Subcommands

OUTPUT_FORMATS = ".json .jsonl .yaml .csv .xml (JUnit) .html"


def add_parser(commands: Subcommands) -> None:
    """The `eval` subcommand's flags, named as promptfoo names them."""
    p = parser(
        commands, "eval", help="run a promptfoo-style test suite against WebSocket endpoints",
        description="Run promptfooconfig.yaml (or -c PATH) against its ws:// targets.",
    )  # fmt: skip
    p.add_argument("-c", "--config", type=path, help="config file or folder")
    p.add_argument("-o", "--output", action="append", default=[],
                   help=f"write results to FILE: {OUTPUT_FORMATS} (repeatable)")  # fmt: skip
    p.add_argument("-j", "--max-concurrency", type=int, help="tests at a time (default 4)")
    p.add_argument("--repeat", type=int, help="run each test N times")
    p.add_argument("--delay", type=float, help="ms to wait after each test (runs one at a time)")
    p.add_argument("--filter-pattern", help="only tests whose description matches this regex")
    p.add_argument("--filter-first-n", type=int, help="only the first N tests")
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


def run(args: argparse.Namespace) -> int:
    """Run the suite; the exit code says how it went."""
    from wsllm.commands.eval_job import run_eval

    return run_eval(args)
