"""The codecs of the OpenAI-compatible APIs: what each event or chunk means, and what is refused
as not being the API's format (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from wsllm.codes import ErrorCode
from wsllm.errors import UpstreamError
from wsllm.openai import chat, embeddings, responses


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"type": "response.output_text.delta", "delta": "Hi"}, "Hi"),
        ({"type": "response.output_text.delta", "delta": None}, ""),
        ({"type": "response.created", "response": {"id": "r1"}}, None),
        ({"type": "response.in_progress"}, None),
    ],
)
def test_responses_events(payload: dict[str, Any], expected: object) -> None:
    assert responses.read_event(payload) == expected


def test_the_end_of_a_response_carries_usage_and_id() -> None:
    end = responses.read_event(
        {
            "type": "response.completed",
            "response": {"id": "r1", "usage": {"input_tokens": 3, "x": "y"}},
        }
    )
    assert end == responses.Finished({"input_tokens": 3}, "r1", False)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"type": "response.output_text.delta", "delta": 5}, ErrorCode.UPSTREAM_PROTOCOL),
        ({"type": "error", "message": "boom"}, ErrorCode.UPSTREAM_FAILED),
        (
            {"type": "response.failed", "response": {"error": {"message": "no"}}},
            ErrorCode.UPSTREAM_FAILED,
        ),
    ],
)
def test_responses_events_that_fail(payload: dict[str, Any], code: ErrorCode) -> None:
    with pytest.raises(UpstreamError) as caught:
        responses.read_event(payload)
    assert caught.value.code is code


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"choices": [{"delta": {"content": "Hi"}, "finish_reason": None}]}, ("Hi", False)),
        ({"choices": [{"delta": {"content": None}}]}, ("", False)),
        ({"choices": [{"delta": None}]}, ("", False)),
        ({"choices": [{"delta": {}, "finish_reason": "stop"}]}, ("", True)),
        ({"choices": []}, ("", False)),
        ({"usage": {"prompt_tokens": 1}}, ("", False)),
    ],
)
def test_chat_chunks(payload: dict[str, Any], expected: tuple[str, bool]) -> None:
    assert chat.chunk_delta(payload) == expected


@pytest.mark.parametrize(
    "payload",
    [
        {"choices": 5},
        {"choices": ["text"]},
        {"choices": [{"delta": "text"}]},
        {"choices": [{"delta": {"content": 7}}]},
    ],
)
def test_chat_chunks_of_the_wrong_shape_are_protocol_errors(payload: dict[str, Any]) -> None:
    with pytest.raises(UpstreamError) as caught:
        chat.chunk_delta(payload)
    assert caught.value.code is ErrorCode.UPSTREAM_PROTOCOL


def test_chat_usage_is_named_as_the_responses_api_names_it() -> None:
    usage = chat.usage_of(
        {"usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}
    )
    assert usage == {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12}


def test_embeddings_come_back_in_input_order_and_of_the_right_count() -> None:
    payload = {"data": [{"index": 1, "embedding": [0, 1]}, {"index": 0, "embedding": [1, 0]}]}
    assert embeddings.vectors(payload, 2) == [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(UpstreamError, match="1 embeddings for 2 texts"):
        embeddings.vectors({"data": [{"index": 0, "embedding": [1]}]}, 2)
    with pytest.raises(UpstreamError, match="not a list of numbers"):
        embeddings.vectors({"data": [{"index": 0, "embedding": ["a"]}]}, 1)
