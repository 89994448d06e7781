"""`wsllm bench` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_process import clean_env, run_wsllm
from tests.conftest import ServerFactory, ws_url

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "websockets-streaming"


async def test_bench_an_endpoint_with_json_and_html(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    base = await start_server(sim_tokens="10", sim_itl_ms="1")
    code, out, err = await run_wsllm(
        "bench", ws_url(base, "/ws-stream"), "--requests", "40", "--concurrency", "4", "--warmup", "4",
        "-o", str(tmp_path / "b.json"), "-o", str(tmp_path / "b.html"), cwd=tmp_path, env=clean_env(),
    )  # fmt: skip
    assert code == 0, err
    assert "TTFT, time to first delta (ms)" in out
    assert "completed 40 · errors 0" in out
    document = json.loads((tmp_path / "b.json").read_text())
    [result] = document["results"][ws_url(base, "/ws-stream")]
    assert (result["completed"], result["deltas"]) == (40, 400)
    assert set(result["ttft_ms"]) == {"mean", "min", "p50", "p90", "p95", "p99", "max"}
    assert len(document["requests"][ws_url(base, "/ws-stream")][0]) == 40
    page = (tmp_path / "b.html").read_text()
    assert page.count("<svg") >= 4  # three histograms and a timeline


async def test_vs_runs_the_same_load_on_both_and_prints_ratios(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    fast = await start_server(sim_ttft_ms="0", sim_tokens="8")
    slow = await start_server(sim_ttft_ms="20", sim_tokens="8")
    code, out, err = await run_wsllm(
        "bench", ws_url(fast, "/ws-stream"), "--vs", ws_url(slow, "/ws-stream"), "--requests", "10",
        "--rounds", "2", "-o", str(tmp_path / "b.json"), cwd=tmp_path, env=clean_env(),
    )  # fmt: skip
    assert code == 0, err
    assert "ratio = second / first" in out
    assert "TTFT p50 (ms)" in out
    results = json.loads((tmp_path / "b.json").read_text())["results"]
    assert [len(rounds) for rounds in results.values()] == [2, 2]
    fast_ttft = results[ws_url(fast, "/ws-stream")][0]["ttft_ms"]["p50"]
    slow_ttft = results[ws_url(slow, "/ws-stream")][0]["ttft_ms"]["p50"]
    assert slow_ttft > fast_ttft


async def test_bench_a_target_from_an_eval_config(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    base = await start_server(sim_tokens="6")
    port = base.rsplit(":", 1)[1]
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text(
        (EXAMPLE / "promptfooconfig.yaml")
        .read_text()
        .replace("localhost:3300", f"localhost:{port}")
    )
    code, _, err = await run_wsllm("bench", "-c", str(config), "--requests", "8", "-o", str(tmp_path / "b.json"),
                                     cwd=tmp_path, env=clean_env())  # fmt: skip
    assert code == 0, err
    [result] = json.loads((tmp_path / "b.json").read_text())["results"].values()
    # Read through the config's streamResponse: the fold ends at `message`, after 6 deltas (the
    # whole-text frame is content, not a delta: the one rule of client/frames.py).
    assert (result[0]["completed"], result[0]["deltas"]) == (8, 8 * 6)


async def test_an_unreachable_endpoint_reports_errors_and_exits_1(tmp_path: Path) -> None:
    code, out, _ = await run_wsllm(
        "bench", "ws://127.0.0.1:9/ws-stream", "--requests", "3", cwd=tmp_path, env=clean_env()
    )
    assert code == 1
    assert "errors 3 (connect 3)" in out
    assert "connect: ConnectionRefusedError" in out


async def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    code, _, err = await run_wsllm("bench", cwd=tmp_path, env=clean_env())
    assert (code, "give an endpoint URL or -c CONFIG" in err) == (1, True)
    code, _, err = await run_wsllm(
        "bench", "ws://h/x", "--requests", "3", "--duration", "2", cwd=tmp_path, env=clean_env()
    )
    assert (code, "not both" in err) == (1, True)
    code, _, err = await run_wsllm("bench", "http://h/x", cwd=tmp_path, env=clean_env())
    assert (code, "not a ws:// or wss:// URL" in err) == (1, True)
