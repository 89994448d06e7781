"""The eval client against targets that behave and targets that do not."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.evals.helpers import load, run, target_config


async def test_the_seed_protocol_folds_into_the_final_message(
    ws_targets: str, tmp_path: Path
) -> None:
    [result] = await run(load(tmp_path, target_config(f"{ws_targets}/seed")))
    assert result.status == "pass"
    assert result.response.output == "You said: hello there. Thanks for asking."
    metrics = result.response.metrics
    assert metrics.frames == 6  # ready, 4 deltas, message: the fold is done at `message`
    assert metrics.first_delta_ms is not None
    assert metrics.deltas == 4
    assert metrics.bytes > 0


async def test_stream_metrics_show_a_slow_first_delta_and_the_gaps(
    ws_targets: str, tmp_path: Path
) -> None:
    [result] = await run(load(tmp_path, target_config(f"{ws_targets}/slow")))
    metrics = result.response.metrics
    assert metrics.first_delta_ms is not None
    assert metrics.first_delta_ms >= 140
    assert metrics.max_gap_ms is not None
    assert metrics.max_gap_ms >= 45
    assert metrics.total_ms >= metrics.first_delta_ms
    times = [f.at_ms for f in result.response.frames]
    assert times == sorted(times)


async def test_a_close_before_the_final_frame_errors_at_once(
    ws_targets: str, tmp_path: Path
) -> None:
    config = load(tmp_path, target_config(f"{ws_targets}/close-early"))
    started = time.perf_counter()
    [result] = await run(config)
    assert time.perf_counter() - started < 5  # long before the 300 s default deadline
    assert result.status == "error"
    assert "closed the connection (code 1011) before the final frame" in (
        result.response.error or ""
    )


async def test_garbage_frames_are_an_error_with_the_reason(ws_targets: str, tmp_path: Path) -> None:
    [result] = await run(load(tmp_path, target_config(f"{ws_targets}/garbage")))
    assert result.status == "error"
    assert "Error executing streamResponse function" in (result.response.error or "")
    assert "SyntaxError" in (result.response.error or "")
    assert 'on frame 1: "<html>this is not json</html>"' in (result.response.error or "")


async def test_a_stall_midstream_hits_the_one_deadline(ws_targets: str, tmp_path: Path) -> None:
    config = load(
        tmp_path, target_config(f"{ws_targets}/stall", extra="          timeoutMs: 400\n")
    )
    [result] = await run(config)
    assert result.status == "error"
    assert "timed out after 400 ms with 2 frames received" in (result.response.error or "")


async def test_a_refused_connection_is_an_error(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    [result] = await run(load(tmp_path, target_config(f"ws://127.0.0.1:{port}/ws")))
    assert result.status == "error"
    assert "cannot connect" in (result.response.error or "")


async def test_a_rejected_handshake_is_an_error(ws_targets: str, tmp_path: Path) -> None:
    [result] = await run(load(tmp_path, target_config(f"{ws_targets}/reject")))
    assert result.response.error == f"WebSocket handshake rejected by {ws_targets}/reject: HTTP 403"


async def test_one_failing_target_does_not_stop_the_others(ws_targets: str, tmp_path: Path) -> None:
    text = target_config(f"{ws_targets}/close-early").replace(
        "tests:",
        f"  - id: '{ws_targets}/seed'\n    config:\n"
        "          messageTemplate: '{\"input\": {{prompt | dump}}}'\n"
        '          streamResponse: "(a, e) => { const m = JSON.parse(e.data); '
        "return [{output: m.message}, m.type === 'message']; }\"\ntests:",
    )
    results = await run(load(tmp_path, text))
    assert [r.status for r in results] == ["error", "pass"]


async def test_without_stream_response_the_first_frame_is_the_answer(
    ws_targets: str, tmp_path: Path
) -> None:
    # As promptfoo: with no streamResponse, the `ready` frame settles the call.
    [result] = await run(load(tmp_path, target_config(f"{ws_targets}/seed", stream=None)))
    assert result.response.output == {"type": "ready", "message": "Connected"}


async def test_transform_response_shapes_the_first_frame(ws_targets: str, tmp_path: Path) -> None:
    extra = "          transformResponse: 'data.message.toUpperCase()'\n"
    [result] = await run(
        load(tmp_path, target_config(f"{ws_targets}/seed", stream=None, extra=extra))
    )
    assert result.response.output == "CONNECTED"


async def test_headers_and_subprotocols_reach_the_server(ws_targets: str, tmp_path: Path) -> None:
    extra = (
        "          headers: {Authorization: 'Bearer k-1'}\n"
        "          protocols: ['wsllm.v1']\n"
        "          transformResponse: 'data.meta'\n"
    )
    [result] = await run(
        load(tmp_path, target_config(f"{ws_targets}/echo-meta", stream=None, extra=extra))
    )
    assert result.response.output == {"authorization": "Bearer k-1", "protocol": "wsllm.v1"}


async def test_a_python_stream_response_inline(ws_targets: str, tmp_path: Path) -> None:
    stream = """
    python:
    frame = json.loads(event["data"])
    if frame["type"] == "message":
        return {"output": frame["message"].upper()}, True
    return accumulator, False
    """
    [result] = await run(load(tmp_path, target_config(f"{ws_targets}/seed", stream=stream)))
    assert result.response.output == "YOU SAID: HELLO THERE. THANKS FOR ASKING."


async def test_a_python_stream_response_from_a_file(ws_targets: str, tmp_path: Path) -> None:
    (tmp_path / "fold.py").write_text(
        "import json\n\n"
        "def collect(accumulator, event, context):\n"
        "    frame = json.loads(event['data'])\n"
        "    text = (accumulator.get('output') or '') if isinstance(accumulator, dict) else ''\n"
        "    if frame['type'] == 'delta':\n"
        "        return {'output': text + frame['message']}, False\n"
        "    return {'output': text}, frame['type'] == 'message'\n"
    )
    [result] = await run(
        load(tmp_path, target_config(f"{ws_targets}/seed", stream="file://fold.py:collect"))
    )
    assert result.response.output == "You said: hello there. Thanks for asking."


async def test_a_stream_response_that_throws_is_the_tests_error(
    ws_targets: str, tmp_path: Path
) -> None:
    stream = "(acc, event) => { throw new Error('no thanks'); }"
    [result] = await run(load(tmp_path, target_config(f"{ws_targets}/seed", stream=stream)))
    assert result.status == "error"
    assert "no thanks" in (result.response.error or "")


async def test_an_error_frame_through_the_seed_function_is_an_error(
    tmp_path: Path, start_server: object
) -> None:
    base = await start_server(max_frame_bytes="5")  # type: ignore[operator]
    url = base.replace("http://", "ws://") + "/ws-stream"
    [result] = await run(load(tmp_path, target_config(url)))
    assert result.status == "error"
    assert "over the limit" in (result.response.error or "")


async def test_the_url_is_a_template(ws_targets: str, tmp_path: Path) -> None:
    text = (
        target_config("ws://placeholder/x")
        .replace(
            "  - id: 'ws://placeholder/x'\n    config:\n",
            f"  - id: websocket\n    config:\n          url: '{ws_targets}/{{{{endpoint}}}}'\n",
        )
        .replace(
            "vars: {question: 'hello there'}", "vars: {question: 'hello there', endpoint: seed}"
        )
    )
    [result] = await run(load(tmp_path, text))
    assert result.response.output == "You said: hello there. Thanks for asking."


async def test_evaluate_options_timeout_caps_each_test(ws_targets: str, tmp_path: Path) -> None:
    text = target_config(f"{ws_targets}/stall") + "evaluateOptions: {timeoutMs: 300}\n"
    config = load(tmp_path, text)
    [result] = await run(config, timeout_ms=config.options.timeout_ms)
    assert "timed out after 300 ms" in (result.response.error or "")
