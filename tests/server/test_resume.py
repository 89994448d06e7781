"""Streams that outlive their connection, on one node (in memory): numbered frames, resume from
any place, the grace period, the time they are kept, cancel from anywhere."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ServerFactory, make_settings, receive, running_server, until_end, ws_url
from tests.fakes.openai_upstream import FakeOpenAI
from wsllm.backends.simulated import simulated_tokens
from wsllm.server.app import CONTEXT, create_app

Frame = dict[str, Any]


async def open_ws(http: aiohttp.ClientSession, base: str, **kw: Any) -> Any:
    ws = await http.ws_connect(ws_url(base, "/ws-stream"), **kw)
    assert (await receive(ws))["type"] == "ready"
    return ws


async def first_frames(ws: Any, count: int) -> list[Frame]:
    return [await receive(ws) for _ in range(count)]


async def test_every_frame_of_a_request_is_numbered_and_the_first_names_its_stream(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(sim_tokens="5")
    ws = await open_ws(http, base)
    await ws.send_json({"input": "count me", "id": "r"})
    frames = await until_end(ws, raw=True)
    assert [f["seq"] for f in frames] == [1, 2, 3, 4, 5, 6, 7]  # 5 deltas, message, done
    assert frames[0]["stream"].startswith("st_")
    assert all("stream" not in f for f in frames[1:])
    assert {f["id"] for f in frames} == {"r"}
    await ws.close()


async def resume(http: aiohttp.ClientSession, base: str, stream: str, after: int,
                 **kw: Any) -> list[Frame]:  # fmt: skip
    ws = await open_ws(http, base, **kw)
    await ws.send_json({"type": "resume", "stream": stream, "after": after})
    frames = await until_end(ws, raw=True)
    await ws.close()
    return frames


async def test_a_dropped_client_resumes_live_with_no_gap_and_no_duplicate(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(sim_itl_ms="10", sim_tokens="40")
    ws = await open_ws(http, base)
    await ws.send_json({"input": "a long answer"})
    head = await first_frames(ws, 5)
    await ws.close()  # the phone loses its signal
    tail = await resume(http, base, head[0]["stream"], 5)
    assert [f["seq"] for f in tail] == list(range(6, 43))
    deltas = [f["message"] for f in [*head, *tail] if f["type"] == "delta"]
    assert deltas == simulated_tokens("a long answer", 40)
    assert tail[-1]["type"] == "done"


async def test_a_finished_stream_is_replayed_while_it_is_kept(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(sim_tokens="6", resume_ttl="0.8")
    ws = await open_ws(http, base)
    await ws.send_json({"input": "short"})
    whole = await until_end(ws, raw=True)
    await ws.close()
    again = await resume(http, base, whole[0]["stream"], 0)
    assert again == whole  # every frame, the same bytes' worth
    assert await resume(http, base, whole[0]["stream"], 7) == whole[7:]
    await asyncio.sleep(1.2)
    [expired] = await resume(http, base, whole[0]["stream"], 0)
    assert expired["code"] == "stream_not_found"


async def test_an_unknown_stream_or_someone_elses_is_not_found(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(api_keys="key-one,key-two", sim_tokens="4")
    one = {"headers": {"Authorization": "Bearer key-one"}}
    ws = await open_ws(http, base, **one)
    await ws.send_json({"input": "private"})
    stream = (await until_end(ws, raw=True))[0]["stream"]
    await ws.close()
    [error] = await resume(http, base, "st_nothing_here", 0, **one)
    assert error["code"] == "stream_not_found"
    [error] = await resume(http, base, stream, 0, headers={"Authorization": "Bearer key-two"})
    assert error["code"] == "stream_not_found"  # bound to the key that made it
    assert len(await resume(http, base, stream, 0, **one)) == 6


async def test_without_a_resume_the_generation_stops_after_the_grace_period(
    start_server: ServerFactory, fake_openai: FakeOpenAI, http: aiohttp.ClientSession
) -> None:
    base = await start_server(backend="openai", openai_base_url=fake_openai.base_url,
                              openai_api_key="k", resume_grace="0.6")  # fmt: skip
    fake_openai.tokens, fake_openai.delay = 400, 0.01
    ws = await open_ws(http, base)
    await ws.send_json({"input": "nobody will come back"})
    await first_frames(ws, 2)
    await ws.close()
    await asyncio.sleep(0.3)
    assert fake_openai.open_streams == 1  # it goes on, in case the client comes back
    for _ in range(100):
        if fake_openai.open_streams == 0:
            break
        await asyncio.sleep(0.05)
    assert fake_openai.open_streams == 0  # then the upstream call is closed


async def test_a_cancel_naming_the_stream_stops_it_from_another_connection(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(sim_itl_ms="20", sim_tokens="200")
    ws = await open_ws(http, base)
    await ws.send_json({"input": "stop me elsewhere"})
    stream = (await receive(ws))["stream"]
    other = await open_ws(http, base)
    await other.send_json({"type": "cancel", "stream": stream})
    frames = await until_end(ws)
    assert frames[-1]["code"] == "cancelled"
    await other.send_json({"type": "cancel", "stream": "st_unknown", "id": 3})
    error = await receive(other)
    assert (error["code"], error["id"]) == ("stream_not_found", 3)
    await ws.close()
    await other.close()


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(min_value=1, max_value=25))
async def test_wherever_the_connection_is_cut_the_resumed_transcript_is_whole(
    start_server: ServerFactory, http: aiohttp.ClientSession, cut: int
) -> None:
    base = await start_server(sim_itl_ms="2", sim_tokens="24")
    ws = await open_ws(http, base)
    await ws.send_json({"input": "the same question"})
    head = await first_frames(ws, cut)
    await ws.close()
    tail = await resume(http, base, head[0]["stream"], cut)
    whole = [*head, *tail]
    assert [f["seq"] for f in whole] == list(range(1, 27))
    assert [f["message"] for f in whole if f["type"] == "delta"] == simulated_tokens(
        "the same question", 24
    )


async def test_a_stream_its_node_lost_ends_with_stream_lost_not_a_cancel(
    http: aiohttp.ClientSession,
) -> None:
    # What a node does when Redis says another node took its stream over (its lease lapsed).
    app = create_app(make_settings(sim_itl_ms="20", sim_tokens="200"))
    async with running_server(app) as base:
        ws = await open_ws(http, base)
        await ws.send_json({"input": "long", "id": "r"})
        stream_id = (await receive(ws))["stream"]
        found = app[CONTEXT].hub.find(stream_id, "anonymous")
        assert found is not None
        found.stop("lost")
        frames = await until_end(ws, raw=True)
        assert (frames[-1]["type"], frames[-1]["code"], frames[-1]["id"]) == (
            "error", "stream_lost", "r"
        )  # fmt: skip
        await ws.close()


async def test_a_stream_resumed_while_its_first_client_still_reads_reaches_both_as_it_is_made(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    base = await start_server(sim_itl_ms="150", sim_tokens="12")
    first = await open_ws(http, base)
    await first.send_json({"input": "for two"})
    head = await first_frames(first, 2)
    second = await open_ws(http, base)
    await second.send_json({"type": "resume", "stream": head[0]["stream"], "after": 2})
    rest_of_first = asyncio.create_task(until_end(first, raw=True))
    next_frame = await receive(second)
    # The next delta reaches the second client as it is made, not with the end of the stream.
    assert next_frame["seq"] == 3
    assert not rest_of_first.done()
    tail = [next_frame, *await until_end(second, raw=True)]
    assert tail == (await rest_of_first)
    await first.close()
    await second.close()
