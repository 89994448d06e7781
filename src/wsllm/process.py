"""How a wsllm process runs: its event loop (uvloop where installed) and its logging (readable
text, or one JSON object a line for log pipelines)."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import sys
import time
from typing import Any

import orjson


class JsonFormatter(logging.Formatter):
    """`{"time": ..., "level": ..., "logger": ..., "message": ..., **fields}` per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """The default format, with a request's fields as `key=value` after the message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        return text


def configure(level: str, fmt: str) -> None:
    """Send wsllm's logs to stderr in `fmt` ("text" or "json") at `level`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def use_uvloop() -> None:
    """Run on uvloop where it is installed (Linux and macOS); it is a third faster here."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def listen_error(host: str, port: int, exc: OSError) -> str:
    """Why a port cannot be listened on, and what to do about it (`wsllm serve` and `view`)."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    text = f"cannot listen on {host}:{port}: {reason}"
    if exc.errno == errno.EADDRINUSE:
        text += "; the port is taken: pick another with --port, or --port 0 for a free one"
    return text
