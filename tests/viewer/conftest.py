"""Two stored runs of one suite (the second with regressions), and `wsllm view` serving them;
helpers to store runs that stall, stop early, die, or are still running."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.cli_process import clean_env, run_wsllm
from tests.conftest import ServerFactory
from tests.evals.helpers import target_config

SUITE = """
description: {label}
prompts: ['{{{{question}}}}']
providers:
  - id: 'ws://localhost:{port}/ws-stream'
    config:
      messageTemplate: '{{"input": {{{{prompt | dump}}}}}}'
      streamResponse: |
        (accumulator, event, context) => {{
          const {{ message, type }} = JSON.parse(event.data);
          if (type === 'message') {{ return [{{ output: message }}, true]; }}
          if (type === 'error')   {{ return [{{ error: message }}, true]; }}
          return [{{output: message}}, false];
        }}
tests:
  - description: echoes the question
    vars: {{question: What is the capital of France?}}
    assert: [{{type: icontains, value: capital of France}}]
  - description: answers at length
    vars: {{question: Explain WebSockets.}}
    assert: [{{type: javascript, value: "output.split(' ').length > 20"}}]
  - description: says a lot about latency
    vars: {{question: Tell me about latency.}}
    assert: [{{type: javascript, value: "output.split(' ').length > 20"}}]
  - description: shows markup as text
    vars: {{question: "<script>window.pwned = 1</script>"}}
    assert: [{{type: contains, value: "<script>"}}]
"""


async def store_run(
    start_server: ServerFactory, folder: Path, db: Path, label: str, tokens: int
) -> None:
    base = await start_server(sim_ttft_ms="5", sim_itl_ms="1", sim_tokens=str(tokens))
    config = folder / f"{label}.yaml"
    config.write_text(SUITE.format(label=label, port=base.rsplit(":", 1)[1]))
    code, out, err = await run_wsllm(
        "eval", "-c", str(config), "--db", str(db), cwd=folder, env=clean_env()
    )
    assert code in (0, 100), out + err


@pytest.fixture
async def two_runs(start_server: ServerFactory, tmp_path: Path) -> Path:
    """A database holding a good run, then a worse one of the same suite."""
    db = tmp_path / "results.db"
    await store_run(start_server, tmp_path, db, "baseline", tokens=40)
    await store_run(start_server, tmp_path, db, "regressed", tokens=12)
    return db


@pytest.fixture
async def viewer(two_runs: Path) -> AsyncIterator[str]:
    """`wsllm view` on the two runs; yields its base URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wsllm", "view", "--db", str(two_runs), "--port", "0",
        env=clean_env(), stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    line = (await asyncio.wait_for(process.stderr.readline(), 20)).decode()
    match = re.search(r"on (http://[\d.]+:\d+)", line)
    assert match, line
    yield match.group(1)
    process.terminate()
    await process.wait()


VIEWING = re.compile(r"on (http://[\d.]+:\d+)")


@asynccontextmanager
async def viewing(db: Path, *args: str, **env: str) -> AsyncIterator[str]:
    """`wsllm view --db DB --port 0 ARGS` with `env` added; yields its base URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wsllm", "view", "--db", str(db), "--port", "0", *args,
        env=clean_env(**env), stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    try:
        line = (await asyncio.wait_for(process.stderr.readline(), 20)).decode()
        match = VIEWING.search(line)
        assert match, line + (await process.stderr.read()).decode()
        yield match.group(1)
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


def suite(url: str, tests: int, description: str, extra: str = "", assertion: str = "") -> str:
    """A config of `tests` tests against one target; `extra` goes in the target's config."""
    head = target_config(url, extra=extra).split("tests:")[0]
    lines = "".join(f"  - vars: {{question: 'question {i}'}}\n{assertion}" for i in range(tests))
    return f"description: {description}\n{head}tests:\n{lines}"


async def eval_until(config: Path, db: Path, stored: int, *args: str) -> asyncio.subprocess.Process:
    """Start `wsllm eval` and return once `stored` of its results are in the database."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wsllm", "eval", "-c", str(config), "--db", str(db), "--no-progress", *args,
        cwd=config.parent, env=clean_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        while _stored(db) < stored:
            assert process.returncode is None, "wsllm eval ended early"
            await asyncio.sleep(0.1)
    return process


def _stored(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM results").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0
