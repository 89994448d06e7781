"""Serve the viewer until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from wsllm.errors import ConfigError
from wsllm.process import listen_error, use_uvloop
from wsllm.store import ResultStore
from wsllm.viewer.access import TOKEN_VARIABLE, Access, is_loopback
from wsllm.viewer.app import create_viewer

log = logging.getLogger("wsllm.viewer")


def serve_viewer(db: Path, host: str, port: int, allowed: Sequence[str] = ()) -> None:
    """Check the settings, open the store (refusing a missing or damaged one) and serve it."""
    if not 0 <= port <= 65535:
        raise ConfigError("--port must be between 0 and 65535")
    access = Access.of(os.environ.get(TOKEN_VARIABLE), allowed)
    if access.token is None and not is_loopback(host):
        raise ConfigError(_NEEDS_TOKEN.format(host=host))
    store = ResultStore(db, create=False)
    logging.basicConfig(level="INFO", format="%(message)s")
    use_uvloop()
    try:
        asyncio.run(_serve(store, host, port, access))
    finally:
        store.close()


async def _serve(store: ResultStore, host: str, port: int, access: Access) -> None:
    runner = web.AppRunner(create_viewer(store, access), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(listen_error(host, port, exc)) from exc
    bound_host, bound_port = runner.addresses[0][:2]
    log.info("wsllm view serving %s on http://%s:%d (Ctrl-C stops)", store.path, bound_host,
             bound_port)  # fmt: skip
    if access.token is not None:
        log.info("%s is set: open the page once as /?token=YOUR_TOKEN", TOKEN_VARIABLE)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


_NEEDS_TOKEN = (
    "--host {host} serves the stored runs beyond this machine, and they hold your prompts and "
    f"outputs: set {TOKEN_VARIABLE} to a long random secret first (for example "
    f"`export {TOKEN_VARIABLE}=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')`),"
    " then open http://HOST:PORT/?token=THAT_SECRET once; or keep the default --host 127.0.0.1"
)
