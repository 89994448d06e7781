"""The database schema, as numbered migrations; `PRAGMA user_version` is the version applied."""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: runs and their results, frames kept as one compressed blob per result.
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        description TEXT,
        config_path TEXT,
        config_json TEXT,
        status TEXT NOT NULL,
        duration_s REAL,
        planned INTEGER NOT NULL,
        passed INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        columns_json TEXT NOT NULL,
        summary_json TEXT
    );
    CREATE INDEX runs_created ON runs (created_at);
    CREATE TABLE results (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        test_idx INTEGER NOT NULL,
        prompt_idx INTEGER NOT NULL,
        target_idx INTEGER NOT NULL,
        repeat_idx INTEGER NOT NULL,
        description TEXT,
        vars_json TEXT NOT NULL,
        prompt TEXT NOT NULL,
        status TEXT NOT NULL,
        score REAL NOT NULL,
        output TEXT,
        error TEXT,
        reason TEXT,
        grading_json TEXT,
        latency_ms REAL,
        first_frame_ms REAL,
        first_delta_ms REAL,
        max_gap_ms REAL,
        frames INTEGER,
        bytes INTEGER,
        frames_dropped INTEGER NOT NULL DEFAULT 0,
        frames_blob BLOB,
        PRIMARY KEY (run_id, idx)
    );
    CREATE INDEX results_rows ON results (run_id, test_idx, repeat_idx);
    CREATE INDEX results_status ON results (run_id, status);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
