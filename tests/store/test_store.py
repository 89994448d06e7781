"""The results database when things go wrong: damaged, foreign or newer files are refused and left
untouched; a crash keeps what finished; runs at the same time both land."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.cli_process import clean_env, run_wsllm
from tests.conftest import ServerFactory
from tests.evals.helpers import target_config, write_config
from wsllm.store import ResultStore, StoreError


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_new_database_gets_the_current_schema(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.db")
    assert store.runs(10, 0, None) == ([], 0)
    store.close()
    with sqlite3.connect(tmp_path / "r.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"this is not a database at all" * 100, "not a wsllm results database, or it is damaged"),
        (b"SQLite format 3\x00" + b"\xff" * 4000, "not a wsllm results database, or it is damaged"),
    ],
)
def test_a_damaged_file_is_refused_and_left_alone(
    tmp_path: Path, content: bytes, says: str
) -> None:
    path = tmp_path / "r.db"
    path.write_bytes(content)
    before = fingerprint(path)
    with pytest.raises(StoreError, match=says):
        ResultStore(path)
    assert fingerprint(path) == before


def test_a_database_from_a_newer_wsllm_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    ResultStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    before = fingerprint(path)
    with pytest.raises(StoreError, match=r"newer wsllm \(schema 99; this one reads up to 2\)"):
        ResultStore(path)
    assert fingerprint(path) == before


def test_someone_elses_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(StoreError, match="not wsllm's"):
        ResultStore(path)


def test_view_needs_an_existing_database(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no results database here"):
        ResultStore(tmp_path / "missing.db", create=False)


async def test_the_commands_report_a_damaged_database_clearly(
    ws_targets: str, tmp_path: Path
) -> None:
    path = tmp_path / "r.db"
    path.write_bytes(b"garbage" * 1000)
    before = fingerprint(path)
    config = write_config(tmp_path, target_config(f"{ws_targets}/seed"))
    for args in (
        ("eval", "-c", str(config), "--db", str(path)),
        ("view", "--db", str(path), "--port", "0"),
    ):
        code, _, err = await run_wsllm(*args, cwd=tmp_path, env=clean_env())
        assert code == 1
        assert "is not a wsllm results database, or it is damaged" in err
        assert "Traceback" not in err
    assert fingerprint(path) == before


async def test_no_write_stores_nothing(ws_targets: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, target_config(f"{ws_targets}/seed"))
    db = tmp_path / "r.db"
    code, out, _ = await run_wsllm(
        "eval", "-c", str(config), "--db", str(db), "--no-write", cwd=tmp_path, env=clean_env()
    )
    assert code == 0
    assert not db.exists()
    assert "Stored as" not in out


async def test_a_crash_midway_leaves_the_finished_tests_readable(
    ws_targets: str, tmp_path: Path
) -> None:
    tests = "".join(f"  - vars: {{question: q{i}}}\n" for i in range(60))
    text = target_config(f"{ws_targets}/slow").split("tests:")[0] + "tests:\n" + tests
    config = write_config(tmp_path, text)
    db = tmp_path / "r.db"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wsllm", "eval", "-c", str(config), "--db", str(db), "-j", "4",
        cwd=tmp_path, env=clean_env(), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await asyncio.sleep(2.5)
    process.send_signal(signal.SIGKILL)
    await process.wait()
    store = ResultStore(db, create=False)
    [run], _ = store.runs(10, 0, None)
    assert run["status"] == "incomplete"
    stored = store.run(run["id"])
    assert stored is not None
    assert 0 < stored["stored"] < 60
    rows, total = store.matrix(run["id"], None, None, 100, 0)
    assert total == stored["stored"]
    assert all(cell["status"] == "pass" for row in rows for cell in row["cells"])
    store.close()


async def test_two_runs_at_once_both_land(start_server: ServerFactory, tmp_path: Path) -> None:
    base = await start_server(sim_ttft_ms="1", sim_itl_ms="1", sim_tokens="10")
    url = base.replace("http://", "ws://") + "/ws-stream"
    tests = "".join(f"  - vars: {{question: q{i}}}\n" for i in range(80))
    config = write_config(tmp_path, target_config(url).split("tests:")[0] + "tests:\n" + tests)
    db = tmp_path / "r.db"
    outcomes = await asyncio.gather(*(
        run_wsllm("eval", "-c", str(config), "--db", str(db), "--no-table", cwd=tmp_path, env=clean_env())
        for _ in range(3)
    ))  # fmt: skip
    assert [code for code, _, _ in outcomes] == [0, 0, 0]
    store = ResultStore(db, create=False)
    runs, total = store.runs(10, 0, None)
    assert total == 3
    assert all((r["status"], r["passed"]) == ("finished", 80) for r in runs)
    assert {store.run(r["id"])["stored"] for r in runs} == {80}  # type: ignore[index]
    assert json.loads(json.dumps(runs))  # plain data for the viewer
    store.close()


async def test_stored_frames_are_bounded_by_max_frames(ws_targets: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, target_config(f"{ws_targets}/seed"))
    db = tmp_path / "r.db"
    code, out, _ = await run_wsllm("eval", "-c", str(config), "--db", str(db), "--max-frames", "3",
                                   cwd=tmp_path, env=clean_env())  # fmt: skip
    assert code == 0
    assert "TTFT" in out
    assert re.search(r"· \d+(\.\d)? k?B\b", out)
    store = ResultStore(db, create=False)
    [run], _ = store.runs(10, 0, None)
    result = store.result(run["id"], 0)
    assert result is not None
    assert len(result["frames_list"]) == 3
    assert (result["frames"], result["frames_dropped"]) == (6, 3)
    store.close()
