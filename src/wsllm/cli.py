"""The `wsllm` command: one subcommand per job, each loaded only when it runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from wsllm import __version__
from wsllm.commands import bench, demo, init, serve, view
from wsllm.commands import eval as eval_command
from wsllm.errors import WsllmError


def build_parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per job."""
    parser = argparse.ArgumentParser(
        prog="wsllm", description="Stream LLM output over WebSockets, and test what streams."
    )
    parser.add_argument("--version", action="version", version=f"wsllm {__version__}")
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    for command in (serve, eval_command, bench, view, demo, init):
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.func(args)
    except WsllmError as exc:
        print(f"wsllm: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code
