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
    # 2: what a reader needs to tell the truth at a glance. Per result, the silence before a cut
    # (a stall) and the delta count; per run, the writer (to tell running from crashed) and the
    # run's stream figures. Configs stored before redaction existed lose their secrets now.
    """
    ALTER TABLE results ADD COLUMN stalled_ms REAL;
    ALTER TABLE results ADD COLUMN deltas INTEGER;
    ALTER TABLE runs ADD COLUMN owner TEXT;
    ALTER TABLE runs ADD COLUMN ttft_p50_ms REAL;
    ALTER TABLE runs ADD COLUMN ttft_p95_ms REAL;
    ALTER TABLE runs ADD COLUMN gap_p95_ms REAL;
    ALTER TABLE runs ADD COLUMN gap_max_ms REAL;
    ALTER TABLE runs ADD COLUMN stalled INTEGER NOT NULL DEFAULT 0;
    UPDATE runs SET
        ttft_p50_ms = json_extract(summary_json, '$.firstDeltaMs.p50'),
        ttft_p95_ms = json_extract(summary_json, '$.firstDeltaMs.p95'),
        gap_p95_ms = json_extract(summary_json, '$.maxGapMs.p95'),
        gap_max_ms = json_extract(summary_json, '$.maxGapMs.max')
        WHERE json_valid(summary_json);
    UPDATE runs SET config_json = wsllm_redact_json(config_json);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
