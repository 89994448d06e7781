"""A store that is not ours, or not healthy, is refused with the reason before anything is
written, and left byte for byte as it was."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from tests.cli_process import clean_env, run_wsllm
from tests.evals.helpers import target_config, write_config
from wsllm.store import ResultStore, StoreError


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def store_with_runs(path: Path) -> None:
    ResultStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode = DELETE")  # everything in the main file
        rows = [(f"eval-{i}", "2026-11-21", "x" * 500, "c.yaml", "{}", "finished", 1, "[]")
                for i in range(200)]  # fmt: skip
        db.executemany(
            "INSERT INTO runs (id, created_at, description, config_path, config_json, status,"
            " planned, columns_json) VALUES (?,?,?,?,?,?,?,?)",
            rows,
        )


def test_a_store_with_a_zeroed_page_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    store_with_runs(path)
    data = bytearray(path.read_bytes())
    page = 4096
    data[3 * page : 4 * page] = bytes(page)  # a page in the middle of the runs table
    path.write_bytes(bytes(data))
    before = fingerprint(path)
    with pytest.raises(StoreError, match="damaged"):
        ResultStore(path)
    assert fingerprint(path) == before
    assert not Path(f"{path}-wal").exists()


def test_a_foreign_sqlite_file_is_refused_before_it_is_switched_to_wal(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
        db.execute("INSERT INTO notes VALUES ('mine')")
    before = fingerprint(path)
    with pytest.raises(StoreError, match="not wsllm's"):
        ResultStore(path)
    assert fingerprint(path) == before
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


async def test_eval_refuses_a_damaged_store_without_a_traceback(
    ws_targets: str, tmp_path: Path
) -> None:
    path = tmp_path / "r.db"
    store_with_runs(path)
    data = bytearray(path.read_bytes())
    data[2 * 4096 : 3 * 4096] = bytes(4096)
    path.write_bytes(bytes(data))
    before = fingerprint(path)
    config = write_config(tmp_path, target_config(f"{ws_targets}/seed"))
    code, _, err = await run_wsllm("eval", "-c", str(config), "--db", str(path),
                                   cwd=tmp_path, env=clean_env())  # fmt: skip
    assert code == 1
    assert "damaged" in err
    assert "Traceback" not in err
    assert fingerprint(path) == before


def test_three_processes_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    import multiprocessing

    path = tmp_path / "new.db"
    with multiprocessing.get_context("fork").Pool(3) as pool:
        outcomes = pool.map(_open_and_close, [str(path)] * 6)
    assert outcomes == ["ok"] * 6


def _open_and_close(path: str) -> str:
    try:
        ResultStore(Path(path)).close()
    except StoreError as exc:
        return str(exc)
    return "ok"
