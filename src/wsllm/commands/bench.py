"""`wsllm bench`: load-test a WebSocket streaming endpoint, or two side by side."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from wsllm.commands import parser, path

if TYPE_CHECKING:
    from wsllm.commands import Subcommands


def add_parser(commands: Subcommands) -> None:
    """The `bench` subcommand's flags."""
    p = parser(
        commands, "bench",
        help="load-test a WebSocket streaming endpoint (TTFT, inter-delta latency, throughput)",
        description="Load-test URL (seed protocol) or a target of an eval config (-c).",
    )  # fmt: skip
    p.add_argument("url", nargs="?", help="ws:// or wss:// endpoint (seed protocol)")
    p.add_argument("-c", "--config", type=path, help="take the target from this eval config")
    p.add_argument("--target", type=int, default=0, help="which target of the config (0)")
    p.add_argument("--vs", help="a second endpoint: the same load on both, alternating rounds; "
                   "both must answer before any load starts")  # fmt: skip
    p.add_argument("--concurrency", type=int, default=10, help="requests in flight (10)")
    p.add_argument("--requests", type=int, help="requests to measure (default 100)")
    p.add_argument("--duration", type=float, help="seconds to run instead of a count")
    p.add_argument("--rate", type=float, help="Poisson arrivals per second (else closed loop); "
                   "--concurrency caps how many are in flight, and so the rate")  # fmt: skip
    p.add_argument("--new-connection", action="store_true", help="a new socket per request")
    p.add_argument("--warmup", type=int, default=0, help="unmeasured requests first")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request (30)")
    p.add_argument("--prompts", type=path, help="prompts file: text lines or JSONL")
    p.add_argument("--prompt-words", type=int, default=16, help="size of generated prompts (16)")
    p.add_argument(
        "--protocol", choices=("seed", "responses"), default="seed",
        help="seed (/ws-stream) or responses (OpenAI's WebSocket mode, /v1/responses)",
    )  # fmt: skip
    p.add_argument("--model", default="gpt-4.1-mini",
                   help="the model a `responses` request names (gpt-4.1-mini)")  # fmt: skip
    p.add_argument(
        "--message-template",
        help="the request frame, a template of `prompt` (default: the protocol's)",
    )
    p.add_argument("--resume", action="store_true",
                   help="clients resume: a dropped connection or a `reconnect` picks the stream up "
                   "on a new connection (wsllm serve's resumable streams)")  # fmt: skip
    p.add_argument("--header", action="append", default=[], help="NAME: VALUE, repeatable")
    p.add_argument("--rounds", type=int, help="rounds per endpoint (1; 3 with --vs)")
    p.add_argument("--seed", type=int, default=0, help="seed for prompts and arrivals")
    p.add_argument("-o", "--output", action="append", default=[], help=".json or .html")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the load; 0 when some requests completed."""
    from wsllm.commands.bench_job import run_bench

    return run_bench(args)
