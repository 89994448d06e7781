"""Run the server: event loop, listening socket, start-up log, drain on SIGTERM, workers, reload."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from wsllm.backends import create_backend
from wsllm.errors import ConfigError
from wsllm.process import listen_error, use_uvloop
from wsllm.server import worker_metrics
from wsllm.server.app import CONTEXT, create_app, websocket_routes
from wsllm.server.collector import CollectorClock
from wsllm.server.context import ServerContext
from wsllm.server.entry import entry_factory
from wsllm.settings import Settings

if TYPE_CHECKING:
    from watchfiles import Change

log = logging.getLogger("wsllm.server")
SHUTDOWN_GRACE_S = 5.0


def serve(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM, in one process or `settings.workers` of them."""
    sock = _listen(settings)
    if settings.workers == 1:
        _run_worker(settings, sock, announce=True)
        return
    _supervise(settings, sock)


def _listen(settings: Settings) -> socket.socket:
    try:
        sock = socket.create_server((settings.host, settings.port), backlog=2048, reuse_port=False)
    except OSError as exc:
        raise ConfigError(listen_error(settings.host, settings.port, exc)) from exc
    sock.setblocking(False)
    return sock


class WsllmSite(web.SockSite):
    """A site whose connections start in the entry protocol: WebSocket upgrades to our paths
    are served there, anything else by aiohttp."""

    def __init__(self, runner: web.AppRunner, sock: socket.socket, ctx: ServerContext) -> None:
        super().__init__(runner, sock, backlog=2048)
        self._ctx = ctx

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        factory = entry_factory(server, self._ctx, websocket_routes())
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(factory, sock=self._sock, backlog=self._backlog)


def _run_worker(settings: Settings, sock: socket.socket, announce: bool) -> None:
    use_uvloop()
    asyncio.run(_serve(settings, sock, announce))


def _supervise(settings: Settings, sock: socket.socket) -> None:
    """Fork the workers, which share the listening socket and a folder for their metrics; pass
    signals on; wait for them."""
    shared = tempfile.mkdtemp(prefix="wsllm-metrics-")
    os.environ[worker_metrics.FOLDER_ENV] = shared
    try:
        _fork_workers(settings, sock)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def _fork_workers(settings: Settings, sock: socket.socket) -> None:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_run_worker, args=(settings, sock, n == 0), daemon=False)
               for n in range(settings.workers)]  # fmt: skip
    for worker in workers:
        worker.start()
    port = sock.getsockname()[1]
    log.info("%d worker processes share port %d", settings.workers, port)

    def forward(signum: int, frame: object) -> None:
        for worker in workers:
            if worker.pid is not None and worker.is_alive():
                os.kill(worker.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for worker in workers:
        worker.join()


async def _serve(settings: Settings, sock: socket.socket, announce: bool) -> None:
    backend = create_backend(settings)
    app = create_app(settings, backend)
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           shutdown_timeout=settings.drain_timeout + 1)  # fmt: skip
    await runner.setup()
    await WsllmSite(runner, sock, app[CONTEXT]).start()
    if announce:
        _announce(settings, sock, backend.description, backend.name)
    _settle_garbage_collector()
    collector = CollectorClock()
    collector.start()
    await _wait_for_signal()
    _exit_on_second_signal()
    log.info("shutting down: no new connections; running requests get %gs", settings.drain_timeout)
    try:
        # Closes the listener, drains (on_shutdown), then closes; whatever clients do, it ends.
        await asyncio.wait_for(runner.cleanup(), settings.drain_timeout + SHUTDOWN_GRACE_S)
    except TimeoutError:
        log.warning("shutdown took longer than the drain timeout; cutting the last connections")
    collector.stop()
    log.info("stopped")


def _settle_garbage_collector() -> None:
    """Keep what startup made (modules, the app) out of every later collection: a full
    collection then walks only what serving has made, and pauses the loop that much less."""
    gc.collect()
    gc.freeze()


def _exit_on_second_signal() -> None:
    def now(signum: int, frame: object) -> None:
        log.warning("second signal: stopping at once")
        logging.shutdown()
        os._exit(128 + signum)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
        signal.signal(sig, now)


def _announce(settings: Settings, sock: socket.socket, description: str, name: str) -> None:
    host, port = sock.getsockname()[:2]
    base = f"{host}:{port}"
    log.info("wsllm serving on http://%s (ws://%s/ws and ws://%s/ws-stream)", base, base, base)
    log.info("backend: %s; model: %s", description, settings.model)
    if name == "simulated":
        log.warning(
            "the simulated backend is not a real model: set OPENAI_API_KEY or --backend to use one"
        )
    elif not settings.openai_api_key and "api.openai.com" in settings.openai_base_url:
        log.warning(
            "no OPENAI_API_KEY is set: OpenAI will refuse every request (upstream_auth); "
            "set it, or point --base-url at a server that needs no key"
        )
    if settings.key_set:
        log.info("API keys required (%d configured)", len(settings.key_set))


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


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
