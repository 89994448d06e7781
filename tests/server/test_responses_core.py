"""The Responses-mode core without sockets: lanes, memory, warm-ups, limits and drain."""

from __future__ import annotations

from typing import Any

import orjson

from wsllm.backends import Completion
from wsllm.server.connection import Close, Send, Start, State, Stop
from wsllm.server.responses_core import (
    MAX_ACTIVE,
    ResponseRun,
    ResponsesConnection,
    ResponsesPolicy,
)


def state(core: ResponsesConnection) -> State:
    return core.state


def create(core: ResponsesConnection, now: float = 1.0, **fields: object) -> list[Any]:
    return list(
        core.on_text(orjson.dumps({"type": "response.create", "input": "x", **fields}), now)
    )


def runs(actions: list[Any]) -> list[ResponseRun]:
    return [a.run for a in actions if isinstance(a, Start)]


def events(actions: list[Any]) -> list[dict[str, Any]]:
    return [orjson.loads(a.frame) for a in actions if isinstance(a, Send)]


def test_one_lane_is_first_in_first_out_and_lanes_run_side_by_side() -> None:
    core = ResponsesConnection(ResponsesPolicy(), 0.0)
    [first] = runs(create(core))
    assert runs(create(core)) == []  # the default lane is busy: it waits
    [other] = runs(create(core, stream_id="b"))  # another lane runs at once
    assert state(core) is State.RUNNING
    [second] = runs(core.on_finished(first, "one", Completion(), 2.0))
    assert second.create.lane is None
    core.on_finished(other, "b", Completion(), 2.0)
    core.on_finished(second, "two", Completion(), 3.0)
    assert state(core) is State.IDLE


def test_at_most_max_active_responses_run_at_once() -> None:
    core = ResponsesConnection(ResponsesPolicy(), 0.0)
    started = [run for n in range(MAX_ACTIVE + 4) for run in runs(create(core, stream_id=f"l{n}"))]
    assert len(started) == MAX_ACTIVE
    [next_one] = runs(core.on_finished(started[0], "done", Completion(), 2.0))
    assert next_one.create.lane == f"l{MAX_ACTIVE}"


def test_memory_serves_previous_response_id_and_forgets_the_oldest() -> None:
    core = ResponsesConnection(ResponsesPolicy(), 0.0)
    [run] = runs(create(core, input="hello"))
    core.on_finished(run, "hi there", Completion(None, "upstream_1"), 2.0)
    rid = run.events.response_id
    [chained] = runs(create(core, input="more", previous_response_id=rid))
    assert [t.user for t in chained.backend_request.history] == ["hello"]
    assert chained.backend_request.previous_response_id == "upstream_1"
    core.on_finished(chained, "ok", Completion(), 3.0)
    for _ in range(70):  # push the first response out of the memory
        [filler] = runs(create(core))
        core.on_finished(filler, "f", Completion(), 4.0)
    [error] = events(create(core, previous_response_id=rid))
    assert error["error"]["code"] == "previous_response_not_found"


def test_a_cancel_stops_the_running_response_and_it_ends_cancelled() -> None:
    core = ResponsesConnection(ResponsesPolicy(), 0.0)
    [run] = runs(create(core))
    [stop] = core.on_text(b'{"type": "response.cancel"}', 1.5)
    assert stop == Stop(run)
    [failed] = events(core.on_failed(run, *core.failure_of(run), 2.0))
    assert failed["response"]["status"] == "cancelled"


def test_drain_drops_what_waits_and_closes_when_the_running_end() -> None:
    core = ResponsesConnection(ResponsesPolicy(), 0.0)
    [run] = runs(create(core))
    create(core, stream_id=None)
    dropped = events(core.on_drain())
    assert [e["error"]["code"] for e in dropped] == ["shutting_down"]
    assert events(create(core))[0]["error"]["code"] == "shutting_down"
    ended = core.on_finished(run, "done", Completion(), 2.0)
    assert ended[-1] == Close(1001, "server shutting down")


def test_the_connection_limit_closes_an_idle_connection() -> None:
    core = ResponsesConnection(ResponsesPolicy(connection_limit_s=60.0), 0.0)
    assert core.next_deadline() == 60.0
    assert core.on_tick(59.0) == []
    actions = core.on_tick(60.0)
    assert events(actions)[0]["error"]["code"] == "websocket_connection_limit_reached"
    assert actions[-1] == Close(1000, "connection limit reached")
