"""`wsllm serve` as a process: graceful shutdown, structured logs, several workers."""

from __future__ import annotations

import asyncio
import contextlib
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


async def flood_pings_without_reading(base: str) -> asyncio.StreamWriter:
    """A client that sends pings as fast as it can and never reads a byte of the answers."""
    from websockets.frames import Opcode

    from tests.raw_ws import client_frame, raw_connect

    _, writer = await raw_connect(base, "/ws-stream")
    ping = client_frame(b"p" * 125, Opcode.PING)

    async def flood() -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                writer.write(ping * 256)
                await writer.drain()

    asyncio.get_running_loop().create_task(flood())
    await asyncio.sleep(1.0)  # long enough for both socket buffers to fill
    return writer


async def test_a_client_that_floods_pings_and_never_reads_cannot_hold_shutdown(
    tmp_path: Path,
) -> None:
    env = clean_env(WSLLM_DRAIN_TIMEOUT="1")
    server = await ServeProcess.start("--port", "0", cwd=tmp_path, env=env)
    base = await server.base_url()
    writer = await flood_pings_without_reading(base)
    server.process.send_signal(signal.SIGTERM)
    assert await server.exited() == 0  # within the drain timeout and a grace, not never
    writer.close()


async def test_a_second_signal_stops_the_server_at_once(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    server = await ServeProcess.start("--port", "0", "--sim-itl-ms", "50", "--sim-tokens", "400",
                                      cwd=tmp_path, env=clean_env())  # fmt: skip
    base = await server.base_url()
    ws = await http.ws_connect(ws_url(base, "/ws-stream"))
    await receive(ws)
    await ws.send_json({"input": "a long answer"})
    assert (await receive(ws))["type"] == "delta"
    server.process.send_signal(signal.SIGTERM)
    await server.line_matching("shutting down")
    server.process.send_signal(signal.SIGTERM)  # the drain would take 30 s: not waited for
    assert await server.exited() == 128 + signal.SIGTERM
    await ws.close()


async def test_half_sent_requests_count_toward_the_client_limit_and_time_out(
    tmp_path: Path,
) -> None:
    env = clean_env(WSLLM_MAX_CONNECTIONS_PER_CLIENT="3", WSLLM_HANDSHAKE_TIMEOUT="1")
    server = await ServeProcess.start("--port", "0", cwd=tmp_path, env=env)
    host, port = (await server.base_url()).removeprefix("http://").split(":")
    slow = [await asyncio.open_connection(host, int(port)) for _ in range(3)]
    for _, writer in slow:
        writer.write(b"GET /ws-stream HTTP/1.1\r\nHost: x\r\n")  # and never the rest
    await asyncio.sleep(0.2)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 429")  # the half-sent ones count
    assert b"too many connections from this client" in answer
    for reader, _ in slow:  # each is closed once the header timeout passes
        assert await asyncio.wait_for(reader.read(), 10) == b""
    other = await asyncio.open_connection(host, int(port), local_addr=("127.0.0.2", 0))
    other[1].write(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (await asyncio.wait_for(other[0].read(), 5)).startswith(b"HTTP/1.1 200")
    for _, each in [*slow, (reader, writer), other]:
        each.close()
    assert await server.stop() == 0


async def test_on_sigterm_a_responses_connection_finishes_its_response_then_closes_with_1001(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    server = await ServeProcess.start("--port", "0", "--sim-itl-ms", "20", "--sim-tokens", "40",
                                      cwd=tmp_path, env=clean_env())  # fmt: skip
    base = await server.base_url()
    ws = await http.ws_connect(ws_url(base, "/v1/responses"))
    await ws.send_json({"type": "response.create", "input": "finish me"})
    kinds: list[str] = []
    while "response.output_text.delta" not in kinds:
        kinds.append(json.loads((await ws.receive(timeout=10)).data)["type"])
    server.process.send_signal(signal.SIGTERM)
    while kinds[-1] != "response.completed":
        kinds.append(json.loads((await ws.receive(timeout=10)).data)["type"])
    assert kinds.count("response.output_text.delta") == 40  # none dropped
    assert (await ws.receive(timeout=10)).type is aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 1001
    assert await server.exited() == 0


async def test_metrics_count_every_workers_requests(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    server = await ServeProcess.start(
        "--port", "0", "--workers", "2", cwd=tmp_path, env=clean_env()
    )
    base = await server.base_url()
    for _ in range(12):  # the kernel spreads connections over the two workers
        async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
            await receive(ws)
            assert (await ask(ws, {"input": "count me"}))[-1]["type"] == "done"
    await asyncio.sleep(1.5)  # each worker writes its counts once a second
    for _ in range(4):  # whichever worker answers, it tells the whole server's
        async with http.get(f"{base}/metrics") as response:
            text = await response.text()
        assert 'wsllm_requests_total{path="/ws-stream",outcome="ok"} 12' in text
    assert await server.stop() == 0
