"""The seed protocol's parsing and framing, without sockets."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsllm import protocol
from wsllm.codes import ErrorCode
from wsllm.errors import ProtocolError


def test_a_plain_request_parses() -> None:
    assert protocol.parse_message('{"input": "Hello there!"}', 1000) == protocol.Request(
        "Hello there!"
    )


def test_a_request_id_is_kept() -> None:
    assert protocol.parse_message('{"input": "x", "id": "r1"}', 1000).id == "r1"
    assert protocol.parse_message(b'{"input": "x", "id": 7}', 1000).id == 7


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", ErrorCode.INVALID_JSON),
        ('{"input": "x", "id": 123456789012345678901234567890}', ErrorCode.INVALID_REQUEST),
        ("", ErrorCode.INVALID_JSON),
        ("[1, 2]", ErrorCode.INVALID_REQUEST),
        ('"just a string"', ErrorCode.INVALID_REQUEST),
        ("{}", ErrorCode.MISSING_INPUT),
        ('{"input": ""}', ErrorCode.MISSING_INPUT),
        ('{"input": "   "}', ErrorCode.MISSING_INPUT),
        ('{"input": 42}', ErrorCode.MISSING_INPUT),
        ('{"input": null}', ErrorCode.MISSING_INPUT),
        ('{"input": "x", "id": [1]}', ErrorCode.INVALID_REQUEST),
        ('{"input": "x", "id": true}', ErrorCode.INVALID_REQUEST),
        ('{"input": "x", "type": "launch"}', ErrorCode.UNKNOWN_TYPE),
        ('{"input": "x", "type": ["ping"]}', ErrorCode.UNKNOWN_TYPE),
        ('{"input": "x", "type": {"a": 1}}', ErrorCode.UNKNOWN_TYPE),
        ('{"input": "x", "continue": "yes"}', ErrorCode.INVALID_REQUEST),
    ],
)
def test_bad_frames_are_rejected_with_a_stable_code(raw: str, code: ErrorCode) -> None:
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_message(raw, 1000)
    assert caught.value.code is code
    assert caught.value.message


def test_a_frame_over_the_limit_is_rejected_before_parsing() -> None:
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_message('{"input": "' + "x" * 100 + '"}', 50)
    assert caught.value.code is ErrorCode.FRAME_TOO_LARGE
    assert "50" in caught.value.message


def test_frames_carry_the_fields_both_documented_clients_read() -> None:
    assert orjson.loads(protocol.ready_frame("/ws")) == {
        "type": "ready",
        "message": "Connected to /ws",
    }
    assert orjson.loads(protocol.delta_frame("Hi")) == {
        "type": "delta",
        "message": "Hi",
        "output": "Hi",
    }
    assert orjson.loads(protocol.message_frame("Hi all")) == {
        "type": "message",
        "message": "Hi all",
    }
    assert orjson.loads(protocol.response_frame("Hi all")) == {
        "type": "response",
        "message": "Hi all",
    }
    assert orjson.loads(protocol.done_frame()) == {"type": "done"}


def test_frames_echo_the_request_id() -> None:
    assert orjson.loads(protocol.done_frame("a"))["id"] == "a"
    assert orjson.loads(protocol.delta_frame("x", 3))["id"] == 3
    error = orjson.loads(protocol.error_frame(ErrorCode.MISSING_INPUT, "no input", "a"))
    assert error == {"type": "error", "code": "missing_input", "message": "no input", "id": "a"}


def test_text_round_trips_through_frames_unchanged() -> None:
    text = 'quotes " and \\ backslashes, emoji \U0001f600, newline\n, nul \x00'
    assert orjson.loads(protocol.delta_frame(text))["message"] == text


@given(
    texts=st.lists(st.text(), min_size=1, max_size=4),
    request_id=st.none() | st.text() | st.integers(min_value=-(2**63), max_value=2**63 - 1),
)
def test_a_requests_frames_are_numbered_json_whatever_the_text_and_id(
    texts: list[str], request_id: str | int | None
) -> None:
    frames = protocol.RequestFrames(request_id, "st_x")
    made = [frames.delta(text) for text in texts] + [frames.done(None)]
    expected = [
        {"type": "delta", "message": text, "output": text, "seq": seq}
        for seq, text in enumerate(texts, start=1)
    ] + [{"type": "done", "seq": len(texts) + 1}]
    expected[0]["stream"] = "st_x"
    if request_id is not None:
        for fields in expected:
            fields["id"] = request_id
    # The same bytes as the fields written by orjson, in this order: clients that compare
    # frames byte for byte (a resumed stream against the first) see no difference.
    assert made == [orjson.dumps(fields) for fields in expected]
