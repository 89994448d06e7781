"""The server's production features over real sockets: ids, cancel, multi-turn, busy, pings,
limits, slow consumers, auth, metrics."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
import orjson
import pytest

from tests.conftest import (
    ServerFactory,
    ask,
    make_settings,
    receive,
    running_server,
    until_end,
    ws_url,
)
from tests.fakes.openai_upstream import FakeOpenAI
from tests.raw_ws import raw_connect, read_frame, send_text
from wsllm.backends.simulated import simulated_tokens
from wsllm.server.app import CONTEXT, create_app


async def wait_for(condition: object, within: float = 5.0) -> bool:
    for _ in range(int(within / 0.02)):
        if condition():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.02)
    return bool(condition())  # type: ignore[operator]


async def test_cancel_stops_the_request_and_its_upstream_call(
    start_server: ServerFactory, fake_openai: FakeOpenAI, http: aiohttp.ClientSession
) -> None:
    fake_openai.tokens, fake_openai.delay = 400, 0.01
    base = await start_server(
        backend="openai", openai_base_url=fake_openai.base_url, openai_api_key="k"
    )
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        await ws.send_json({"input": "a long answer", "id": "r1"})
        assert (await receive(ws))["type"] == "delta"
        assert fake_openai.open_streams == 1
        await ws.send_json({"type": "cancel", "id": "r1"})
        frames = await until_end(ws)
        assert frames[-1] == {
            "type": "error",
            "code": "cancelled",
            "message": "Request cancelled",
            "id": "r1",
        }
        assert await wait_for(lambda: fake_openai.open_streams == 0)
        assert (await ask(ws, {"input": "next one", "id": "r2"}))[-1]["id"] == "r2"


async def test_cancel_with_nothing_running_is_harmless(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server()
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        await ws.send_json({"type": "cancel"})
        assert (await ask(ws, {"input": "still fine"}))[-1]["type"] == "done"


async def test_application_ping_gets_pong(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server()
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        await ws.send_json({"type": "ping", "id": 9})
        assert await receive(ws) == {"type": "pong", "id": 9}


async def test_a_second_request_while_one_runs_is_busy(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(sim_itl_ms="5", sim_tokens="20")
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        await ws.send_json({"input": "first", "id": 1})
        await ws.send_json({"input": "second", "id": 2})
        frames = await until_end(ws)
        while frames[-1].get("id") != 1:
            frames += await until_end(ws)
        busy = [f for f in frames if f.get("id") == 2]
        assert busy == [
            {
                "type": "error",
                "code": "busy",
                "message": "A request is already running on this connection",
                "id": 2,
            }
        ]
        assert frames[-1]["type"] == "done"


async def test_multi_turn_with_the_simulated_model(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server()
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        await ask(ws, {"input": "hello"})
        second = await ask(ws, {"input": "and then?", "continue": True})
        assert '"and then?" (turn 2):' in second[-2]["message"]
        fresh = await ask(ws, {"input": "new topic"})
        assert "(turn" not in fresh[-2]["message"]
        await ask(ws, {"input": "more", "continue": True})
        await ws.send_json({"type": "reset"})
        after_reset = await ask(ws, {"input": "again", "continue": True})
        assert "(turn" not in after_reset[-2]["message"]


async def test_continue_can_be_the_default(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(conversation="continue")
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        await ask(ws, {"input": "one"})
        assert "(turn 2)" in (await ask(ws, {"input": "two"}))[-2]["message"]
        assert "(turn" not in (await ask(ws, {"input": "three", "continue": False}))[-2]["message"]


async def test_multi_turn_upstream_uses_previous_response_id(
    start_server: ServerFactory, fake_openai: FakeOpenAI, http: aiohttp.ClientSession
) -> None:
    base = await start_server(backend="openai", openai_base_url=fake_openai.base_url, openai_api_key="k",
                              instructions="Be brief.")  # fmt: skip
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        await ask(ws, {"input": "first"})
        await ask(ws, {"input": "second", "continue": True})
    first, second = (r.body for r in fake_openai.requests)
    assert "previous_response_id" not in first
    assert second["previous_response_id"] == "resp_1"
    assert first["instructions"] == second["instructions"] == "Be brief."


async def test_multi_turn_chat_sends_the_history(
    start_server: ServerFactory, fake_openai: FakeOpenAI, http: aiohttp.ClientSession
) -> None:
    base = await start_server(backend="openai-chat", openai_base_url=fake_openai.base_url, openai_api_key="k",
                              instructions="Be brief.")  # fmt: skip
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        answer = (await ask(ws, {"input": "first"}))[-2]["message"]
        await ask(ws, {"input": "second", "continue": True})
    assert fake_openai.requests[-1].body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": answer},
        {"role": "user", "content": "second"},
    ]


async def test_protocol_pings_close_a_client_that_never_answers(
    start_server: ServerFactory,
) -> None:
    base = await start_server(ping_interval="0.3")
    reader, writer = await raw_connect(base, "/ws-stream")
    opcodes = []
    try:
        async with asyncio.timeout(5):
            while True:
                opcode, _ = await read_frame(reader)
                opcodes.append(opcode)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()
    assert 0x9 in opcodes  # the server pinged, heard nothing, and hung up


async def test_an_idle_connection_is_closed(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(idle_timeout="0.3")
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        message = await ws.receive(timeout=5)
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert (ws.close_code, message.extra) == (1000, "idle timeout")


async def test_the_idle_timeout_fires_while_pings_and_pongs_go_on(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(idle_timeout="0.6", ping_interval="0.1")
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:  # aiohttp answers every ping
        await receive(ws)
        message = await ws.receive(timeout=5)
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert (ws.close_code, message.extra) == (1000, "idle timeout")


async def test_the_idle_timeout_counts_again_after_a_request(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(idle_timeout="0.5", ping_interval="0")
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        assert (await ask(ws, {"input": "one"}))[-1]["type"] == "done"
        message = await ws.receive(timeout=5)
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert message.extra == "idle timeout"


async def test_connection_limits_refuse_at_the_handshake(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(max_connections_per_client="2")
    first = await http.ws_connect(ws_url(base, "/ws"))
    second = await http.ws_connect(ws_url(base, "/ws"))
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await http.ws_connect(ws_url(base, "/ws"))
    assert caught.value.status == 429
    await first.close()
    await asyncio.sleep(0.1)
    third = await http.ws_connect(ws_url(base, "/ws"))
    await second.close()
    await third.close()
    total = await start_server(max_connections="1")
    only = await http.ws_connect(ws_url(total, "/ws"))
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await http.ws_connect(ws_url(total, "/ws"))
    assert caught.value.status == 503
    await only.close()


async def test_requests_per_minute_are_limited(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(rate_limit="2")
    async with http.ws_connect(ws_url(base, "/ws")) as ws:
        await receive(ws)
        assert (await ask(ws, {"input": "1"}))[-1]["type"] == "done"
        assert (await ask(ws, {"input": "2"}))[-1]["type"] == "done"
        limited = (await ask(ws, {"input": "3", "id": "x"}))[-1]
        assert (limited["code"], limited["id"]) == ("rate_limited", "x")
        assert "retry in" in limited["message"]


async def test_with_auth_off_each_client_address_has_its_own_allowance(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    # Behind a trusted proxy the client is the address it forwards: two people, two allowances.
    base = await start_server(rate_limit="1", trusted_proxies="127.0.0.1")
    first = {"X-Forwarded-For": "203.0.113.1"}
    second = {"X-Forwarded-For": "203.0.113.2"}
    async with http.ws_connect(ws_url(base, "/ws"), headers=first) as ws:
        await receive(ws)
        assert (await ask(ws, {"input": "1"}))[-1]["type"] == "done"
        assert (await ask(ws, {"input": "2"}))[-1]["code"] == "rate_limited"
    async with http.ws_connect(ws_url(base, "/ws"), headers=second) as ws:
        await receive(ws)
        assert (await ask(ws, {"input": "1"}))[-1]["type"] == "done"


async def test_a_slow_consumer_is_cut_off_and_others_are_served(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    # 300,000 tokens 10 us apart: the reply outlasts the time it takes to fill the buffers
    # and give up on the client (at full speed it could end first, and end well).
    base = await start_server(sim_tokens="300000", sim_itl_ms="0.01", send_buffer_bytes="65536",
                              slow_consumer_timeout="0.5")  # fmt: skip
    _, writer = await raw_connect(base, "/ws-stream")
    send_text(writer, '{"input": "flood me"}')  # and never read again
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        await ws.send_json({"type": "ping"})
        assert (await receive(ws))["type"] == "pong"

    async def slow_consumer_seen() -> bool:
        async with http.get(f"{base}/metrics") as response:
            return 'path="/ws-stream",outcome="slow_consumer"} 1' in await response.text()

    for _ in range(100):
        if await slow_consumer_seen():
            break
        await asyncio.sleep(0.05)
    assert await slow_consumer_seen()
    writer.close()


async def test_metrics_count_requests_latency_and_tokens(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server()
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        await ask(ws, {"input": "count me"})
        await ask(ws, "not json")
        async with http.get(f"{base}/metrics") as response:
            text = await response.text()
            assert response.headers["Content-Type"].startswith("text/plain")
    assert "wsllm_connections_open 1" in text
    assert 'wsllm_requests_total{path="/ws-stream",outcome="ok"} 1' in text
    assert "wsllm_time_to_first_token_seconds_count 1" in text
    assert "wsllm_deltas_total 8" in text
    assert 'wsllm_tokens_total{kind="output"} 8' in text


class TestAuth:
    """API keys by header, subprotocol or first message; origins; nothing reaches the upstream."""

    @pytest.fixture
    async def guarded(self, start_server: ServerFactory, fake_openai: FakeOpenAI) -> str:
        return await start_server(backend="openai", openai_base_url=fake_openai.base_url,
                                  openai_api_key="upstream", api_keys="key-1,key-2",
                                  allowed_origins="http://good.test")  # fmt: skip

    async def test_a_bearer_header(self, guarded: str, http: aiohttp.ClientSession) -> None:
        async with http.ws_connect(
            ws_url(guarded, "/ws-stream"), headers={"Authorization": "Bearer key-2"}
        ) as ws:
            assert (await receive(ws))["type"] == "ready"
            assert (await ask(ws, {"input": "hi"}))[-1]["type"] == "done"

    async def test_a_wrong_key_is_401_and_reaches_nothing(
        self, guarded: str, http: aiohttp.ClientSession, fake_openai: FakeOpenAI
    ) -> None:
        for headers, protocols in (
            ({"Authorization": "Bearer nope"}, ()),
            ({}, ("wsllm", "bearer.nope")),
        ):
            with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                await http.ws_connect(
                    ws_url(guarded, "/ws-stream"), headers=headers, protocols=protocols
                )
            assert caught.value.status == 401
        assert fake_openai.requests == []

    async def test_a_subprotocol_key(self, guarded: str, http: aiohttp.ClientSession) -> None:
        async with http.ws_connect(
            ws_url(guarded, "/ws-stream"), protocols=("wsllm", "bearer.key-1")
        ) as ws:
            assert ws.protocol == "wsllm"
            assert (await receive(ws))["type"] == "ready"

    async def test_a_first_message_key(self, guarded: str, http: aiohttp.ClientSession) -> None:
        async with http.ws_connect(ws_url(guarded, "/ws-stream")) as ws:
            await ws.send_json({"type": "auth", "token": "key-1"})
            assert (await receive(ws))["type"] == "ready"
            assert (await ask(ws, {"input": "hi"}))[-1]["type"] == "done"

    @pytest.mark.parametrize(
        "first", ['{"input": "no key"}', '{"type": "auth", "token": "wrong"}', "garbage"]
    )
    async def test_no_key_in_the_first_message_closes_with_an_error(
        self, guarded: str, http: aiohttp.ClientSession, fake_openai: FakeOpenAI, first: str
    ) -> None:
        async with http.ws_connect(ws_url(guarded, "/ws-stream")) as ws:
            await ws.send_str(first)
            error = await receive(ws)
            assert (error["type"], error["code"]) == ("error", "unauthorized")
            closing = await ws.receive(timeout=5)
            assert closing.type is aiohttp.WSMsgType.CLOSE
            assert ws.close_code == 1008
        assert fake_openai.requests == []

    async def test_origins_outside_the_allow_list_are_refused(
        self, guarded: str, http: aiohttp.ClientSession
    ) -> None:
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await http.ws_connect(
                ws_url(guarded, "/ws-stream"),
                headers={"Origin": "http://evil.test", "Authorization": "Bearer key-1"},
            )
        assert caught.value.status == 403
        async with http.ws_connect(
            ws_url(guarded, "/ws-stream"),
            headers={"Origin": "http://good.test", "Authorization": "Bearer key-1"},
        ) as ws:
            assert (await receive(ws))["type"] == "ready"


async def test_websocket_connections_send_each_write_at_once(http: aiohttp.ClientSession) -> None:
    # Without TCP_NODELAY a stream's last frame waits for the client's delayed ACK (40 ms).
    app = create_app(make_settings())
    async with running_server(app) as base, http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        [session] = app[CONTEXT].sessions
        sock = session._transport.get_extra_info("socket")  # type: ignore[attr-defined]
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


async def test_a_client_that_stops_reading_for_a_while_gets_the_whole_reply_in_order(
    start_server: ServerFactory,
) -> None:
    # 100,000 deltas at full speed, about 10 MB: more than the socket buffers hold, so the
    # server holds the rest until the client reads again, then streams on as they are made.
    base = await start_server(sim_tokens="100000", sim_itl_ms="0.01", send_buffer_bytes="65536")
    reader, writer = await raw_connect(base, "/ws-stream", receive_buffer=4096)
    assert orjson.loads((await read_frame(reader))[1])["type"] == "ready"
    send_text(writer, '{"input": "hold on"}')
    await asyncio.sleep(0.5)  # reads nothing meanwhile
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1]["type"] not in ("done", "error"):
        frames.append(orjson.loads((await read_frame(reader))[1]))
    assert [f["seq"] for f in frames] == list(range(1, 100003))
    deltas = [f["message"] for f in frames if f["type"] == "delta"]
    assert deltas == simulated_tokens("hold on", 100000)
    assert frames[-1]["type"] == "done"
    writer.close()
