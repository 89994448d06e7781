"""What the store tells its readers: how far a run got ("8 of 40"), whether it is running, was
interrupted or died, its stalls and TTFT, and its config without the secrets."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
from pathlib import Path
from typing import Any

from wsllm.store import ResultRecord, ResultStore, RunEnd, RunRecord
from wsllm.store.schema import MIGRATIONS

SECRETS = (
    "sk-live-0123456789abcdefghijklmnop",
    "abcdefghijklmnopqrstuvwx0123456789",
    "session=deadbeefcafe",
    "k-9f8e7d6c5b4a39281706",
    "hunter2-the-password",
    "tok_0123456789abcdef0123",
)
CONFIG_WITH_SECRETS: dict[str, Any] = {
    "description": "secrets inside",
    "env": {"OPENAI_API_KEY": SECRETS[0], "PORT": "3300"},
    "providers": [{
        "id": f"wss://chat.example.com/ws?token={SECRETS[5]}",
        "label": "prod",
        "config": {
            "headers": {"Authorization": f"Bearer {SECRETS[1]}", "Cookie": SECRETS[2],
                        "X-Api-Key": SECRETS[3], "Accept": "application/json"},
            "messageTemplate": '{"input": {{prompt | dump}}}',
        },
    }],
    "defaultTest": {"options": {"provider": {"config": {"password": SECRETS[4]}}}},
}  # fmt: skip


def run_record(run_id: str, planned: int = 40, config: dict[str, Any] | None = None) -> RunRecord:
    columns = [{"prompt": "{{q}}", "target": "prod", "prompt_idx": 0, "target_idx": 0}]
    return RunRecord(run_id, "2026-11-21T10:00:00+00:00", "a suite", "c.yaml", config or {},
                     planned, columns)  # fmt: skip


def result(idx: int, status: str = "pass", stalled_ms: float | None = None) -> ResultRecord:
    cut = stalled_ms is not None
    return ResultRecord(
        idx=idx, test_idx=idx, prompt_idx=0, target_idx=0, repeat_idx=0, description=f"test {idx}",
        vars={"q": f"q{idx}"}, prompt=f"q{idx}", status=status, score=1.0 if status == "pass" else 0.0,
        output=None if cut else "ok", error="timed out" if cut else None, reason=None, grading=None,
        latency_ms=2000.0 if cut else 100.0, first_delta_ms=10.0 + idx,
        max_gap_ms=stalled_ms if cut else 5.0, frames=2 if cut else 6, bytes=60, stalled_ms=stalled_ms,
        deltas=1 if cut else 4, frames_list=[(0.0, '{"type":"ready"}'), (10.0 + idx, "x")],
    )  # fmt: skip


def test_a_run_in_progress_is_running_and_shows_how_far_it_got(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.db")
    store.begin_run(run_record("eval-live"))
    store.add_results("eval-live", [result(i) for i in range(8)])
    [run], _ = store.runs(10, 0, None)
    assert (run["status"], run["done"], run["planned"], run["passed"]) == ("running", 8, 40, 8)
    assert run["ttft_p50_ms"] == 13.5
    store.close()


def _write_and_die(path: str) -> None:
    store = ResultStore(Path(path))
    store.begin_run(run_record("eval-dead"))
    store.add_results("eval-dead", [result(i) for i in range(3)])
    os._exit(0)  # no finish_run: the process is gone, as after a crash or a kill


def test_a_run_whose_process_died_is_incomplete_not_running(tmp_path: Path) -> None:
    child = multiprocessing.get_context("fork").Process(
        target=_write_and_die, args=(str(tmp_path / "r.db"),)
    )
    child.start()
    child.join(20)
    store = ResultStore(tmp_path / "r.db", create=False)
    [run], _ = store.runs(10, 0, None)
    assert (run["status"], run["done"], run["planned"]) == ("incomplete", 3, 40)
    store.close()


def test_an_interrupted_run_keeps_its_status_and_its_8_of_40(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.db")
    store.begin_run(run_record("eval-stop"))
    store.add_results("eval-stop", [result(i) for i in range(8)])
    store.finish_run("eval-stop", RunEnd("interrupted", 3.0, 8, 0, 0, {}))
    run = store.run("eval-stop")
    assert run is not None
    assert (run["status"], run["done"], run["planned"], run["pass_rate"]) == (
        "interrupted",
        8,
        40,
        100.0,
    )
    store.close()


def test_a_stall_is_stored_with_the_run_figures(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.db")
    store.begin_run(run_record("eval-stall", planned=3))
    store.add_results("eval-stall", [result(0), result(1, "error", stalled_ms=1990.0), result(2)])
    store.finish_run("eval-stall", RunEnd("finished", 2.0, 2, 0, 1, {}))
    stalled = store.result("eval-stall", 1)
    assert stalled is not None
    assert (stalled["stalled_ms"], stalled["max_gap_ms"], stalled["deltas"]) == (1990.0, 1990.0, 1)
    assert (stalled["previous"], stalled["next"]) == (0, 2)
    rows, _ = store.matrix("eval-stall", None, None, 10, 0)
    assert [row["cells"][0]["stalled_ms"] for row in rows] == [None, 1990.0, None]
    run = store.run("eval-stall")
    assert run is not None
    assert (run["stalled"], run["gap_max_ms"], run["ttft_p50_ms"]) == (1, 1990.0, 11.0)
    assert "first_frame_ms" not in stalled  # the `ready` frame's time says nothing of the stream
    store.close()


def test_secrets_are_redacted_when_a_run_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    store = ResultStore(path)
    store.begin_run(run_record("eval-keys", config=CONFIG_WITH_SECRETS))
    run = store.run("eval-keys")
    store.close()
    assert run is not None
    stored = json.dumps(run["config"])
    assert [s for s in SECRETS if s in stored] == []
    assert run["config"]["env"]["OPENAI_API_KEY"] == "[redacted]"
    headers = run["config"]["providers"][0]["config"]["headers"]
    assert headers["Authorization"] == "Bearer [redacted]"
    assert headers["Accept"] == "application/json"  # not a secret: kept
    assert run["config"]["providers"][0]["id"] == "wss://chat.example.com/ws?token=[redacted]"
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert [s for s in SECRETS if s.encode() in on_disk] == []


def test_upgrading_an_old_store_redacts_the_secrets_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0])
        db.execute(
            "INSERT INTO runs (id, created_at, config_path, config_json, status, planned, passed, columns_json,"
            " summary_json) VALUES ('eval-old', '2026-01-01', 'c.yaml', ?, 'finished', 1, 1, '[]', ?)",
            (
                json.dumps(CONFIG_WITH_SECRETS),
                json.dumps({"firstDeltaMs": {"p50": 12.0, "p95": 30.0}}),
            ),
        )
        db.execute("PRAGMA user_version = 1")
    store = ResultStore(path, create=False)
    run = store.run("eval-old")
    store.close()
    assert run is not None
    assert [s for s in SECRETS if s in json.dumps(run["config"])] == []
    assert (run["ttft_p50_ms"], run["ttft_p95_ms"]) == (12.0, 30.0)
