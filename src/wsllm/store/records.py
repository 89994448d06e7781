"""What the store keeps, as plain records: it knows nothing of how runs are made."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run as it starts: who it is, what it runs, and its columns (target x prompt)."""

    id: str
    created_at: str
    description: str | None
    config_path: str
    config: dict[str, Any]
    planned: int
    columns: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class RunEnd:
    """How a run ended."""

    status: str
    duration_s: float
    passed: int
    failed: int
    errors: int
    summary: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ResultRecord:
    """One finished test on one column, with its stream's figures and frames."""

    idx: int
    test_idx: int
    prompt_idx: int
    target_idx: int
    repeat_idx: int
    description: str | None
    vars: dict[str, Any]
    prompt: str
    status: str
    score: float
    output: str | None
    error: str | None
    reason: str | None
    grading: dict[str, Any] | None
    latency_ms: float | None
    first_delta_ms: float | None
    max_gap_ms: float | None
    frames: int
    bytes: int
    frames_dropped: int = 0
    stalled_ms: float | None = None
    deltas: int | None = None
    frames_list: list[tuple[float, str]] = field(default_factory=list)
