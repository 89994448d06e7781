"""Serve the viewer until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from aiohttp import web

from wsllm.errors import ConfigError
from wsllm.process import use_uvloop
from wsllm.store import ResultStore
from wsllm.viewer.app import create_viewer

log = logging.getLogger("wsllm.viewer")


def serve_viewer(db: Path, host: str, port: int) -> None:
    """Open the store (refusing a missing or damaged one) and serve it."""
    if not 0 <= port <= 65535:
        raise ConfigError("--port must be between 0 and 65535")
    store = ResultStore(db, create=False)
    logging.basicConfig(level="INFO", format="%(message)s")
    use_uvloop()
    try:
        asyncio.run(_serve(store, host, port))
    finally:
        store.close()


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
    log.info("wsllm view serving %s on http://%s:%d (Ctrl-C stops)", store.path, bound_host,
             bound_port)  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
