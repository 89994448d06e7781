"""The event loop every command runs on."""

from __future__ import annotations

import asyncio


def use_uvloop() -> None:
    """Run on uvloop where it is installed (Linux and macOS); it is a third faster here."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
