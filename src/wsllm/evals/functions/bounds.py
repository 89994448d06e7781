"""Time bounds for code from configs that runs in this process (Python functions, templates).

Such code runs on the main thread, inside the event loop, so a function that never returns would
hold the whole run, and Ctrl-C with it. A watchdog thread interrupts the main thread (with
SIGUSR2) when a bounded call runs past its deadline, or when the user asks the run to stop; the
call then raises ScriptError, which is that test's error, and the run goes on or stops cleanly.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from wsllm.errors import ScriptError

DEFAULT_LIMIT_S = 10.0
_TICK_S = 0.05


class _Clock:
    """The bounded call in progress, if any: its deadline and what it may take."""

    deadline: float | None = None
    limit: float = 0.0
    stopping = False
    installed = False
    main_thread = threading.main_thread().ident


def _interrupt(signum: int, frame: FrameType | None) -> None:
    if _Clock.deadline is None:
        return
    if _Clock.stopping:
        raise ScriptError("stopped: the run was interrupted")
    if time.monotonic() >= _Clock.deadline:
        raise ScriptError(f"took longer than {_Clock.limit:g} s and was stopped")


def _watch() -> None:
    while True:
        time.sleep(_TICK_S)
        deadline = _Clock.deadline
        if deadline is not None and (_Clock.stopping or time.monotonic() >= deadline):
            signal.pthread_kill(_Clock.main_thread or 0, signal.SIGUSR2)


def _install() -> bool:
    if threading.current_thread() is not threading.main_thread():
        return False  # signals reach only the main thread: no bound can be kept here
    if not _Clock.installed:
        signal.signal(signal.SIGUSR2, _interrupt)
        threading.Thread(target=_watch, name="wsllm-watchdog", daemon=True).start()
        _Clock.installed = True
    return True


@contextmanager
def bounded(limit: float = DEFAULT_LIMIT_S) -> Iterator[None]:
    """Run the block with at most `limit` seconds before it raises ScriptError."""
    if _Clock.deadline is not None or not _install():
        yield  # already bounded by an outer call, or not on the main thread
        return
    _Clock.limit = limit
    _Clock.deadline = time.monotonic() + limit
    try:
        if _Clock.stopping:
            raise ScriptError("stopped: the run was interrupted")
        yield
    finally:
        _Clock.deadline = None


def request_stop() -> None:
    """The user asked the run to stop: interrupt the bounded call now running, and any later."""
    _Clock.stopping = True


def reset() -> None:
    """Forget a stop request (a new run in the same process)."""
    _Clock.stopping = False
