"""`wsllm demo`: the whole loop on a fresh machine, as the README's first command runs it."""

from __future__ import annotations

from pathlib import Path

from tests.cli_process import clean_env, run_wsllm
from wsllm.store import ResultStore


async def test_the_demo_serves_evaluates_stores_and_stops(tmp_path: Path) -> None:
    db = tmp_path / "results.db"
    code, out, err = await run_wsllm(
        "demo", "--db", str(db), "--port", "0", cwd=tmp_path, env=clean_env()
    )
    assert code == 0, err
    assert "wsllm serve is up on http://127.0.0.1:" in out
    assert out.count("[PASS]") == 4
    assert "Results: ✓ 4 passed, 0 failed, 0 errors" in out
    assert f"wsllm view --db {db}" in out
    store = ResultStore(db, create=False)
    [run], _ = store.runs(10, 0, None)
    assert (run["status"], run["passed"]) == ("finished", 4)
    store.close()
