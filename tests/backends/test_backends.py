"""The openai and openai-chat backends through the server, against the fake upstream."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest

from tests.conftest import ServerFactory, ask, receive, ws_url
from tests.fakes.openai_upstream import FakeOpenAI, reply_tokens

BACKENDS = ["openai", "openai-chat"]
USAGE = {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12}


async def serve_against(start_server: ServerFactory, fake: FakeOpenAI, backend: str) -> str:
    return await start_server(
        backend=backend,
        openai_base_url=fake.base_url,
        openai_api_key="sk-test",
        model="test-model",
        upstream_timeout="1",
        upstream_deadline="2",
        upstream_max_bytes="1000000",
    )


@pytest.mark.parametrize("backend", BACKENDS)
async def test_streams_the_upstream_deltas(
    start_server: ServerFactory, fake_openai: FakeOpenAI, http: aiohttp.ClientSession, backend: str
) -> None:
    base = await serve_against(start_server, fake_openai, backend)
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        frames = await ask(ws, {"input": "Stream this please"})
    tokens = reply_tokens("Stream this please", fake_openai.tokens)
    assert [f["message"] for f in frames if f["type"] == "delta"] == tokens
    assert frames[-2] == {"type": "message", "message": "".join(tokens)}
    assert frames[-1]["type"] == "done"
    assert frames[-1].get("usage", USAGE) == USAGE  # the Responses API reports usage; chat may not
    sent = fake_openai.requests[-1]
    assert sent.headers["Authorization"] == "Bearer sk-test"
    assert sent.body["model"] == "test-model"
    assert sent.body["stream"] is True


@pytest.mark.parametrize("backend", BACKENDS)
async def test_ws_answers_with_the_whole_stream_joined(
    start_server: ServerFactory, fake_openai: FakeOpenAI, http: aiohttp.ClientSession, backend: str
) -> None:
    base = await serve_against(start_server, fake_openai, backend)
    async with http.ws_connect(ws_url(base, "/ws")) as ws:
        await receive(ws)
        frames = await ask(ws, {"input": "Hello there!"})
    text = "".join(reply_tokens("Hello there!", fake_openai.tokens))
    assert frames[0] == {"type": "response", "message": text}
    assert frames[1]["type"] == "done"
    assert frames[1].get("usage", USAGE) == USAGE


async def test_responses_request_carries_the_input(
    start_server: ServerFactory, fake_openai: FakeOpenAI, http: aiohttp.ClientSession
) -> None:
    base = await serve_against(start_server, fake_openai, "openai")
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        await ask(ws, {"input": "What is 2+2?"})
    assert fake_openai.requests[-1].path == "/v1/responses"
    assert fake_openai.requests[-1].body["input"] == "What is 2+2?"


async def test_chat_request_carries_the_input_as_a_user_message(
    start_server: ServerFactory, fake_openai: FakeOpenAI, http: aiohttp.ClientSession
) -> None:
    base = await serve_against(start_server, fake_openai, "openai-chat")
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        await ask(ws, {"input": "What is 2+2?"})
    assert fake_openai.requests[-1].path == "/v1/chat/completions"
    assert fake_openai.requests[-1].body["messages"] == [
        {"role": "user", "content": "What is 2+2?"}
    ]


FAILURES = [
    ("openai", "status:401", "upstream_auth", "Incorrect API key"),
    ("openai", "status:404", "upstream_rejected", "does not exist"),
    ("openai", "status:429", "upstream_rate_limited", "Rate limit"),
    ("openai", "status:500", "upstream_server_error", "(500)"),
    ("openai", "status:503", "upstream_server_error", "overloaded"),
    ("openai", "error-event", "upstream_failed", "The model crashed"),
    ("openai", "failed", "upstream_failed", "The model failed to answer"),
    ("openai", "cut", "upstream_interrupted", "closed the stream"),
    ("openai", "stall", "upstream_timeout", "sent nothing for 1 s"),
    ("openai", "garbage", "upstream_protocol", "not JSON"),
    ("openai", "html", "upstream_protocol", "answered with text/html, not an event stream"),
    ("openai", "comments", "upstream_timeout", "did not finish within 2 s"),
    ("openai", "trickle", "upstream_timeout", "did not finish within 2 s"),
    ("openai", "endless-line", "upstream_protocol", "larger than 1000000 bytes"),
    ("openai", "endless-error", "upstream_server_error", "(500)"),
    ("openai-chat", "status:401", "upstream_auth", "Incorrect API key"),
    ("openai-chat", "status:429", "upstream_rate_limited", "Rate limit"),
    ("openai-chat", "status:500", "upstream_server_error", "(500)"),
    ("openai-chat", "chat-error", "upstream_failed", "model crashed"),
    ("openai-chat", "cut", "upstream_interrupted", "closed the stream"),
    ("openai-chat", "stall", "upstream_timeout", "sent nothing"),
    ("openai-chat", "html", "upstream_protocol", "text/html"),
    ("openai-chat", "choices-5", "upstream_protocol", '"choices" is not a list'),
]


@pytest.mark.parametrize(("backend", "behaviour", "code", "says"), FAILURES)
async def test_upstream_failures_become_error_frames(
    start_server: ServerFactory,
    fake_openai: FakeOpenAI,
    http: aiohttp.ClientSession,
    backend: str,
    behaviour: str,
    code: str,
    says: str,
) -> None:
    base = await serve_against(start_server, fake_openai, backend)
    fake_openai.behaviour = behaviour
    fake_openai.tokens = 8
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        frames = await ask(ws, {"input": "hello"})
        error = frames[-1]
        assert error["type"] == "error"
        assert error["code"] == code
        assert says in error["message"]
        assert "Traceback" not in error["message"]
        fake_openai.behaviour = "ok"
        assert (await ask(ws, {"input": "again"}))[-1]["type"] == "done"


@pytest.mark.parametrize("behaviour", ["status:401", "status:500", "stall"])
async def test_failures_reach_ws_too(
    start_server: ServerFactory,
    fake_openai: FakeOpenAI,
    http: aiohttp.ClientSession,
    behaviour: str,
) -> None:
    base = await serve_against(start_server, fake_openai, "openai")
    fake_openai.behaviour = behaviour
    async with http.ws_connect(ws_url(base, "/ws")) as ws:
        await receive(ws)
        frames = await ask(ws, {"input": "hello"})
    assert [f["type"] for f in frames] == ["error"]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_unreachable_upstream_is_reported(
    start_server: ServerFactory, http: aiohttp.ClientSession, backend: str
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    base = await start_server(
        backend=backend, openai_base_url=f"http://127.0.0.1:{closed_port}/v1", openai_api_key="k"
    )
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        frames = await ask(ws, {"input": "hello"})
    assert frames[-1]["code"] == "upstream_unreachable"
    assert f"127.0.0.1:{closed_port}" in frames[-1]["message"]


async def test_a_stalled_upstream_does_not_hold_up_other_connections(
    start_server: ServerFactory, fake_openai: FakeOpenAI, http: aiohttp.ClientSession
) -> None:
    base = await serve_against(start_server, fake_openai, "openai")
    fake_openai.behaviour = "stall"
    stuck = await http.ws_connect(ws_url(base, "/ws-stream"))
    await receive(stuck)
    await stuck.send_json({"input": "never ends"})
    await asyncio.sleep(0.1)
    fake_openai.behaviour = "ok"
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        assert (await ask(ws, {"input": "quick"}))[-1]["type"] == "done"
    await stuck.close()


async def test_a_client_leaving_midstream_closes_the_upstream_call(
    start_server: ServerFactory, fake_openai: FakeOpenAI, http: aiohttp.ClientSession
) -> None:
    base = await serve_against(start_server, fake_openai, "openai")
    fake_openai.tokens = 500
    fake_openai.delay = 0.01
    ws = await http.ws_connect(ws_url(base, "/ws-stream"))
    await receive(ws)
    await ws.send_json({"input": "a long one"})
    assert (await receive(ws))["type"] == "delta"
    assert fake_openai.open_streams == 1
    await ws.close()
    for _ in range(100):
        if fake_openai.open_streams == 0:
            break
        await asyncio.sleep(0.02)
    assert fake_openai.open_streams == 0


async def test_the_conversation_sent_upstream_keeps_within_its_byte_cap(
    start_server: ServerFactory, fake_openai: FakeOpenAI, http: aiohttp.ClientSession
) -> None:
    base = await start_server(backend="openai-chat", openai_base_url=fake_openai.base_url,
                              openai_api_key="k", conversation_max_bytes="2000")  # fmt: skip
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        for turn in range(20):
            frames = await ask(ws, {"input": f"turn {turn} " + "x" * 300, "continue": True})
            assert frames[-1]["type"] == "done"
    messages = fake_openai.requests[-1].body["messages"]
    earlier = messages[:-1]
    assert sum(len(m["content"].encode()) for m in earlier) <= 2000  # the oldest turns went first
    assert earlier[-2]["content"].startswith("turn 18 ")  # and the newest stayed
    assert messages[-1]["content"].startswith("turn 19 ")
