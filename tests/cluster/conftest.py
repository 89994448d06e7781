"""The cluster test bed (examples/cluster/cluster.py): Redis, nodes and HAProxy as real
processes on loopback."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

_PATH = Path(__file__).resolve().parents[2] / "examples" / "cluster" / "cluster.py"
_spec = importlib.util.spec_from_file_location("wsllm_cluster_testbed", _PATH)
assert _spec is not None
assert _spec.loader is not None
testbed: Any = importlib.util.module_from_spec(_spec)
sys.modules["wsllm_cluster_testbed"] = testbed
_spec.loader.exec_module(testbed)


@pytest.fixture
async def cluster() -> AsyncIterator[Any]:
    """Redis, three nodes (simulated model, 5 ms a token) and HAProxy in front."""
    bed = testbed.Cluster(env={"WSLLM_RESUME_GRACE": "5", "WSLLM_DRAIN_TIMEOUT": "8"})
    try:
        await bed.start()
        yield bed
    finally:
        await bed.stop()
