"""The `wsllm` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from wsllm import __version__, logs
from wsllm.errors import WsllmError
from wsllm.settings import BACKENDS, load_settings


def build_parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per job."""
    parser = argparse.ArgumentParser(
        prog="wsllm", description="Stream LLM output over WebSockets, and test what streams."
    )
    parser.add_argument("--version", action="version", version=f"wsllm {__version__}")
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    _add_serve(commands)
    from wsllm.evals.command import add_eval_parser

    add_eval_parser(commands)
    from wsllm.bench.command import add_bench_parser

    add_bench_parser(commands)
    from wsllm.viewer.command import add_view_parser

    add_view_parser(commands)
    from wsllm.demo import add_demo_parser

    add_demo_parser(commands)
    return parser


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the WebSocket server (/health, /ws, /ws-stream)",
        description="Serve /health, /ws and /ws-stream. Flags override the environment and .env.",
    )
    serve.add_argument("--host", help="address to listen on (WSLLM_HOST, default 127.0.0.1)")
    serve.add_argument("--port", help="port; 0 picks a free one (PORT, default 3300)")
    serve.add_argument("--backend", choices=BACKENDS, help="model backend (WSLLM_BACKEND)")
    serve.add_argument("--model", help="model name (CHATBOT_MODEL, default gpt-4.1-mini)")
    serve.add_argument(
        "--base-url", dest="openai_base_url", help="upstream base URL (OPENAI_BASE_URL)"
    )
    serve.add_argument("--max-frame-bytes", help="largest client frame (WSLLM_MAX_FRAME_BYTES)")
    serve.add_argument(
        "--upstream-timeout",
        help="seconds of upstream silence before failing (WSLLM_UPSTREAM_TIMEOUT)",
    )
    serve.add_argument("--sim-ttft-ms", help="simulated model: ms before the first token")
    serve.add_argument("--sim-itl-ms", help="simulated model: ms between tokens")
    serve.add_argument("--sim-tokens", help="simulated model: tokens per reply")
    serve.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    serve.add_argument("--log-format", choices=("text", "json"), help="json: one object a line")
    serve.add_argument("--workers", help="processes sharing the port (WSLLM_WORKERS, default 1)")
    serve.add_argument("--instructions", help="system prompt for every request")
    serve.add_argument("--api-keys", help="comma-separated keys clients must present")
    serve.add_argument("--env-file", type=Path, default=Path(".env"), help="default: ./.env")
    serve.add_argument("--reload", action="store_true", help="restart when the code changes")
    serve.add_argument(
        "--reload-dir", action="append", type=Path, default=[], help="also watch this folder"
    )


_SERVE_SETTINGS = (
    "host", "port", "backend", "model", "openai_base_url", "max_frame_bytes", "upstream_timeout",
    "sim_ttft_ms", "sim_itl_ms", "sim_tokens", "log_level", "log_format", "workers",
    "instructions", "api_keys",
)  # fmt: skip


def run_serve(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """`wsllm serve`: check the settings, then serve (or supervise a reloading child)."""
    overrides = {name: getattr(args, name) for name in _SERVE_SETTINGS}
    settings = load_settings(overrides, env_file=args.env_file)
    logs.configure(settings.log_level, settings.log_format)
    from wsllm.server import run

    if args.reload:
        watch = [Path(run.__file__).resolve().parent.parent, *args.reload_dir]
        if args.env_file.is_file():
            watch.append(args.env_file)
        run.serve_with_reload([a for a in argv if a != "--reload"], watch)
    else:
        run.serve(settings)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(arguments)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        if args.command == "serve":
            return run_serve(args, arguments)
        if args.command == "eval":
            from wsllm.evals.command import run_eval

            return run_eval(args)
        if args.command == "bench":
            from wsllm.bench.command import run_bench

            return run_bench(args)
        if args.command == "view":
            from wsllm.viewer.command import run_view

            return run_view(args)
        if args.command == "demo":
            from wsllm.demo import run_demo

            return run_demo(args)
    except WsllmError as exc:
        print(f"wsllm: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2
