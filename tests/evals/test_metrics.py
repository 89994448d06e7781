"""The stream recorder, fed clock readings by hand."""

from __future__ import annotations

from wsllm.evals.metrics import StreamRecorder, is_content


def test_control_frames_are_not_content() -> None:
    assert not is_content('{"type": "ready", "message": "Connected to /ws-stream"}')
    assert not is_content('{"type":"done"}')
    assert is_content('{"type": "delta", "message": "Hi"}')
    assert is_content('{"type": "response", "message": "Hi"}')
    assert is_content("plain text")
    assert is_content("[1, 2]")
    assert is_content("{broken json")


def test_first_delta_gaps_and_totals() -> None:
    recorder = StreamRecorder(started=10.0, frame_limit=100)
    recorder.opened(10.002)
    recorder.sent(10.003)
    recorder.frame(10.004, '{"type":"ready"}', 16)
    recorder.frame(10.103, '{"type":"delta","message":"a"}', 30)
    recorder.frame(10.113, '{"type":"delta","message":"b"}', 30)
    recorder.frame(10.413, '{"type":"message","message":"ab"}', 34)
    metrics = recorder.finish(10.5)
    assert round(metrics.connect_ms or 0, 3) == 2.0
    assert round(metrics.first_frame_ms or 0, 3) == 1.0
    assert round(metrics.first_delta_ms or 0, 3) == 100.0
    assert round(metrics.max_gap_ms or 0, 3) == 300.0
    assert round(metrics.total_ms, 3) == 500.0
    assert (metrics.frames, metrics.bytes) == (4, 110)
    assert [round(f.at_ms) for f in recorder.kept] == [1, 100, 110, 410]


def test_kept_frames_are_bounded() -> None:
    recorder = StreamRecorder(started=0.0, frame_limit=2)
    recorder.sent(0.0)
    for i in range(5):
        recorder.frame(i / 1000, "x", 1)
    assert len(recorder.kept) == 2
    assert recorder.dropped == 3
    assert recorder.finish(1.0).frames == 5


def test_no_content_means_no_first_delta_and_no_gap() -> None:
    recorder = StreamRecorder(started=0.0, frame_limit=10)
    recorder.sent(0.0)
    recorder.frame(0.01, '{"type":"ready"}', 16)
    metrics = recorder.finish(0.02)
    assert metrics.first_delta_ms is None
    assert metrics.max_gap_ms is None
