"""The server-sent-events parser, fed the way a network delivers bytes."""

from __future__ import annotations

import pytest

from wsllm.sse import SSEEvent, SSEParser

STREAM = (
    b'event: response.created\ndata: {"a": 1}\n\n'
    b": a comment line\n"
    b"data: first line\ndata: second line\n\n"
    b"event: done\ndata:no-space\n\n"
)
EXPECTED = [
    SSEEvent("response.created", '{"a": 1}'),
    SSEEvent("message", "first line\nsecond line"),
    SSEEvent("done", "no-space"),
]


def test_whole_stream_parses() -> None:
    assert SSEParser().feed(STREAM) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16])
def test_events_survive_any_chunking(size: int) -> None:
    parser = SSEParser()
    events = []
    for start in range(0, len(STREAM), size):
        events += parser.feed(STREAM[start : start + size])
    assert events == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 5, 1000])
def test_crlf_and_cr_line_endings(size: int) -> None:
    raw = STREAM.replace(b"\n", b"\r\n")
    parser = SSEParser()
    events = []
    for start in range(0, len(raw), size):
        events += parser.feed(raw[start : start + size])
    assert events == EXPECTED
    assert SSEParser().feed(STREAM.replace(b"\n", b"\r") + b"\n") == EXPECTED


def test_an_unfinished_event_is_held_back() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: partial") == []
    assert parser.feed(b"\n") == []
    assert parser.feed(b"\n") == [SSEEvent("message", "partial")]


def test_utf8_split_across_chunks() -> None:
    raw = "data: héllo 😀\n\n".encode()
    parser = SSEParser()
    events = [e for i in range(len(raw)) for e in parser.feed(raw[i : i + 1])]
    assert events == [SSEEvent("message", "héllo 😀")]


def test_an_event_with_no_data_is_not_dispatched() -> None:
    assert SSEParser().feed(b"event: ping\n\nid: 4\n\n") == []
