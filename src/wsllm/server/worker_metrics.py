"""`/metrics` for the whole server when `--workers` share the port: every worker writes its
counts to a folder the supervisor made, once a second and when it stops; the worker that answers
`/metrics` adds the others' to its own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any

from wsllm.server.metrics import ServerMetrics

FOLDER_ENV = "WSLLM_METRICS_DIR"
EVERY_S = 1.0


def folder() -> Path | None:
    """The shared folder, when this process is one worker of several."""
    value = os.environ.get(FOLDER_ENV)
    return Path(value) if value else None


def write(metrics: ServerMetrics, where: Path) -> None:
    """This worker's counts, replaced whole (a reader never sees half a file)."""
    mine = where / f"{os.getpid()}.json"
    partial = mine.with_suffix(".tmp")
    partial.write_text(json.dumps(metrics.snapshot()))
    partial.replace(mine)


def others(where: Path) -> list[dict[str, Any]]:
    """The other workers' last counts."""
    found = []
    for path in where.glob("*.json"):
        if path.stem == str(os.getpid()):
            continue
        with contextlib.suppress(OSError, ValueError):
            found.append(json.loads(path.read_text()))
    return found


async def keep_writing(metrics: ServerMetrics, where: Path) -> None:
    """Write this worker's counts once a second until cancelled, then once more."""
    try:
        while True:
            write(metrics, where)
            await asyncio.sleep(EVERY_S)
    finally:
        write(metrics, where)
