"""The viewer at scale: the runs page with 1,000 runs, and a run of 10,000 tests opened to its
first page, timed in headless Chromium from navigation to the table on screen.

    python benchmarks/viewer_scale.py --rounds 3

Needs the dev install (Playwright) and a Chromium on PATH (Debian's `chromium`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

from playwright.async_api import async_playwright

from wsllm.store import ResultStore

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


RESULTS_INSERT = (
    "INSERT INTO results (run_id, idx, test_idx, prompt_idx, target_idx, repeat_idx, description, vars_json,"
    " prompt, status, score, output, error, reason, grading_json, latency_ms, first_frame_ms, first_delta_ms,"
    " max_gap_ms, frames, bytes, frames_dropped, frames_blob) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def build(path: Path, runs: int, big: int) -> str:
    """A database of `runs` small runs and one of `big` tests; returns the big run's id."""
    ResultStore(path).close()
    frames = zlib.compress(
        json.dumps([[i * 2.0, '{"type":"delta","message":"x"}'] for i in range(60)]).encode()
    )
    columns = json.dumps(
        [
            {
                "prompt": "{{question}}",
                "target": "ws://localhost/ws-stream",
                "prompt_idx": 0,
                "target_idx": 0,
            }
        ]
    )
    with sqlite3.connect(path) as db:
        run_rows = [(f"eval-{i:05d}", f"2026-11-{1 + i % 28:02d}T10:{i % 60:02d}:00", f"suite {i}", "c.yaml", "{}",
                     "finished", 1.5, 5, 4, 1, 0, columns, "{}") for i in range(runs)]  # fmt: skip
        big_id = "eval-big"
        run_rows.append((big_id, "2026-11-30T10:00:00", "ten thousand tests", "c.yaml", "{}", "finished",
                         90.0, big, big - 300, 200, 100, columns, "{}"))  # fmt: skip
        db.executemany("INSERT INTO runs (id, created_at, description, config_path, config_json, status, duration_s,"
                       " planned, passed, failed, errors, columns_json, summary_json) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       run_rows)  # fmt: skip

        def result(run_id: str, i: int) -> tuple[object, ...]:
            status = "pass" if i % 33 else "fail"
            return (run_id, i, i, 0, 0, 0, f"test {i}", json.dumps({"question": f"question {i}"}), f"question {i}",
                    status, 1.0 if status == "pass" else 0.0, f"answer number {i} " * 8, None, "ok", None,
                    120.0, 2.0, 30.0, 4.0, 62, 2400, 0, frames)  # fmt: skip

        db.executemany(RESULTS_INSERT,
                       (result(f"eval-{r:05d}", i) for r in range(runs) for i in range(5)))  # fmt: skip
        db.executemany(RESULTS_INSERT,
                       (result(big_id, i) for i in range(big)))  # fmt: skip
    return big_id


async def measure(db: Path, big_id: str, rounds: int) -> dict[str, list[float]]:
    """Seconds from navigation to each page's table, per round."""
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "wsllm", "view", "--db", str(db),
                                                   "--port", "0", stderr=asyncio.subprocess.PIPE)  # fmt: skip
    assert process.stderr is not None
    line = (await process.stderr.readline()).decode()
    match = re.search(r"on (http://[\d.]+:\d+)", line)
    assert match, line
    base = match.group(1)
    times: dict[str, list[float]] = {
        "runs page, 1000 runs": [],
        "run of 10000 tests, first page": [],
    }
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        for _ in range(rounds):
            page = await browser.new_page()
            started = time.perf_counter()
            await page.goto(base + "/")
            await page.wait_for_selector("tr.run-row >> nth=999")
            times["runs page, 1000 runs"].append(time.perf_counter() - started)
            started = time.perf_counter()
            await page.goto(f"{base}/#/run/{big_id}")
            await page.reload()
            await page.wait_for_selector("tr.test-row >> nth=99")
            times["run of 10000 tests, first page"].append(time.perf_counter() - started)
            await page.close()
        await browser.close()
    process.terminate()
    await process.wait()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--tests", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "results.db"
        started = time.perf_counter()
        big_id = build(db, args.runs - 1, args.tests)
        print(
            f"built {args.runs} runs ({db.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s"
        )
        times = asyncio.run(measure(db, big_id, args.rounds))
    for name, values in times.items():
        print(
            f"{name}: median {statistics.median(values):.3f} s (rounds: {', '.join(f'{v:.3f}' for v in values)})"
        )


if __name__ == "__main__":
    main()
