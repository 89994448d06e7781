"""Whether the process writing a run is still alive, so a run marked `running` whose writer died
(a crash, a kill) reads as `incomplete` rather than as running for ever."""

from __future__ import annotations

import os
import socket


def current_owner() -> str:
    """This process, as `host pid start`: the start time tells a reused pid from the writer."""
    pid = os.getpid()
    return f"{socket.gethostname()} {pid} {_start_ticks(pid)}"


def is_alive(owner: str | None) -> bool:
    """False when the writer is known to be gone; a writer on another host counts as alive."""
    if not owner:
        return False
    host, _, rest = owner.partition(" ")
    pid_text, _, start = rest.partition(" ")
    if host != socket.gethostname():
        return True
    if not pid_text.isascii() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    except OverflowError:
        return False
    return not start or _start_ticks(pid) == start


def _start_ticks(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux); empty where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return ""
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""
