"""Runs and results in SQLite: written as each test finishes, read by the viewer.

WAL mode lets several runs write at once and the viewer read meanwhile. A file that is not a
wsllm database, is damaged, or comes from a newer wsllm is refused with a clear error before
anything is written to it, and left byte for byte as it was. A run's config is stored with its
secrets redacted (`store/redact.py`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wsllm.errors import StoreError
from wsllm.stats import percentile
from wsllm.store.liveness import current_owner, is_alive
from wsllm.store.records import ResultRecord, RunEnd, RunRecord
from wsllm.store.redact import redact, redact_json
from wsllm.store.schema import MIGRATIONS, SCHEMA_VERSION

RESULT_COLUMNS = (
    "run_id", "idx", "test_idx", "prompt_idx", "target_idx", "repeat_idx", "description",
    "vars_json", "prompt", "status", "score", "output", "error", "reason", "grading_json",
    "latency_ms", "first_delta_ms", "max_gap_ms", "stalled_ms", "frames", "deltas", "bytes",
    "frames_dropped", "frames_blob",
)  # fmt: skip
_INSERT_RESULT = (
    f"INSERT OR REPLACE INTO results ({', '.join(RESULT_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(RESULT_COLUMNS))})"
)
_RUN_LIST_COLUMNS = (
    "id, created_at, description, config_path, status, duration_s, planned, passed, failed, errors,"
    " owner, ttft_p50_ms, ttft_p95_ms, gap_p95_ms, gap_max_ms, stalled, columns_json"
)


def default_db_path() -> Path:
    """$WSLLM_DB, else the per-user data folder: $XDG_DATA_HOME/wsllm/results.db."""
    if os.environ.get("WSLLM_DB"):
        return Path(os.environ["WSLLM_DB"])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "wsllm" / "results.db"


def pack_frames(frames: list[tuple[float, str]]) -> bytes:
    """Frames with their arrival times, as compressed JSON."""
    packed = [[round(at, 3), data] for at, data in frames]
    return zlib.compress(json.dumps(packed, ensure_ascii=False).encode(), 3)


def unpack_frames(blob: bytes | None) -> list[list[Any]]:
    """[[at_ms, data], ...] from a stored blob."""
    if not blob:
        return []
    frames: list[list[Any]] = json.loads(zlib.decompress(blob))
    return frames


def _damaged(path: Path, exc: Exception) -> StoreError:
    return StoreError(
        f"{path} is not a wsllm results database, or it is damaged ({exc}); it was left as it is"
    )


class ResultStore:
    """One open database."""

    def __init__(self, path: Path, create: bool = True) -> None:
        self.path = path
        if not path.exists() and not create:
            raise StoreError(f"{path}: no results database here (run `wsllm eval` first)")
        self._db = self._open(path)
        try:
            self._prepare_when_free()
        except sqlite3.OperationalError as exc:
            self._db.close()
            if "locked" in str(exc):
                raise StoreError(f"{path} is locked by another process; nothing was written to "
                                 "it (try again when that process is done)") from exc  # fmt: skip
            raise _damaged(path, exc) from exc
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise _damaged(path, exc) from exc
        except StoreError:
            self._db.close()
            raise

    def _open(self, path: Path) -> sqlite3.Connection:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        except sqlite3.DatabaseError as exc:
            raise _damaged(path, exc) from exc
        except OSError as exc:
            raise StoreError(f"{path}: cannot open: {exc.strerror or exc}") from exc
        db.row_factory = sqlite3.Row
        db.create_function("wsllm_redact_json", 1, redact_json, deterministic=True)
        return db

    def _prepare_when_free(self) -> None:
        """`_prepare`, tried again while another process holds a lock SQLite will not wait for
        (switching a new file to WAL while another process reads it returns "locked" at once)."""
        for attempt in range(100):
            try:
                self._prepare()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.01 + 0.002 * attempt)

    def _prepare(self) -> None:
        """Check the file (reading only), then switch on WAL and bring the schema up to date."""
        self._check_header()
        self._db.execute("PRAGMA busy_timeout = 10000")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        self._check_ours(version)
        self._check_health()
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._migrate()

    def _check_header(self) -> None:
        if self.path.exists() and self.path.stat().st_size > 0:
            with self.path.open("rb") as handle:
                if handle.read(16) != b"SQLite format 3\x00":
                    raise sqlite3.DatabaseError("file is not a database")

    def _check_ours(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer wsllm (schema {version}; this one reads up to "
                f"{SCHEMA_VERSION}); upgrade wsllm, or give another file with --db. It was left as it is"
            )
        tables = {
            r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if version == 0 and tables:
            raise StoreError(
                f"{self.path} is an SQLite database but not wsllm's; it was left as it is"
            )

    def _check_health(self) -> None:
        problems = [r[0] for r in self._db.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            raise StoreError(
                f"{self.path} is damaged ({'; '.join(problems)}); it was left as it is. Move it "
                "aside (wsllm starts a new one), or try `sqlite3 FILE .recover`"
            )

    def _migrate(self) -> None:
        # Several processes may open a new file at once: the first takes the write lock and
        # migrates; the others wait for it, then see the version it left.
        self._db.execute("BEGIN IMMEDIATE")
        with self._transaction():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            for number in range(version, SCHEMA_VERSION):
                for statement in _statements(MIGRATIONS[number]):
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.execute("COMMIT")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Database errors while writing become a StoreError saying what happened."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot write ({exc}); what was stored is kept") from exc

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def begin_run(self, run: RunRecord) -> None:
        """Record a run as it starts, owned by this process, its config's secrets redacted."""
        config = json.dumps(redact(run.config), ensure_ascii=False, default=str)
        with self._writing():
            self._db.execute(
                "INSERT INTO runs (id, created_at, description, config_path, config_json, status, planned, columns_json, owner)"
                " VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                (run.id, run.created_at, run.description, run.config_path, config, run.planned,
                 json.dumps(run.columns), current_owner()),
            )  # fmt: skip

    def add_results(self, run_id: str, results: list[ResultRecord]) -> None:
        """Store finished results and bring the run's counts up to date, in one transaction."""
        rows = [_row(run_id, result) for result in results]
        with self._writing():
            self._db.execute("BEGIN")
            with self._transaction():
                self._db.executemany(_INSERT_RESULT, rows)
                self._db.execute(
                    "UPDATE runs SET"
                    " passed = (SELECT count(*) FROM results WHERE run_id = :id AND status = 'pass'),"
                    " failed = (SELECT count(*) FROM results WHERE run_id = :id AND status = 'fail'),"
                    " errors = (SELECT count(*) FROM results WHERE run_id = :id AND status = 'error')"
                    " WHERE id = :id",
                    {"id": run_id},
                )
                self._db.execute("COMMIT")

    def finish_run(self, run_id: str, end: RunEnd) -> None:
        """Record how the run ended, with its stream figures."""
        figures = self._stream_figures(run_id)
        with self._writing():
            self._db.execute(
                "UPDATE runs SET status = ?, duration_s = ?, passed = ?, failed = ?, errors = ?, summary_json = ?,"
                " ttft_p50_ms = ?, ttft_p95_ms = ?, gap_p95_ms = ?, gap_max_ms = ?, stalled = ? WHERE id = ?",
                (end.status, end.duration_s, end.passed, end.failed, end.errors, json.dumps(end.summary),
                 figures["ttft_p50_ms"], figures["ttft_p95_ms"], figures["gap_p95_ms"], figures["gap_max_ms"],
                 figures["stalled"], run_id),
            )  # fmt: skip

    def _stream_figures(self, run_id: str) -> dict[str, Any]:
        """TTFT p50/p95, largest gap p95 and max, and how many streams stalled, over stored results."""
        rows = self._db.execute(
            "SELECT first_delta_ms, max_gap_ms, stalled_ms FROM results WHERE run_id = ?", (run_id,)
        ).fetchall()
        ttft = [r[0] for r in rows if r[0] is not None]
        gaps = [r[1] for r in rows if r[1] is not None]
        return {
            "ttft_p50_ms": _rounded(percentile(ttft, 0.5)),
            "ttft_p95_ms": _rounded(percentile(ttft, 0.95)),
            "gap_p95_ms": _rounded(percentile(gaps, 0.95)),
            "gap_max_ms": _rounded(max(gaps) if gaps else None),
            "stalled": sum(r[2] is not None for r in rows),
        }

    # Reading, for the viewer.

    def runs(self, limit: int, offset: int, query: str | None) -> tuple[list[dict[str, Any]], int]:
        """A page of runs, newest first, and how many there are."""
        where, args = "", []
        if query:
            where, args = (
                "WHERE description LIKE ? OR id LIKE ? OR config_path LIKE ?",
                [f"%{query}%"] * 3,
            )
        total = self._db.execute(f"SELECT count(*) FROM runs {where}", args).fetchone()[0]
        rows = self._db.execute(
            f"SELECT {_RUN_LIST_COLUMNS} FROM runs {where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        return [self._run_row(dict(r)) for r in rows], total

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run's record, or None."""
        row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        record = self._run_row(dict(row))
        record["summary"] = json.loads(record.pop("summary_json") or "null")
        record["config"] = json.loads(record.pop("config_json") or "null")
        record["stored"] = self._db.execute(
            "SELECT count(*) FROM results WHERE run_id = ?", (run_id,)
        ).fetchone()[0]
        return record

    def matrix(self, run_id: str, status: str | None, query: str | None, limit: int, offset: int
               ) -> tuple[list[dict[str, Any]], int]:  # fmt: skip
        """A page of test rows (a test on a repeat) with each column's result, and the row count."""
        conditions, args = ["run_id = ?"], [run_id]
        if status:
            conditions.append("status = ?")
            args.append(status)
        if query:
            conditions.append(
                "(description LIKE ? OR vars_json LIKE ? OR output LIKE ? OR error LIKE ?)"
            )
            args += [f"%{query}%"] * 4
        where = " AND ".join(conditions)
        total = self._db.execute(
            f"SELECT count(*) FROM (SELECT DISTINCT test_idx, repeat_idx FROM results WHERE {where})",
            args,
        ).fetchone()[0]
        keys = self._db.execute(
            f"SELECT DISTINCT test_idx, repeat_idx FROM results WHERE {where}"
            " ORDER BY test_idx, repeat_idx LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        if not keys:
            return [], total
        low, high = keys[0]["test_idx"], keys[-1]["test_idx"]
        wanted = {(k["test_idx"], k["repeat_idx"]) for k in keys}
        cells = self._db.execute(
            "SELECT idx, test_idx, repeat_idx, prompt_idx, target_idx, description, vars_json, status, score,"
            " substr(output, 1, 300) AS output, substr(error, 1, 300) AS error, latency_ms, first_delta_ms,"
            " max_gap_ms, stalled_ms, frames, deltas FROM results WHERE run_id = ? AND test_idx BETWEEN ? AND ?"
            " ORDER BY test_idx, repeat_idx, prompt_idx, target_idx",
            (run_id, low, high),
        ).fetchall()
        rows: dict[tuple[int, int], dict[str, Any]] = {}
        for cell in cells:
            key = (cell["test_idx"], cell["repeat_idx"])
            if key not in wanted:
                continue
            row = rows.setdefault(key, {"test_idx": key[0], "repeat_idx": key[1], "description": cell["description"],
                                        "vars": json.loads(cell["vars_json"]), "cells": []})  # fmt: skip
            item = {k: cell[k] for k in ("idx", "prompt_idx", "target_idx", "status", "score", "output", "error",
                                         "latency_ms", "first_delta_ms", "max_gap_ms", "stalled_ms", "frames",
                                         "deltas")}  # fmt: skip
            row["cells"].append(item)
        return [rows[k] for k in sorted(rows)], total

    def result(self, run_id: str, index: int) -> dict[str, Any] | None:
        """One result in full, frames included."""
        row = self._db.execute(
            "SELECT * FROM results WHERE run_id = ? AND idx = ?", (run_id, index)
        ).fetchone()
        if row is None:
            return None
        record = dict(row)
        # Never written: the first frame is often `ready`, which says nothing of the stream.
        record.pop("first_frame_ms")
        record["vars"] = json.loads(record.pop("vars_json"))
        record["grading"] = json.loads(record.pop("grading_json") or "null")
        record["frames_list"] = unpack_frames(record.pop("frames_blob"))
        record["previous"], record["next"] = self._neighbours(run_id, index)
        return record

    def _neighbours(self, run_id: str, index: int) -> tuple[int | None, int | None]:
        """The results just before and after `index` in plan order."""
        before = self._db.execute(
            "SELECT max(idx) FROM results WHERE run_id = ? AND idx < ?", (run_id, index)
        ).fetchone()[0]
        after = self._db.execute(
            "SELECT min(idx) FROM results WHERE run_id = ? AND idx > ?", (run_id, index)
        ).fetchone()[0]
        return before, after

    def all_results(self, run_id: str) -> Iterator[dict[str, Any]]:
        """Every result of a run, without frames, in plan order (for export)."""
        cursor = self._db.execute(
            "SELECT idx, test_idx, prompt_idx, target_idx, repeat_idx, description, vars_json, prompt, status,"
            " score, output, error, reason, latency_ms, first_delta_ms, max_gap_ms, stalled_ms, deltas, frames, bytes"
            " FROM results WHERE run_id = ? ORDER BY idx",
            (run_id,),
        )
        for row in cursor:
            record = dict(row)
            record["vars"] = json.loads(record.pop("vars_json"))
            yield record

    def _run_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """A run as readers see it: `done` of `planned`, the pass rate of what ran, and a status
        that tells a run in progress (`running`) from one whose writer died (`incomplete`)."""
        row["columns"] = json.loads(row.pop("columns_json"))
        row["done"] = row["passed"] + row["failed"] + row["errors"]
        row["pass_rate"] = round(100.0 * row["passed"] / row["done"], 2) if row["done"] else None
        owner = row.pop("owner", None)
        if row["status"] == "running":
            row["status"] = "running" if is_alive(owner) else "incomplete"
            row.update(self._stream_figures(row["id"]))
        return row

    def compare(self, first: str, second: str) -> list[dict[str, Any]]:
        """Results of two runs matched by test, prompt, target and repeat."""
        rows = self._db.execute(
            "SELECT a.test_idx, a.prompt_idx, a.target_idx, a.repeat_idx, a.description, a.vars_json,"
            " a.idx AS a_idx, b.idx AS b_idx, a.status AS a_status, b.status AS b_status,"
            " a.score AS a_score, b.score AS b_score, a.latency_ms AS a_latency, b.latency_ms AS b_latency,"
            " a.first_delta_ms AS a_ttft, b.first_delta_ms AS b_ttft, a.max_gap_ms AS a_gap, b.max_gap_ms AS b_gap,"
            " a.stalled_ms AS a_stalled, b.stalled_ms AS b_stalled"
            " FROM results a JOIN results b ON a.test_idx = b.test_idx AND a.prompt_idx = b.prompt_idx"
            " AND a.target_idx = b.target_idx AND a.repeat_idx = b.repeat_idx"
            " WHERE a.run_id = ? AND b.run_id = ? ORDER BY a.test_idx, a.repeat_idx, a.prompt_idx, a.target_idx",
            (first, second),
        ).fetchall()
        out = []
        for row in rows:
            record = dict(row)
            record["vars"] = json.loads(record.pop("vars_json"))
            out.append(record)
        return out


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]


def _row(run_id: str, r: ResultRecord) -> tuple[Any, ...]:
    """A result in RESULT_COLUMNS order."""
    grading = None if r.grading is None else json.dumps(r.grading, ensure_ascii=False, default=str)
    return (
        run_id, r.idx, r.test_idx, r.prompt_idx, r.target_idx, r.repeat_idx, r.description,
        json.dumps(r.vars, ensure_ascii=False, default=str), r.prompt, r.status, r.score, r.output,
        r.error, r.reason, grading, r.latency_ms, r.first_delta_ms, r.max_gap_ms, r.stalled_ms,
        r.frames, r.deltas, r.bytes, r.frames_dropped, pack_frames(r.frames_list),
    )  # fmt: skip


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
