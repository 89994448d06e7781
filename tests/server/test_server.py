"""The server on real loopback sockets, with the simulated backend."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.conftest import ServerFactory, ask, receive, until_end, ws_url
from wsllm.backends.simulated import simulated_tokens


async def test_health(start_server: ServerFactory, http: aiohttp.ClientSession) -> None:
    base = await start_server()
    async with http.get(f"{base}/health") as response:
        assert response.status == 200
        # The seed's answer, with which backend and model serve (for the chat page and probes).
        assert await response.json() == {
            "status": "ok",
            "backend": "simulated",
            "model": "gpt-4.1-mini",
        }
        assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_cors_preflight(start_server: ServerFactory, http: aiohttp.ClientSession) -> None:
    base = await start_server()
    headers = {
        "Origin": "http://example.test",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "content-type",
    }
    async with http.options(f"{base}/health", headers=headers) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["Access-Control-Allow-Headers"] == "content-type"
        assert "GET" in response.headers["Access-Control-Allow-Methods"]


async def test_unknown_paths_are_404(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server()
    async with http.get(f"{base}/nope") as response:
        assert response.status == 404
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await http.ws_connect(ws_url(base, "/ws-other"))
    assert caught.value.status == 404


async def test_plain_get_on_a_socket_path_says_so(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server()
    async with http.get(f"{base}/ws-stream") as response:
        assert response.status == 426
        assert "WebSocket" in await response.text()


async def test_stream_sends_deltas_then_the_full_message(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server()
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        assert await receive(ws) == {"type": "ready", "message": "Connected to /ws-stream"}
        frames = await ask(ws, {"input": "Stream this please"})
    expected = simulated_tokens("Stream this please", 8)
    deltas = [f for f in frames if f["type"] == "delta"]
    assert [d["message"] for d in deltas] == expected
    assert all(d["output"] == d["message"] for d in deltas)
    assert frames[-2] == {"type": "message", "message": "".join(expected)}
    assert frames[-1]["type"] == "done"


async def test_ws_sends_one_response_then_done(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server()
    async with http.ws_connect(ws_url(base, "/ws")) as ws:
        assert await receive(ws) == {"type": "ready", "message": "Connected to /ws"}
        frames = await ask(ws, {"input": "Hello there!"})
    text = "".join(simulated_tokens("Hello there!", 8))
    usage = {"input_tokens": 2, "output_tokens": 8, "total_tokens": 10}
    assert frames == [{"type": "response", "message": text}, {"type": "done", "usage": usage}]


async def test_many_requests_in_turn_on_one_connection(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server()
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        for n in range(20):
            frames = await ask(ws, {"input": f"question {n}"})
            assert frames[-2]["message"] == "".join(simulated_tokens(f"question {n}", 8))


async def test_with_a_queue_requests_sent_back_to_back_are_answered_in_order(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(sim_itl_ms="1", busy="queue")
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        for n in range(3):
            await ws.send_json({"input": f"q{n}", "id": n})
        answers = [await until_end(ws) for _ in range(3)]
    assert [(a[-1]["type"], a[-1]["id"]) for a in answers] == [("done", n) for n in range(3)]
    assert all(f["id"] == n for n, a in enumerate(answers) for f in a)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("not json at all", "invalid_json"),
        ("[1, 2, 3]", "invalid_request"),
        ('{"prompt": "wrong key"}', "missing_input"),
        ('{"input": ""}', "missing_input"),
        ('{"input": 12}', "missing_input"),
        ('{"input": "x", "type": "mystery"}', "unknown_type"),
    ],
)
async def test_bad_input_gets_an_error_and_the_connection_stays_usable(
    start_server: ServerFactory, http: aiohttp.ClientSession, payload: str, code: str
) -> None:
    base = await start_server()
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        frames = await ask(ws, payload)
        assert len(frames) == 1
        assert frames[0]["type"] == "error"
        assert frames[0]["code"] == code
        assert "Traceback" not in frames[0]["message"]
        assert (await ask(ws, {"input": "still there?"}))[-1]["type"] == "done"


async def test_binary_frames_are_refused_politely(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server()
    async with http.ws_connect(ws_url(base, "/ws")) as ws:
        await receive(ws)
        await ws.send_bytes(b'{"input": "hi"}')
        error = await receive(ws)
        assert (error["type"], error["code"]) == ("error", "binary_frame")
        assert (await ask(ws, {"input": "hi"}))[-1]["type"] == "done"


async def test_a_frame_over_the_limit_gets_an_error_and_the_connection_lives(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(max_frame_bytes="1000")
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        frames = await ask(ws, {"input": "x" * 2000})
        assert frames[0]["code"] == "frame_too_large"
        assert (await ask(ws, {"input": "small"}))[-1]["type"] == "done"


async def test_a_frame_far_over_the_limit_closes_with_1009(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(max_frame_bytes="1000")
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        await ws.send_str('{"input": "' + "x" * 200_000 + '"}')
        message = await ws.receive(timeout=10)
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1009


async def test_one_client_disconnecting_midstream_leaves_others_served(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(sim_itl_ms="5", sim_tokens="40")
    quitter = await http.ws_connect(ws_url(base, "/ws-stream"))
    await receive(quitter)
    await quitter.send_json({"input": "long answer"})
    await receive(quitter)
    await quitter.close()
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        assert (await ask(ws, {"input": "after"}))[-1]["type"] == "done"


async def test_concurrent_connections_each_get_their_own_answer(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(sim_itl_ms="1")

    async def client(n: int) -> str:
        async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
            await receive(ws)
            frames = await ask(ws, {"input": f"client {n}"})
            return str(frames[-2]["message"])

    answers = await asyncio.gather(*(client(n) for n in range(30)))
    assert answers == ["".join(simulated_tokens(f"client {n}", 8)) for n in range(30)]
