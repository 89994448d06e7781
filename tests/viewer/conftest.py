"""Two stored runs of one suite (the second with regressions), and `wsllm view` serving them."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cli_process import clean_env, run_wsllm
from tests.conftest import ServerFactory

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
