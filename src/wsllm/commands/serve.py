"""`wsllm serve`: the WebSocket server."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from wsllm.commands import parser, path

if TYPE_CHECKING:
    from wsllm.commands import Subcommands

SETTINGS = (
    "host", "port", "backend", "model", "openai_base_url", "max_frame_bytes", "upstream_timeout",
    "sim_ttft_ms", "sim_itl_ms", "sim_tokens", "log_level", "log_format", "workers",
    "instructions", "api_keys", "redis_url",
)  # fmt: skip


def add_parser(commands: Subcommands) -> None:
    """The `serve` subcommand's flags; each overrides its environment variable and .env."""
    serve = parser(
        commands, "serve", help="run the WebSocket server (/health, /ws, /ws-stream)",
        description="Serve /health, /ws and /ws-stream. Flags override the environment and .env.",
    )  # fmt: skip
    serve.add_argument("--host", help="address to listen on (WSLLM_HOST, default 127.0.0.1)")
    serve.add_argument("--port", help="port; 0 picks a free one (PORT, default 3300)")
    serve.add_argument("--backend", choices=("openai", "openai-chat", "simulated"),
                       help="model backend (WSLLM_BACKEND)")  # fmt: skip
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
    serve.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                       help="log level (WSLLM_LOG_LEVEL, default info)")  # fmt: skip
    serve.add_argument("--log-format", choices=("text", "json"), help="json: one object a line")
    serve.add_argument("--workers", help="processes sharing the port (WSLLM_WORKERS, default 1)")
    serve.add_argument("--instructions", help="system prompt for every request")
    serve.add_argument("--api-keys", help="comma-separated keys clients must present")
    serve.add_argument("--redis-url", help="Redis shared by every node (WSLLM_REDIS_URL)")
    serve.add_argument("--env-file", type=path, default=None, help="settings file (default ./.env)")
    serve.add_argument("--reload", action="store_true", help="restart when the code changes")
    serve.add_argument("--reload-dir", action="append", type=path, default=[],
                       help="also watch this folder (repeatable)")  # fmt: skip
    serve.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check the settings, then serve (or supervise a reloading child)."""
    from pathlib import Path

    from wsllm import process
    from wsllm.server import run as server
    from wsllm.settings import load_settings

    env_file = args.env_file or Path(".env")
    overrides = {name: getattr(args, name) for name in SETTINGS}
    settings = load_settings(overrides, env_file=env_file)
    if settings.redis_url:
        _needs_redis()
    process.configure(settings.log_level, settings.log_format)
    if args.reload:
        watch = [Path(server.__file__).resolve().parent.parent, *args.reload_dir]
        if env_file.is_file():
            watch.append(env_file)
        server.serve_with_reload(_without_reload(sys.argv[1:]), watch)
    else:
        server.serve(settings)
    return 0


def _needs_redis() -> None:
    from wsllm.errors import ConfigError

    try:
        import redis  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "WSLLM_REDIS_URL (--redis-url) needs the redis package: pip install 'wsllm[redis]'"
        ) from exc


def _without_reload(argv: Sequence[str]) -> list[str]:
    return [a for a in argv if a != "--reload"]
