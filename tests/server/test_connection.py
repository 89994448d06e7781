"""The connection core without sockets: frames and times in, actions out."""

from __future__ import annotations

import orjson
import pytest

from wsllm.backends import Completion
from wsllm.codes import ErrorCode
from wsllm.server.connection import (
    Action,
    Admit,
    CancelStream,
    Close,
    Connection,
    Handoff,
    Mode,
    Policy,
    Resume,
    Run,
    Send,
    Start,
    State,
    Stop,
    StopReason,
)


def state(core: Connection) -> State:
    return core.state  # read through a call, so a type checker does not pin it between steps


def frames(actions: list[Action]) -> list[dict[str, object]]:
    return [orjson.loads(a.frame) for a in actions if isinstance(a, Send)]


def request(core: Connection, payload: dict[str, object], now: float = 1.0) -> list[Action]:
    """Send a request frame and let the rate limiter wave it through."""
    actions = core.on_text(orjson.dumps(payload), now)
    [admit] = actions
    assert isinstance(admit, Admit)
    return core.on_admitted(admit.request, None)


def started(actions: list[Action]) -> Start[Run]:
    [start] = [a for a in actions if isinstance(a, Start)]
    return start


def open_connection(**policy: object) -> Connection:
    core = Connection(Policy(Mode.STREAM, **policy), "anonymous", 0.0)  # type: ignore[arg-type]
    assert frames(core.opened()) == [{"type": "ready", "message": "Connected to /ws-stream"}]
    return core


def test_a_request_starts_and_its_end_frees_the_connection() -> None:
    core = open_connection(model="m1", instructions="be brief")
    start = started(request(core, {"input": "hello", "id": "r1"}))
    assert state(core) is State.RUNNING
    sent = start.run.backend_request
    assert sent is not None
    assert (sent.input, sent.model, sent.instructions) == ("hello", "m1", "be brief")
    # The done frame is the stream's (its producer makes it); the core only moves on.
    assert core.on_finished(start.run, "hi!", Completion({"output_tokens": 2}, "resp_1"), 2.0) == []
    assert state(core) is State.IDLE


def test_a_second_request_is_busy_or_queued_by_policy() -> None:
    core = open_connection()
    first = started(request(core, {"input": "one"}))
    assert frames(request(core, {"input": "two", "id": 2}))[0]["code"] == "busy"
    queued = open_connection(queue=True)
    run = started(request(queued, {"input": "one"})).run
    assert request(queued, {"input": "two", "id": 2}) == []
    after = queued.on_finished(run, "x", Completion(), 2.0)
    assert started(after).run.request.id == 2
    assert core.on_finished(first.run, "x", Completion(), 2.0) == []


def test_cancel_stops_the_matching_run_and_it_ends_as_cancelled() -> None:
    core = open_connection()
    run = started(request(core, {"input": "long", "id": "a"})).run
    assert core.on_text('{"type": "cancel", "id": "other"}', 1.5) == []
    [stop] = core.on_text('{"type": "cancel", "id": "a"}', 1.5)
    assert stop == Stop(run)
    assert run.stop is StopReason.CANCELLED
    assert core.on_failed(run, 2.0) == []  # the stream said why; the connection is free again
    assert state(core) is State.IDLE


def test_a_cancel_naming_another_stream_goes_to_wherever_it_runs() -> None:
    core = open_connection()
    run = started(request(core, {"input": "mine"})).run
    core.streaming(run, "st_mine")
    assert core.on_text('{"type": "cancel", "stream": "st_elsewhere", "id": 4}', 1.5) == [
        CancelStream("st_elsewhere", 4)
    ]
    assert core.on_text('{"type": "cancel", "stream": "st_mine"}', 1.5) == [Stop(run)]


def test_a_resume_follows_a_stream_like_a_request() -> None:
    core = open_connection()
    [start] = core.on_text('{"type": "resume", "stream": "st_x", "after": 7, "id": 1}', 1.0)
    assert isinstance(start, Start)
    assert start.run.resume == Resume("st_x", 7)
    assert start.run.backend_request is None
    refused = core.on_refused(start.run, ErrorCode.STREAM_NOT_FOUND, "No such stream", 2.0)
    assert frames(refused)[0]["code"] == "stream_not_found"
    assert state(core) is State.IDLE


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ('{"type": "resume"}', 'resume needs "stream"'),
        ('{"type": "resume", "stream": "st_x", "after": -1}', '"after" must be a whole number'),
        ('{"type": "resume", "stream": 5}', '"stream" must be a stream id string'),
    ],
)
def test_a_malformed_resume_is_refused(frame: str, says: str) -> None:
    [error] = frames(open_connection().on_text(frame, 1.0))
    assert error["code"] == "invalid_request"
    assert says in str(error["message"])


def test_with_another_node_a_drain_hands_clients_over_instead_of_failing_them() -> None:
    idle = open_connection(handoff=True)
    assert frames(idle.on_drain()) == [{"type": "reconnect", "after": 0}]
    core = open_connection(handoff=True, queue=True)
    run = started(request(core, {"input": "long"})).run
    request(core, {"input": "later", "id": "q"})
    assert frames(core.on_drain()) == [{"type": "reconnect", "after": 0, "id": "q"}]
    assert frames(core.on_text('{"input": "new", "id": 9}', 2.0)) == [
        {"type": "reconnect", "after": 0, "id": 9}
    ]
    assert core.on_drain_timeout() == [Handoff(run)]  # the stream goes on; the client moves


def test_bad_frames_get_error_frames_and_the_connection_lives_on() -> None:
    core = open_connection()
    assert frames(core.on_text("not json", 1.0))[0]["code"] == ErrorCode.INVALID_JSON.value
    assert frames(core.on_binary(1.0))[0]["code"] == ErrorCode.BINARY_FRAME.value
    assert frames(core.on_text('{"type": "ping", "id": 3}', 1.0)) == [{"type": "pong", "id": 3}]
    assert state(core) is State.IDLE


def test_authentication_comes_first_and_a_wrong_key_closes() -> None:
    core = Connection(Policy(Mode.STREAM, keys=frozenset({"secret-key"})), None, 0.0)
    assert state(core) is State.AUTHENTICATING
    assert core.opened() == []
    actions = core.on_text('{"type": "auth", "token": "wrong"}', 1.0)
    assert frames(actions)[0]["code"] == "unauthorized"
    assert isinstance(actions[-1], Close)
    assert actions[-1].code == 1008
    assert state(core) is State.CLOSED
    good = Connection(Policy(Mode.STREAM, keys=frozenset({"secret-key"})), None, 0.0)
    assert (
        frames(good.on_text('{"type": "auth", "token": "secret-key"}', 1.0))[0]["type"] == "ready"
    )
    assert good.identity is not None
    assert good.identity.startswith("key:")
    assert "secret" not in good.identity  # the key itself never shows


def test_no_auth_in_time_closes() -> None:
    core = Connection(Policy(Mode.STREAM, keys=frozenset({"k"})), None, 0.0)
    assert frames(core.on_auth_timeout())[0]["message"] == "No auth message arrived in time"


def test_idle_timeout_counts_from_the_last_activity_not_the_last_pong() -> None:
    core = open_connection(idle_timeout=10.0)
    assert core.on_tick(9.0) == []
    run = started(request(core, {"input": "x"}, now=9.0)).run
    assert core.on_tick(30.0) == []  # running: never idle
    core.on_finished(run, "y", Completion(), 31.0)
    assert core.next_deadline() == 41.0
    assert core.on_tick(40.9) == []
    assert core.on_tick(41.0) == [Close(1000, "idle timeout")]
    assert state(core) is State.CLOSED


def test_drain_refuses_new_work_then_closes_when_the_run_ends() -> None:
    core = open_connection(queue=True)
    run = started(request(core, {"input": "one"})).run
    request(core, {"input": "two", "id": "q"})
    dropped = core.on_drain()
    assert frames(dropped) == [
        {
            "type": "error",
            "code": "shutting_down",
            "message": "The server is shutting down",
            "id": "q",
        }
    ]
    assert frames(core.on_text('{"input": "three"}', 2.0))[0]["code"] == "shutting_down"
    assert core.on_drain_timeout() == [Stop(run)]
    assert run.stop is StopReason.SHUTDOWN
    assert core.on_failed(run, 3.0) == [Close(1001, "server shutting down")]


def test_an_idle_connection_closes_at_once_on_drain() -> None:
    core = open_connection()
    assert core.on_drain() == [Close(1001, "server shutting down")]


def test_the_conversation_is_remembered_within_its_byte_cap() -> None:
    core = open_connection(memory_bytes=100)
    for n in range(5):
        run = started(request(core, {"input": f"question {n}", "continue": True})).run
        core.on_finished(run, "answer " + "x" * 20, Completion(None, f"resp_{n}"), 2.0)
    turns = core.conversation.turns
    assert [t.user for t in turns] == ["question 3", "question 4"]  # the oldest went first
    assert sum(len(t.user) + len(t.assistant) for t in turns) <= 100
    last = started(request(core, {"input": "next", "continue": True})).run
    assert last.backend_request is not None
    assert last.backend_request.previous_response_id == "resp_4"
    core.on_finished(last, "ok", Completion(), 3.0)
    fresh = started(request(core, {"input": "alone"})).run
    assert fresh.backend_request is not None
    assert fresh.backend_request.history == ()


def test_a_disconnect_stops_the_run_and_nothing_more_is_said() -> None:
    core = open_connection()
    run = started(request(core, {"input": "x"})).run
    assert core.on_disconnect() == [Stop(run)]
    assert run.stop is StopReason.DISCONNECTED  # its stream goes on for the grace period
    assert core.on_failed(run, 2.0) == []
    assert state(core) is State.CLOSED


def test_transitions_are_checked() -> None:
    core = open_connection()
    core.on_disconnect()
    with pytest.raises(RuntimeError, match="cannot go from closed to idle"):
        core._move(State.IDLE)
