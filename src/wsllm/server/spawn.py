"""Start `wsllm serve` as a child process, for the demo and the benchmarks."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from wsllm.errors import WsllmError

_SERVING = re.compile(r"serving on (http://[\d.]+:\d+)")


@contextmanager
def spawned_server(args: Sequence[str], env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Run `wsllm serve ARGS` until the block ends; yield its base URL (http://host:port).

    The child's log is read all along, so the server never blocks writing it.
    """
    command = [sys.executable, "-m", "wsllm", "serve", *args]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stderr is not None
    try:
        for line in process.stderr:
            match = _SERVING.search(line)
            if match:
                threading.Thread(target=process.stderr.read, daemon=True).start()
                yield match.group(1)
                return
        raise WsllmError(f"wsllm serve exited before serving (exit code {process.wait()})")
    finally:
        process.terminate()
        process.wait(30)
