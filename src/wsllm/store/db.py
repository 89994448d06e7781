"""Runs and results in SQLite: written as each test finishes, read by the viewer.

WAL mode lets several runs write at once and the viewer read meanwhile. A file that is not a
wsllm database, is damaged, or comes from a newer wsllm is refused with a clear error and never
written to.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wsllm.errors import WsllmError
from wsllm.evals.results import TestResult
from wsllm.evals.runner import EvalRun
from wsllm.store.schema import MIGRATIONS, SCHEMA_VERSION


class StoreError(WsllmError):
    """The database cannot be used; the message says why and what to do."""


def default_db_path() -> Path:
    """$WSLLM_DB, else the per-user data folder: $XDG_DATA_HOME/wsllm/results.db."""
    if os.environ.get("WSLLM_DB"):
        return Path(os.environ["WSLLM_DB"])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "wsllm" / "results.db"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def pack_frames(result: TestResult) -> bytes:
    """The frames kept (the first `--max-frames`) with their arrival times, as compressed JSON."""
    frames = [[round(f.at_ms, 3), f.data] for f in result.response.frames]
    return zlib.compress(json.dumps(frames, ensure_ascii=False).encode(), 3)


def unpack_frames(blob: bytes | None) -> list[list[Any]]:
    """[[at_ms, data], ...] from a stored blob."""
    if not blob:
        return []
    frames: list[list[Any]] = json.loads(zlib.decompress(blob))
    return frames


class ResultStore:
    """One open database."""

    def __init__(self, path: Path, create: bool = True) -> None:
        self.path = path
        if not path.exists() and not create:
            raise StoreError(f"{path}: no results database here (run `wsllm eval` first)")
        self._db = self._open(path)
        self._migrate()

    def _open(self, path: Path) -> sqlite3.Connection:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout = 10000")
            self._check_header(db)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{path} is not a wsllm results database, or it is damaged ({exc}); it was left as it is"
            ) from exc
        except OSError as exc:
            raise StoreError(f"{path}: cannot open: {exc.strerror or exc}") from exc
        return db

    def _check_header(self, db: sqlite3.Connection) -> None:
        # A full integrity check would grow with the file; the header and the schema page tell
        # a stray or truncated file apart at once, and later damage surfaces as DatabaseError.
        if self.path.exists() and self.path.stat().st_size > 0:
            with self.path.open("rb") as handle:
                if handle.read(16) != b"SQLite format 3\x00":
                    raise sqlite3.DatabaseError("file is not a database")
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
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
        for number in range(version, SCHEMA_VERSION):
            with self._transaction():
                script = MIGRATIONS[number] + f";\nPRAGMA user_version = {number + 1};"
                self._db.executescript("BEGIN;\n" + script + "\nCOMMIT;")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def begin_run(self, run: EvalRun) -> None:
        """Record a run as it starts."""
        config = run.config
        columns = [
            {"prompt": p.label, "target": t.label, "prompt_idx": pi, "target_idx": ti}
            for pi, p in enumerate(config.prompts)
            for ti, t in enumerate(config.targets)
        ]
        self._db.execute(
            "INSERT INTO runs (id, created_at, description, config_path, config_json, status, planned, columns_json)"
            " VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
            (run.id, run.started_at.isoformat(), config.description, str(config.path),
             json.dumps(config.raw, ensure_ascii=False, default=str), run.planned, json.dumps(columns)),
        )  # fmt: skip

    def add_results(self, run_id: str, results: list[tuple[int, TestResult]]) -> None:
        """Store finished results (index in the plan, result), in one transaction."""
        rows = [self._row(run_id, index, result) for index, result in results]
        self._db.execute("BEGIN")
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            self._db.execute("COMMIT")

    @staticmethod
    def _row(run_id: str, index: int, r: TestResult) -> tuple[Any, ...]:
        m = r.response.metrics
        grading = r.grading
        return (
            run_id, index, r.test.index, r.prompt_index, r.target_index, r.repeat_index,
            r.test.description, json.dumps(r.test.vars, ensure_ascii=False, default=str),
            r.rendered_prompt, r.status, r.score, _text(r.response.output), r.response.error,
            grading.reason if grading else None,
            json.dumps(grading.as_dict(), ensure_ascii=False, default=str) if grading else None,
            m.total_ms, m.first_frame_ms, m.first_delta_ms, m.max_gap_ms, m.frames, m.bytes,
            r.response.frames_dropped, pack_frames(r),
        )  # fmt: skip

    def finish_run(self, run: EvalRun, summary: dict[str, Any]) -> None:
        """Record how the run ended."""
        counts = run.counts()
        status = "interrupted" if run.interrupted else "finished"
        self._db.execute(
            "UPDATE runs SET status = ?, duration_s = ?, passed = ?, failed = ?, errors = ?, summary_json = ?"
            " WHERE id = ?",
            (status, run.duration_s, counts["pass"], counts["fail"], counts["error"], json.dumps(summary), run.id),
        )  # fmt: skip

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
            "SELECT id, created_at, description, config_path, status, duration_s, planned, passed, failed, errors"
            f" FROM runs {where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        return [_run_row(dict(r)) for r in rows], total

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run's record, or None."""
        row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        record = _run_row(dict(row))
        record["columns"] = json.loads(record.pop("columns_json"))
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
            " max_gap_ms, frames FROM results WHERE run_id = ? AND test_idx BETWEEN ? AND ?"
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
                                         "latency_ms", "first_delta_ms", "max_gap_ms", "frames")}  # fmt: skip
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
        record["vars"] = json.loads(record.pop("vars_json"))
        record["grading"] = json.loads(record.pop("grading_json") or "null")
        record["frames_list"] = unpack_frames(record.pop("frames_blob"))
        return record

    def all_results(self, run_id: str) -> Iterator[dict[str, Any]]:
        """Every result of a run, without frames, in plan order (for export)."""
        cursor = self._db.execute(
            "SELECT idx, test_idx, prompt_idx, target_idx, repeat_idx, description, vars_json, prompt, status,"
            " score, output, error, reason, latency_ms, first_frame_ms, first_delta_ms, max_gap_ms, frames, bytes"
            " FROM results WHERE run_id = ? ORDER BY idx",
            (run_id,),
        )
        for row in cursor:
            record = dict(row)
            record["vars"] = json.loads(record.pop("vars_json"))
            yield record

    def compare(self, first: str, second: str) -> list[dict[str, Any]]:
        """Results of two runs matched by test, prompt, target and repeat."""
        rows = self._db.execute(
            "SELECT a.test_idx, a.prompt_idx, a.target_idx, a.repeat_idx, a.description, a.vars_json,"
            " a.idx AS a_idx, b.idx AS b_idx, a.status AS a_status, b.status AS b_status,"
            " a.score AS a_score, b.score AS b_score, a.latency_ms AS a_latency, b.latency_ms AS b_latency,"
            " a.first_delta_ms AS a_ttft, b.first_delta_ms AS b_ttft"
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


def _run_row(row: dict[str, Any]) -> dict[str, Any]:
    done = row["passed"] + row["failed"] + row["errors"]
    row["pass_rate"] = round(100.0 * row["passed"] / done, 2) if done else None
    if row["status"] == "running":
        row["status"] = "incomplete"  # running now, or ended without finishing (a crash)
    return row
