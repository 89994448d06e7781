"""`wsllm view`: serve the stored runs on 127.0.0.1."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from aiohttp import web

from wsllm.errors import ConfigError
from wsllm.loop import use_uvloop
from wsllm.store import ResultStore, default_db_path
from wsllm.viewer.app import create_viewer

log = logging.getLogger("wsllm.viewer")


def add_view_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `view` subcommand's flags."""
    parser = commands.add_parser(
        "view",
        help="browse stored eval runs in a web page",
        description="Serve the results database on 127.0.0.1.",
    )
    parser.add_argument(
        "--db", type=Path, help="results database (default: $WSLLM_DB or the user data folder)"
    )
    parser.add_argument("--port", type=int, default=15500, help="port (default 15500; 0 picks one)")
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")


def run_view(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C."""
    if not 0 <= args.port <= 65535:
        raise ConfigError("--port must be between 0 and 65535")
    store = ResultStore(args.db or default_db_path(), create=False)
    logging.basicConfig(level="INFO", format="%(message)s")
    use_uvloop()
    try:
        asyncio.run(_serve(store, args.host, args.port))
    finally:
        store.close()
    return 0


async def _serve(store: ResultStore, host: str, port: int) -> None:
    runner = web.AppRunner(create_viewer(store), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    bound_host, bound_port = runner.addresses[0][:2]
    log.info(
        "wsllm view serving %s on http://%s:%d (Ctrl-C stops)", store.path, bound_host, bound_port
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
