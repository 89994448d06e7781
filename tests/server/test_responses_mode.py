"""`/v1/responses`: OpenAI's Responses API WebSocket mode, with the official openai SDK as the
client, unmodified, over every backend."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from openai.lib.responses_websocket import (
    AsyncResponsesWebSocketSession,
    ResponsesWebSocketError,
    ResponsesWebSocketLimits,
)
from openai.types.responses import ResponsesServerEvent
from pydantic import TypeAdapter

from openai import AsyncOpenAI
from tests.conftest import ServerFactory, ws_url
from tests.fakes.openai_upstream import FakeOpenAI, reply_tokens
from wsllm.backends.simulated import simulated_tokens

TERMINAL = {"response.completed", "response.failed", "response.incomplete", "error"}
STRICT = TypeAdapter(ResponsesServerEvent)
LIMITS = ResponsesWebSocketLimits(
    max_lanes=8, max_events_per_lane=512, max_events=2048, max_bytes_per_lane=1 << 22,
    max_bytes=1 << 23,
)  # fmt: skip


def client(base: str, key: str = "sk-test") -> AsyncOpenAI:
    return AsyncOpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)


async def turn(conn: Any, **create: Any) -> list[Any]:
    """Send one `response.create`; the events up to its end."""
    await conn.response.create(**create)
    events: list[Any] = []
    async for event in conn:
        events.append(event)
        if event.type in TERMINAL:
            break
    return events


async def raw_turn(
    ws: aiohttp.ClientWebSocketResponse, event: dict[str, Any]
) -> list[dict[str, Any]]:
    await ws.send_str(json.dumps(event))
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1]["type"] not in TERMINAL:
        message = await ws.receive(timeout=10)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        frames.append(json.loads(message.data))
    return frames


async def test_one_turn_streams_every_event_in_its_real_shape(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(sim_tokens="6")
    async with http.ws_connect(ws_url(base, "/v1/responses")) as ws:
        frames = await raw_turn(ws, {"type": "response.create", "model": "m", "input": "Hello"})
    kinds = [f["type"] for f in frames]
    assert kinds == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added", *["response.output_text.delta"] * 6,
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.completed",
    ]  # fmt: skip
    assert [f["sequence_number"] for f in frames] == list(range(len(frames)))
    for frame in frames:  # the SDK's strict types accept every event
        STRICT.validate_python(frame)
    text = "".join(simulated_tokens("Hello", 6))
    completed = frames[-1]["response"]
    assert completed["id"] == frames[0]["response"]["id"]
    assert completed["output"][0]["content"][0]["text"] == text
    assert completed["usage"]["output_tokens"] == 6


async def test_the_sdk_chains_turns_with_previous_response_id(start_server: ServerFactory) -> None:
    base = await start_server(sim_tokens="8")
    async with client(base).responses.connect() as conn:
        first = await turn(conn, model="m", input="hi", store=False)
        assert first[-1].type == "response.completed"
        deltas = "".join(e.delta for e in first if e.type == "response.output_text.delta")
        assert first[-1].response.output_text == deltas == "".join(simulated_tokens("hi", 8))
        second = await turn(conn, model="m", input="and again",
                            previous_response_id=first[-1].response.id)  # fmt: skip
        text = second[-1].response.output_text
        assert text == "".join(simulated_tokens("and again", 8, turn=2))  # it saw the first turn
        assert second[-1].response.previous_response_id == first[-1].response.id


async def test_an_unknown_previous_response_is_an_error_and_the_connection_lives_on(
    start_server: ServerFactory,
) -> None:
    base = await start_server()
    async with client(base).responses.connect() as conn:
        [error] = await turn(conn, model="m", input="x", previous_response_id="resp_missing")
        assert (error.type, error.status) == ("error", 400)
        assert error.error.code == "previous_response_not_found"
        assert error.error.param == "previous_response_id"
        assert (await turn(conn, model="m", input="still here"))[-1].type == "response.completed"


async def test_a_warm_up_prepares_state_without_asking_the_model(
    start_server: ServerFactory,
) -> None:
    base = await start_server()
    async with client(base).responses.connect() as conn:
        warm = await turn(conn, model="m", input="remember me", generate=False)
        assert [e.type for e in warm] == [
            "response.created", "response.in_progress", "response.completed",
        ]  # fmt: skip
        assert warm[-1].response.output == []
        after = await turn(conn, model="m", input="next", previous_response_id=warm[-1].response.id)
        assert "(turn 2)" in after[-1].response.output_text  # the warm-up's input is a turn


async def test_lanes_run_in_parallel_and_errors_stay_on_their_lane(
    start_server: ServerFactory,
) -> None:
    base = await start_server(sim_itl_ms="5", sim_tokens="10")
    async with (
        client(base).responses.connect() as conn,
        AsyncResponsesWebSocketSession(conn, limits=LIMITS) as session,
    ):
        a, b = session.lane("laneA"), session.lane("lane.B-2")
        await a.send({"type": "response.create", "model": "m", "input": "alpha"})
        await b.send({"type": "response.create", "model": "m", "input": "beta"})
        first_a, first_b = await asyncio.gather(a.get_final_response(), b.get_final_response())
        assert first_a.output_text == "".join(simulated_tokens("alpha", 10))
        assert first_b.output_text == "".join(simulated_tokens("beta", 10))
        await a.send({"type": "response.create", "model": "m", "input": "more",
                          "previous_response_id": first_a.id})  # fmt: skip
        assert "(turn 2)" in (await a.get_final_response()).output_text
        await b.send({"type": "response.create", "model": "m", "input": "x",
                          "previous_response_id": "resp_gone"})  # fmt: skip
        with pytest.raises(ResponsesWebSocketError) as caught:
            await b.get_final_response()
        refusal: Any = caught.value.event
        assert refusal.error.code == "previous_response_not_found"
        assert refusal.stream_id == "lane.B-2"
        await session.default.send({"type": "response.create", "model": "m", "input": "d"})
        assert (await session.default.get_final_response()).status == "completed"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "invalid_json"),
        ('["a list"]', "invalid_request"),
        ('{"type": "response.launch"}', "unknown_type"),
        ('{"type": "response.create", "model": "m"}', "missing_input"),
        ('{"type": "response.create", "input": "x", "background": true}', "invalid_request"),
        (
            '{"type": "response.create", "input": "x", "stream_id": "bad lane!"}',
            "invalid_stream_id",
        ),
        ('{"type": "response.create", "input": "x", "generate": "no"}', "invalid_request"),
        ('{"type": "response.steer", "input": "x"}', "steering_not_supported"),
    ],
)
async def test_bad_events_get_error_events_and_the_connection_stays_usable(
    start_server: ServerFactory, http: aiohttp.ClientSession, frame: str, code: str
) -> None:
    base = await start_server()
    async with http.ws_connect(ws_url(base, "/v1/responses")) as ws:
        await ws.send_str(frame)
        error = json.loads((await ws.receive(timeout=10)).data)
        STRICT.validate_python(error)
        assert (error["type"], error["error"]["code"]) == ("error", code)
        assert error["error"]["message"]
        frames = await raw_turn(ws, {"type": "response.create", "input": "fine"})
        assert frames[-1]["type"] == "response.completed"


async def test_more_lanes_than_allowed_is_an_error_on_that_lane(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(sim_ttft_ms="200")
    async with http.ws_connect(ws_url(base, "/v1/responses")) as ws:
        for n in range(33):
            await ws.send_str(json.dumps({"type": "response.create", "input": "x",
                                          "stream_id": f"lane{n}"}))  # fmt: skip
        errors: list[dict[str, Any]] = []
        while not errors:
            frame = json.loads((await ws.receive(timeout=10)).data)
            if frame["type"] == "error":
                errors.append(frame)
        assert errors[0]["error"]["code"] == "websocket_stream_limit_reached"
        assert errors[0]["stream_id"] == "lane32"


@pytest.mark.parametrize("backend", ["openai", "openai-chat"])
async def test_every_backend_serves_it(
    start_server: ServerFactory, fake_openai: FakeOpenAI, backend: str
) -> None:
    base = await start_server(backend=backend, openai_base_url=fake_openai.base_url,
                              openai_api_key="sk-up", model="up-model")  # fmt: skip
    async with client(base).responses.connect() as conn:
        events = await turn(conn, model="ignored", input="What is 2+2?")
    done = events[-1]
    assert done.type == "response.completed"
    assert done.response.output_text == "".join(reply_tokens("What is 2+2?", fake_openai.tokens))
    assert done.response.model == "up-model"
    assert done.response.usage is not None
    assert done.response.usage.output_tokens == 7


async def test_an_upstream_failure_ends_the_response_as_failed(
    start_server: ServerFactory, fake_openai: FakeOpenAI
) -> None:
    base = await start_server(backend="openai", openai_base_url=fake_openai.base_url,
                              openai_api_key="k")  # fmt: skip
    fake_openai.behaviour = "status:429"
    async with client(base).responses.connect() as conn:
        events = await turn(conn, model="m", input="x")
        assert events[-1].type == "response.failed"
        assert events[-1].response.error.code == "upstream_rate_limited"
        fake_openai.behaviour = "ok"
        assert (await turn(conn, model="m", input="y"))[-1].type == "response.completed"


async def test_closing_the_connection_stops_the_upstream_call(
    start_server: ServerFactory, fake_openai: FakeOpenAI, http: aiohttp.ClientSession
) -> None:
    base = await start_server(backend="openai", openai_base_url=fake_openai.base_url,
                              openai_api_key="k")  # fmt: skip
    fake_openai.tokens, fake_openai.delay = 500, 0.01
    ws = await http.ws_connect(ws_url(base, "/v1/responses"))
    await ws.send_str(json.dumps({"type": "response.create", "input": "long"}))
    while json.loads((await ws.receive(timeout=10)).data)["type"] != "response.output_text.delta":
        pass
    assert fake_openai.open_streams == 1
    await ws.close()
    for _ in range(100):
        if fake_openai.open_streams == 0:
            break
        await asyncio.sleep(0.02)
    assert fake_openai.open_streams == 0


async def test_a_cancel_ends_the_response_as_cancelled(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(sim_itl_ms="20", sim_tokens="200")
    async with http.ws_connect(ws_url(base, "/v1/responses")) as ws:
        await ws.send_str(json.dumps({"type": "response.create", "input": "long"}))
        created = json.loads((await ws.receive(timeout=10)).data)
        await ws.send_str(json.dumps({"type": "response.cancel",
                                      "response_id": created["response"]["id"]}))  # fmt: skip
        frame: dict[str, Any] = {}
        while frame.get("type") not in TERMINAL:
            frame = json.loads((await ws.receive(timeout=10)).data)
    assert frame["type"] == "response.failed"
    assert frame["response"]["status"] == "cancelled"


async def test_the_connection_limit_ends_an_old_connection(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(responses_connection_limit="0.5")
    async with http.ws_connect(ws_url(base, "/v1/responses")) as ws:
        frames = await raw_turn(ws, {"type": "response.create", "input": "early"})
        assert frames[-1]["type"] == "response.completed"
        error = json.loads((await ws.receive(timeout=10)).data)
        assert error["error"]["code"] == "websocket_connection_limit_reached"
        assert (await ws.receive(timeout=10)).type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1000


async def test_keys_and_origins_apply_here_too(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    from websockets.exceptions import InvalidStatus

    base = await start_server(api_keys="sk-good", allowed_origins="https://app.example")
    with pytest.raises(InvalidStatus) as caught:
        async with client(base, key="sk-bad").responses.connect():
            pass
    assert caught.value.response.status_code == 401
    async with client(base, key="sk-good").responses.connect() as conn:
        assert (await turn(conn, model="m", input="ok"))[-1].type == "response.completed"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(ws_url(base, "/v1/responses"), headers={
            "Authorization": "Bearer sk-good", "Origin": "https://evil.example"})  # fmt: skip
    assert refused.value.status == 403


async def test_metrics_count_the_responses_path(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server()
    async with client(base).responses.connect() as conn:
        await turn(conn, model="m", input="count me")
    async with http.get(f"{base}/metrics") as response:
        text = await response.text()
    assert 'wsllm_requests_total{path="/v1/responses",outcome="ok"} 1' in text


async def test_responses_are_rate_limited_per_client_with_an_error_event(
    start_server: ServerFactory,
) -> None:
    base = await start_server(rate_limit="2", sim_tokens="5")
    async with client(base).responses.connect() as conn:
        for text in ("one", "two"):
            events = await turn(conn, model="m", input=text)
            assert events[-1].type == "response.completed"
        refused = await turn(conn, model="m", input="three")
        assert [e.type for e in refused] == ["error"]  # refused before it began
        assert refused[0].error.code == "rate_limit_exceeded"
        assert refused[0].status == 429
        assert "try again in" in refused[0].error.message
        # A warm-up asks no model and is not counted.
        warm = await turn(conn, model="m", input="four", generate=False)
        assert warm[-1].type == "response.completed"
