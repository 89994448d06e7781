"""Run the server process: event loop, listening socket, start-up log, signals, reload."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from wsllm.backends import create_backend
from wsllm.errors import ConfigError
from wsllm.loop import use_uvloop
from wsllm.server.app import create_app
from wsllm.settings import Settings

if TYPE_CHECKING:
    from watchfiles import Change

log = logging.getLogger("wsllm.server")


def serve(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM."""
    use_uvloop()
    asyncio.run(_serve(settings))


def serve_with_reload(argv: Sequence[str], watch: Sequence[Path]) -> None:
    """Run `wsllm serve` in a child process and restart it whenever a watched file changes."""
    import shlex

    import watchfiles

    command = shlex.join([sys.executable, "-m", "wsllm", *argv])
    log.info("watching %s for changes", ", ".join(str(p) for p in watch))
    watchfiles.run_process(*watch, target=command, target_type="command", callback=_log_changes)


def _log_changes(changes: set[tuple[Change, str]]) -> None:
    paths = sorted({path for _, path in changes})
    log.info("restarting: %s changed", ", ".join(paths[:3]) + (" ..." if len(paths) > 3 else ""))


async def _serve(settings: Settings) -> None:
    backend = create_backend(settings)
    runner = web.AppRunner(create_app(settings, backend), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=2048)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        where = f"{settings.host}:{settings.port}"
        raise ConfigError(f"cannot listen on {where}: {exc.strerror or exc}") from exc
    _announce(settings, runner, backend.description, backend.name)
    await _wait_for_signal()
    log.info("shutting down")
    await runner.cleanup()


def _announce(settings: Settings, runner: web.AppRunner, description: str, name: str) -> None:
    host, port = runner.addresses[0][:2]
    base = f"{host}:{port}"
    log.info(
        "wsllm serving on http://%s (WebSocket: ws://%s/ws and ws://%s/ws-stream)", base, base, base
    )
    log.info("backend: %s; model: %s", description, settings.model)
    if name == "simulated":
        log.warning(
            "the simulated backend is not a real model: set OPENAI_API_KEY or --backend to use one"
        )


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
