"""The stream recorder and the frame rules, fed frames and clock readings by hand."""

from __future__ import annotations

import pytest

from wsllm.client.frames import Kind, decode
from wsllm.client.recorder import StreamRecorder


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        ('{"type": "ready", "message": "Connected to /ws-stream"}', Kind.CONTROL),
        ('{"type":"done"}', Kind.CONTROL),
        ('{"type":"pong"}', Kind.CONTROL),
        ('{"type": "delta", "message": "Hi"}', Kind.DELTA),
        ('{"type": "response", "message": "Hi"}', Kind.TEXT),
        ('{"type": "message", "message": "Hi"}', Kind.TEXT),
        ('{"type": "response.output_text.delta", "delta": "Hi"}', Kind.DELTA),
        ('{"type": "response.created", "response": {}}', Kind.CONTROL),
        ('{"type": "response.completed", "response": {}}', Kind.CONTROL),
        ('{"type": "chunk", "text": "Hi"}', Kind.DELTA),
        ("plain text", Kind.DELTA),
        ("[1, 2]", Kind.DELTA),
        ("{broken json", Kind.DELTA),
    ],
)
def test_frames_are_told_apart_by_one_rule(data: str, kind: Kind) -> None:
    assert decode(data)[0] is kind


def seed_stream(recorder: StreamRecorder) -> None:
    recorder.opened(10.002)
    recorder.sent(10.003)
    recorder.frame(10.004, '{"type":"ready"}', 16, Kind.CONTROL)
    recorder.frame(10.103, '{"type":"delta","message":"a"}', 30, Kind.DELTA, 1)
    recorder.frame(10.113, '{"type":"delta","message":"b"}', 30, Kind.DELTA, 1)
    recorder.frame(10.413, '{"type":"message","message":"ab"}', 34, Kind.TEXT, 2)


def test_ttft_gaps_and_totals() -> None:
    recorder = StreamRecorder(started=10.0, frame_limit=100)
    seed_stream(recorder)
    recorder.frame(10.414, '{"type":"done"}', 15, Kind.CONTROL)
    metrics = recorder.finish(10.5, cut=False)
    assert round(metrics.connect_ms or 0, 3) == 2.0
    assert round(metrics.first_delta_ms or 0, 3) == 100.0
    assert round(metrics.max_gap_ms or 0, 3) == 300.0  # the silence before the whole text
    assert round(metrics.total_ms, 3) == 500.0
    assert (metrics.frames, metrics.deltas, metrics.bytes) == (5, 2, 125)
    assert metrics.stalled_ms is None
    assert [round(f.at_ms) for f in recorder.kept] == [1, 100, 110, 410, 411]


def test_frames_before_the_request_are_timed_before_it() -> None:
    recorder = StreamRecorder(started=0.0, frame_limit=10)
    recorder.frame(0.010, '{"type":"ready"}', 16, Kind.CONTROL)
    recorder.sent(0.050)
    recorder.frame(0.080, '{"type":"delta","message":"a"}', 30, Kind.DELTA)
    assert [round(f.at_ms) for f in recorder.kept] == [-40, 30]


def test_silence_after_the_servers_done_is_not_a_stall() -> None:
    recorder = StreamRecorder(started=0.0)
    recorder.sent(0.0)
    recorder.frame(0.05, '{"type":"delta","message":"a"}', 30, Kind.DELTA)
    recorder.frame(0.06, '{"type":"done"}', 15, Kind.CONTROL)
    recorder.ended_by_server(0.06)
    metrics = recorder.finish(2.0, cut=True)  # the fold never finished: a deadline, not a stall
    assert metrics.stalled_ms is None
    assert round(metrics.max_gap_ms or 0) == 0


def test_a_cut_stream_counts_its_silence_as_a_gap() -> None:
    recorder = StreamRecorder(started=0.0)
    recorder.sent(0.0)
    recorder.frame(0.05, '{"type":"delta","message":"a"}', 30, Kind.DELTA)
    recorder.frame(0.06, '{"type":"delta","message":"b"}', 30, Kind.DELTA)
    metrics = recorder.finish(2.0, cut=True)  # nothing more until the 2 s deadline
    assert round(metrics.max_gap_ms or 0) == 1940
    assert round(metrics.stalled_ms or 0) == 1940


def test_a_whole_text_answer_is_one_delta() -> None:
    recorder = StreamRecorder(started=0.0)
    recorder.sent(0.0)
    recorder.frame(0.02, '{"type":"response","message":"all"}', 34, Kind.TEXT, 3)
    metrics = recorder.finish(0.03, cut=False)
    assert (metrics.deltas, metrics.max_gap_ms, recorder.chars) == (1, 0.0, 3)
    assert round(metrics.first_delta_ms or 0) == 20


def test_kept_frames_are_bounded() -> None:
    recorder = StreamRecorder(started=0.0, frame_limit=2)
    recorder.sent(0.0)
    for i in range(5):
        recorder.frame(i / 1000, "x", 1, Kind.DELTA)
    assert len(recorder.kept) == 2
    assert recorder.dropped == 3
    assert recorder.finish(1.0, cut=False).frames == 5


def test_no_content_means_no_first_delta_and_no_gap() -> None:
    recorder = StreamRecorder(started=0.0, frame_limit=10)
    recorder.sent(0.0)
    recorder.frame(0.01, '{"type":"ready"}', 16, Kind.CONTROL)
    metrics = recorder.finish(0.02, cut=True)
    assert metrics.first_delta_ms is None
    assert metrics.max_gap_ms is None
