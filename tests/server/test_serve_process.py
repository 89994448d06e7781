"""`wsllm serve` as a process: graceful shutdown, structured logs, several workers."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import aiohttp
import pytest

from tests.cli_process import ServeProcess, clean_env
from tests.conftest import ask, receive, until_end, ws_url


async def test_sigterm_lets_running_streams_finish_then_closes_with_1001(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    server = await ServeProcess.start("--port", "0", "--sim-ttft-ms", "0", "--sim-itl-ms", "20",
                                      "--sim-tokens", "40", cwd=tmp_path, env=clean_env())  # fmt: skip
    base = await server.base_url()
    ws = await http.ws_connect(ws_url(base, "/ws-stream"))
    await receive(ws)
    await ws.send_json({"input": "finish me", "id": "r"})
    assert (await receive(ws))["type"] == "delta"
    server.process.send_signal(signal.SIGTERM)
    frames = await until_end(ws)
    assert frames[-1]["type"] == "done"
    assert sum(f["type"] == "delta" for f in frames) == 39  # the rest of the 40, none dropped
    closing = await ws.receive(timeout=10)
    assert closing.type is aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 1001
    with pytest.raises(aiohttp.ClientConnectionError):
        await http.ws_connect(ws_url(base, "/ws-stream"))
    assert await server.exited() == 0


async def test_past_the_drain_timeout_a_stream_ends_with_an_error_not_silence(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    env = clean_env(WSLLM_DRAIN_TIMEOUT="0.3")
    server = await ServeProcess.start("--port", "0", "--sim-itl-ms", "50", "--sim-tokens", "400",
                                      cwd=tmp_path, env=env)  # fmt: skip
    base = await server.base_url()
    ws = await http.ws_connect(ws_url(base, "/ws-stream"))
    await receive(ws)
    await ws.send_json({"input": "too long", "id": 1})
    assert (await receive(ws))["type"] == "delta"
    server.process.send_signal(signal.SIGTERM)
    frames = await until_end(ws)
    assert frames[-1] == {"type": "error", "code": "shutting_down", "id": 1,
                          "message": "The server shut down before this request finished"}  # fmt: skip
    assert (await ws.receive(timeout=10)).type is aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 1001
    assert await server.exited() == 0


async def test_json_logs_carry_each_requests_story(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    server = await ServeProcess.start("--port", "0", "--log-format", "json", "--sim-ttft-ms", "5",
                                      cwd=tmp_path, env=clean_env())  # fmt: skip
    base = await server.base_url()
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        await ask(ws, {"input": "log me", "id": "abc"})
    line = await server.line_matching('"logger":"wsllm.request"')
    entry = json.loads(line)
    assert entry["request_id"] == "abc"
    assert entry["outcome"] == "ok"
    assert entry["backend"] == "simulated"
    assert entry["ttft_ms"] >= 5
    assert entry["output_tokens"] == 48
    assert all(json.loads(text) for text in server.log if text.strip())  # every line is JSON
    await server.stop()


async def test_several_workers_share_one_port(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    server = await ServeProcess.start("--port", "0", "--workers", "2", "--sim-ttft-ms", "0",
                                      cwd=tmp_path, env=clean_env())  # fmt: skip
    base = await server.base_url()
    assert any("2 worker processes share port" in line for line in server.log)
    children = (
        Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
    )
    assert len(children) == 2

    async def one(n: int) -> str:
        async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
            await receive(ws)
            return str((await ask(ws, {"input": f"q{n}"}))[-1]["type"])

    assert await asyncio.gather(*(one(n) for n in range(20))) == ["done"] * 20
    assert await server.stop() == 0
    for pid in children:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )
