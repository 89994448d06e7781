"""Run `wsllm` as a real subprocess and read its start-up log."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import tempfile
from pathlib import Path

_SERVING = re.compile(r"serving on (http://[\d.]+:\d+)")

# Runs stored and grader answers cached by `wsllm eval` in tests go here, never into the user's
# own data and cache folders.
DATA_HOME = tempfile.mkdtemp(prefix="wsllm-tests-data-")
CACHE_HOME = tempfile.mkdtemp(prefix="wsllm-tests-cache-")


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without settings that would leak into the server, plus `extra`."""
    dropped = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CHATBOT_MODEL", "PORT")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("WSLLM_")}
    return {**env, "XDG_DATA_HOME": DATA_HOME, "XDG_CACHE_HOME": CACHE_HOME, **extra}


class ServeProcess:
    """`wsllm serve` in a subprocess; `log` holds every stderr line read so far."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.log: list[str] = []

    @classmethod
    async def start(cls, *args: str, cwd: Path, env: dict[str, str]) -> ServeProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wsllm", "serve", *args,
            cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(process)

    async def line_matching(self, pattern: str, within: float = 20) -> str:
        """Read stderr until a line matches `pattern`; return that line."""
        async with asyncio.timeout(within):
            while True:
                assert self.process.stderr is not None
                raw = await self.process.stderr.readline()
                if not raw:
                    raise AssertionError("wsllm exited; its log:\n" + "".join(self.log))
                line = raw.decode()
                self.log.append(line)
                if re.search(pattern, line):
                    return line

    async def base_url(self) -> str:
        """Wait for the start-up line; return the server's base URL."""
        match = _SERVING.search(await self.line_matching(_SERVING.pattern))
        assert match is not None
        return match.group(1)

    async def exited(self) -> int:
        """Wait for the process to exit on its own (after a signal already sent)."""
        async with asyncio.timeout(20):
            return await self.process.wait()

    async def stop(self) -> int:
        """SIGTERM, then wait for the exit code."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            return await self.process.wait()


async def run_wsllm(*args: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """Run `wsllm ARGS` to completion; return exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wsllm", *args,
        cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
