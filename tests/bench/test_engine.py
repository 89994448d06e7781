"""The load engine against real servers, well-behaved and not; and the figures it reports."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerFactory, ws_url
from wsllm.bench.engine import LoadRun, RequestRecord, Workload, run_load
from wsllm.bench.figures import figures
from wsllm.bench.workload import SEED_TEMPLATE, generated_prompts, seed_renderer, seed_states
from wsllm.stats import percentile, summarise


def workload(url: str, **overrides: Any) -> Workload:
    settings: dict[str, Any] = {
        "url": url,
        "render": seed_renderer(SEED_TEMPLATE),
        "prompts": generated_prompts(50, 5, 1),
        "new_state": seed_states(),
        "concurrency": 4,
        "requests": 20,
        "timeout_s": 5.0,
    }
    return Workload(**{**settings, **overrides})


async def measure(load: Workload) -> dict[str, Any]:
    return figures(await run_load(load, lambda record: None))


async def test_closed_loop_measures_every_request(start_server: ServerFactory) -> None:
    base = await start_server(sim_tokens="12", sim_itl_ms="1")
    result = await measure(workload(ws_url(base, "/ws-stream"), warmup=4))
    assert (result["completed"], result["errors"]) == (20, 0)
    assert result["deltas"] == 20 * 12
    assert result["ttft_ms"]["p50"] is not None
    assert result["itl_ms"]["max"] >= result["itl_ms"]["min"] >= 0
    assert result["chars"] > result["deltas"]


async def test_new_connection_per_request(start_server: ServerFactory) -> None:
    base = await start_server()
    run = await run_load(
        workload(ws_url(base, "/ws-stream"), keep_connection=False), lambda r: None
    )
    assert len(run.records) == 20
    assert all(r.connect_ms is not None for r in run.records)
    assert all(r.error is None for r in run.records)


async def test_the_non_streaming_path_counts_its_response(start_server: ServerFactory) -> None:
    base = await start_server()
    result = await measure(workload(ws_url(base, "/ws")))
    assert (result["completed"], result["deltas"]) == (20, 20)


async def test_poisson_arrivals_issue_the_requests_asked(start_server: ServerFactory) -> None:
    base = await start_server()
    result = await measure(workload(ws_url(base, "/ws-stream"), rate=200.0, requests=30))
    assert (result["completed"], result["errors"]) == (30, 0)


async def test_duration_ends_on_time_against_a_server_that_never_finishes(ws_targets: str) -> None:
    run = await run_load(
        workload(f"{ws_targets}/stall", requests=None, duration_s=0.5), lambda r: None
    )
    assert run.cut_at_end == 4
    assert run.records == []


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/reject", "handshake"),
        ("/close-early", "closed"),
        ("/stall", "timeout"),
        ("/garbage", "protocol"),
    ],
)
async def test_failures_are_counted_by_kind(ws_targets: str, path: str, kind: str) -> None:
    result = await measure(
        workload(f"{ws_targets}{path}", requests=6, concurrency=2, timeout_s=0.3)
    )
    assert result["completed"] == 0
    assert result["errors_by_kind"] == {kind: 6}


async def test_an_unreachable_endpoint_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = await measure(workload(f"ws://127.0.0.1:{port}/ws", requests=5))
    assert result["errors_by_kind"] == {"connect": 5}


async def test_server_error_frames_are_errors(start_server: ServerFactory) -> None:
    base = await start_server(max_frame_bytes="5")
    result = await measure(workload(ws_url(base, "/ws-stream"), requests=4))
    assert result["errors_by_kind"] == {"error_frame": 4}


def test_figures_follow_the_documented_definitions() -> None:
    record = RequestRecord(started_s=0.0, ttft_ms=100.0, e2e_ms=400.0, deltas=4, chars=40,
                           gaps_ms=[100.0, 100.0, 100.0])  # fmt: skip
    failed = RequestRecord(started_s=0.0, error="timeout")
    run = LoadRun("ws://x", records=[record, failed], wall_s=2.0)
    result = figures(run)
    assert result["tpot_ms"]["mean"] == 100.0  # (400 - 100) / (4 - 1)
    assert result["itl_ms"]["p50"] == 100.0
    assert result["req_per_s"] == 0.5
    assert result["deltas_per_s"] == 2.0
    assert result["request_deltas_per_s"]["mean"] == 10.0  # 3 deltas after the first in 0.3 s
    assert result["errors_by_kind"] == {"timeout": 1}


def test_percentiles_interpolate_like_numpy() -> None:
    samples = [1.0, 2.0, 3.0, 4.0]
    assert percentile(samples, 0.5) == 2.5
    assert percentile(samples, 0.99) == pytest.approx(3.97)
    assert percentile([], 0.5) is None
    assert summarise([5.0])["p99"] == 5.0


def test_prompts_from_text_and_jsonl_files(tmp_path: Path) -> None:
    from wsllm.bench.workload import prompts_from_file
    from wsllm.errors import ConfigError

    (tmp_path / "p.txt").write_text("first prompt\n\nsecond prompt\n")
    (tmp_path / "p.jsonl").write_text('{"prompt": "one"}\n{"input": "two"}\n')
    (tmp_path / "bad.jsonl").write_text('{"prompt": "one"}\nnot json\n')
    assert prompts_from_file(tmp_path / "p.txt") == ("first prompt", "second prompt")
    assert prompts_from_file(tmp_path / "p.jsonl") == ("one", "two")
    with pytest.raises(ConfigError, match="line 2 is not JSON"):
        prompts_from_file(tmp_path / "bad.jsonl")
    with pytest.raises(ConfigError, match="cannot read"):
        prompts_from_file(tmp_path / "missing.txt")
