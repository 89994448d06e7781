"""Streams across nodes behind a balancer that sticks to nothing: resume anywhere, cancel from
anywhere, a dead node's streams lost in bounded time, and Redis going away."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wsllm.backends.simulated import simulated_tokens

pytestmark = pytest.mark.slow
Frame = dict[str, Any]


async def receive(ws: aiohttp.ClientWebSocketResponse) -> Frame:
    message = await ws.receive(timeout=15)
    assert message.type is aiohttp.WSMsgType.TEXT, message
    frame: Frame = json.loads(message.data)
    return frame


async def connect(http: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(url + "/ws-stream")
    assert (await receive(ws))["type"] == "ready"
    return ws


async def until_end(ws: aiohttp.ClientWebSocketResponse) -> list[Frame]:
    frames = [await receive(ws)]
    while frames[-1]["type"] not in ("done", "error"):
        frames.append(await receive(ws))
    return frames


async def resume(http: aiohttp.ClientSession, url: str, stream: str, after: int) -> list[Frame]:
    ws = await connect(http, url)
    await ws.send_json({"type": "resume", "stream": stream, "after": after})
    frames = await until_end(ws)
    await ws.close()
    return frames


async def test_a_stream_made_on_one_node_is_resumed_on_another(cluster: Any) -> None:
    async with aiohttp.ClientSession() as http:
        first = cluster.nodes[0].port
        ws = await connect(http, f"ws://127.0.0.1:{first}")
        await ws.send_json({"input": "cross the cluster"})
        head = [await receive(ws) for _ in range(4)]
        await ws.close()
        tail = await resume(http, f"ws://127.0.0.1:{cluster.nodes[1].port}", head[0]["stream"], 4)
    whole = [*head, *tail]
    assert [f["seq"] for f in whole] == list(range(1, len(whole) + 1))
    deltas = [f["message"] for f in whole if f["type"] == "delta"]
    assert deltas == simulated_tokens("cross the cluster", 48)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(min_value=1, max_value=45))
async def test_through_the_balancer_a_cut_stream_resumes_to_the_single_node_transcript(
    cluster: Any, cut: int
) -> None:
    async with aiohttp.ClientSession() as http:
        ws = await connect(http, cluster.url)
        await ws.send_json({"input": "the same question"})
        head = [await receive(ws) for _ in range(cut)]
        await ws.close()  # the balancer sends the next connection to another node
        tail = await resume(http, cluster.url, head[0]["stream"], cut)
    whole = [*head, *tail]
    assert [f["seq"] for f in whole] == list(range(1, 51))
    assert [f["message"] for f in whole if f["type"] == "delta"] == simulated_tokens(
        "the same question", 48
    )
    assert whole[-1]["type"] == "done"


async def test_a_cancel_sent_to_any_node_stops_the_stream_on_its_owner(cluster: Any) -> None:
    async with aiohttp.ClientSession() as http:
        owner = await connect(http, f"ws://127.0.0.1:{cluster.nodes[0].port}")
        await owner.send_json({"input": "x " * 10})
        stream = (await receive(owner))["stream"]
        other = await connect(http, f"ws://127.0.0.1:{cluster.nodes[2].port}")
        await other.send_json({"type": "cancel", "stream": stream})
        frames = await until_end(owner)
        assert frames[-1]["code"] == "cancelled"
        await owner.close()
        await other.close()


async def test_a_killed_node_loses_its_streams_and_resumers_hear_so_in_bounded_time(
    cluster: Any,
) -> None:
    async with aiohttp.ClientSession() as http:
        victim = cluster.nodes[0]
        ws = await connect(http, f"ws://127.0.0.1:{victim.port}")
        await ws.send_json({"input": "interrupted for good"})
        head = [await receive(ws) for _ in range(3)]
        victim.process.send_signal(signal.SIGKILL)
        await victim.process.wait()
        async with asyncio.timeout(15):  # bounded: the lease lapses, the resumer is told
            tail = await resume(http, f"ws://127.0.0.1:{cluster.nodes[1].port}",
                                head[0]["stream"], 3)  # fmt: skip
    assert tail[-1]["type"] == "error"
    assert tail[-1]["code"] == "stream_lost"


async def test_when_redis_goes_away_plain_streams_go_on_and_resume_says_lost(
    cluster: Any,
) -> None:
    await cluster.stop_redis()
    async with aiohttp.ClientSession() as http:
        node = f"ws://127.0.0.1:{cluster.nodes[0].port}"
        await asyncio.sleep(1.5)  # the node notices at its next check
        async with http.get(node.replace("ws://", "http://") + "/health") as response:
            health = await response.json()
        assert health["redis"].startswith("down")
        ws = await connect(http, node)
        await ws.send_json({"input": "still served"})
        frames = await until_end(ws)
        assert frames[-1]["type"] == "done"
        await ws.close()
        other = f"ws://127.0.0.1:{cluster.nodes[1].port}"
        [error] = await resume(http, other, frames[0]["stream"], 0)
        assert error["code"] == "stream_lost"


async def test_a_rolling_restart_under_load_fails_no_request_of_clients_that_resume(
    tmp_path: Any,
) -> None:
    import sys

    from tests.cluster.conftest import testbed

    # Streams of 48 deltas 50 ms apart (2.4 s) on nodes that drain in 2.6 s: a node told to
    # stop hands its streaming clients over at 1.95 s (every stream then more than 0.45 s from
    # its end moves: about one in five), and they resume elsewhere while it finishes them.
    bed = testbed.Cluster(serve_args=("--sim-ttft-ms", "5", "--sim-itl-ms", "50"),
                          env={"WSLLM_DRAIN_TIMEOUT": "2.6"})  # fmt: skip
    await bed.start()
    try:
        report = tmp_path / "bench.json"
        bench = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wsllm", "bench", bed.url + "/ws-stream", "--resume",
            "--concurrency", "200", "--requests", "600", "--timeout", "30", "--no-progress",
            "-o", str(report), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await asyncio.sleep(3.0)
        bed.nodes[1].process.send_signal(signal.SIGTERM)  # one node of three is restarted
        out, err = await asyncio.wait_for(bench.communicate(), 120)
        assert bench.returncode == 0, err.decode()
        assert await asyncio.wait_for(bed.nodes[1].process.wait(), 20) == 0
    finally:
        await bed.stop()
    [figures] = next(iter(json.loads(report.read_text())["results"].values()))
    assert (figures["completed"], figures["errors"], figures["cut_at_end"]) == (600, 0, 0)
    assert figures["resumed"] > 0, out.decode()  # clients of the restarted node really moved


async def test_a_rate_limit_is_one_limit_across_every_node() -> None:
    from tests.cluster.conftest import testbed

    bed = testbed.Cluster(env={"WSLLM_RATE_LIMIT": "6"})
    await bed.start()
    outcomes: list[str] = []
    try:
        async with aiohttp.ClientSession() as http:
            for node in bed.nodes:  # three requests on each node: nine in all, six allowed
                ws = await connect(http, f"ws://127.0.0.1:{node.port}")
                for _ in range(3):
                    await ws.send_json({"input": "count me"})
                    frames = await until_end(ws)
                    outcomes.append(frames[-1].get("code", "ok"))
                await ws.close()
    finally:
        await bed.stop()
    assert outcomes.count("ok") == 6
    assert outcomes.count("rate_limited") == 3


async def test_a_per_client_connection_cap_counts_the_clients_connections_on_every_node() -> None:
    from tests.cluster.conftest import testbed

    bed = testbed.Cluster(env={"WSLLM_MAX_CONNECTIONS_PER_CLIENT": "4"})
    await bed.start()
    forwarded = {"X-Forwarded-For": "10.9.8.7"}  # as the balancer says who the client is
    try:
        async with aiohttp.ClientSession() as http:
            held = [await http.ws_connect(f"ws://127.0.0.1:{node.port}/ws-stream", headers=forwarded)
                    for node in (*bed.nodes, bed.nodes[0])]  # fmt: skip
            await asyncio.sleep(0.3)  # the counts reach Redis
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(f"ws://127.0.0.1:{bed.nodes[1].port}/ws-stream",
                                      headers=forwarded)  # fmt: skip
            assert refused.value.status == 429
            other = await http.ws_connect(f"ws://127.0.0.1:{bed.nodes[1].port}/ws-stream",
                                          headers={"X-Forwarded-For": "10.1.1.1"})  # fmt: skip
            for ws in [*held, other]:
                await ws.close()
    finally:
        await bed.stop()
