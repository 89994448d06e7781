"""`wsllm eval` as a subprocess: exit codes, the table, output files, filters and Ctrl-C."""

from __future__ import annotations

import asyncio
import csv
import json
import signal
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

from tests.cli_process import clean_env, run_wsllm
from tests.conftest import ServerFactory
from tests.evals.helpers import target_config, write_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "websockets-streaming"


async def example_here(start_server: ServerFactory, folder: Path) -> Path:
    base = await start_server(sim_ttft_ms="5", sim_itl_ms="0", sim_tokens="30")
    port = base.rsplit(":", 1)[1]
    text = (
        (EXAMPLE / "promptfooconfig.yaml")
        .read_text()
        .replace("localhost:3300", f"localhost:{port}")
    )
    return write_config(folder, text)


async def test_the_seed_example_passes_with_every_output(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    config = await example_here(start_server, tmp_path)
    outputs = [str(tmp_path / name) for name in ("r.json", "r.csv", "r.junit.xml", "r.html")]
    args = ["eval", "-c", str(config), *(x for o in outputs for x in ("-o", o))]
    code, out, err = await run_wsllm(*args, cwd=tmp_path, env=clean_env())
    assert code == 0, out + err
    assert out.count("[PASS]") == 4
    assert "Results: ✓ 4 passed, 0 failed, 0 errors (100.00%)" in out
    assert "TTFT" in out
    assert "frames" in out
    document = json.loads((tmp_path / "r.json").read_text())
    rows = document["results"]["results"]
    assert [r["success"] for r in rows] == [True] * 4
    assert all(r["response"]["output"].startswith("Simulated reply to") for r in rows)
    assert all(r["streamMetrics"]["firstDeltaMs"] > 0 for r in rows)
    assert document["results"]["stats"] == {
        **document["results"]["stats"],
        "successes": 4,
        "failures": 0,
    }
    with open(tmp_path / "r.csv", newline="") as handle:
        assert [row["status"] for row in csv.DictReader(handle)] == ["pass"] * 4
    suites = ET.parse(tmp_path / "r.junit.xml").getroot()
    assert (suites.get("tests"), suites.get("failures"), suites.get("errors")) == ("4", "0", "0")
    assert "Simulated reply to" in (tmp_path / "r.html").read_text()


async def test_a_failing_test_exits_100_or_as_configured(ws_targets: str, tmp_path: Path) -> None:
    text = target_config(f"{ws_targets}/seed") + "    assert: [{type: contains, value: nowhere}]\n"
    config = write_config(tmp_path, text)
    code, out, _ = await run_wsllm("eval", "-c", str(config), cwd=tmp_path, env=clean_env())
    assert code == 100
    assert "[FAIL]" in out
    assert 'Expected output to contain "nowhere"' in out
    code, _, _ = await run_wsllm(
        "eval", "-c", str(config), cwd=tmp_path, env=clean_env(WSLLM_FAILED_TEST_EXIT_CODE="3")
    )
    assert code == 3


async def test_a_dead_target_is_an_error_row_not_a_crash(tmp_path: Path) -> None:
    config = write_config(tmp_path, target_config("ws://127.0.0.1:9/ws"))
    code, out, err = await run_wsllm("eval", "-c", str(config), cwd=tmp_path, env=clean_env())
    assert code == 100
    assert "[ERROR] cannot connect to ws://127.0.0.1:9/ws" in out
    assert "Traceback" not in out + err


async def test_a_config_error_exits_1_before_any_request(tmp_path: Path) -> None:
    config = write_config(tmp_path, "prompts: [x]\nproviders: [{id: 'ws://127.0.0.1:9/ws'}]\n")
    code, out, err = await run_wsllm("eval", "-c", str(config), cwd=tmp_path, env=clean_env())
    assert code == 1
    assert out == ""
    assert "wsllm: error: promptfooconfig.yaml: providers[0].config.messageTemplate: missing" in err
    assert "Traceback" not in err


async def test_filters_and_repeat(ws_targets: str, tmp_path: Path) -> None:
    tests = "".join(f"  - description: case {i}\n    vars: {{question: q{i}}}\n" for i in range(6))
    text = target_config(f"{ws_targets}/seed").split("tests:")[0] + "tests:\n" + tests
    config = write_config(tmp_path, text)
    out_file = tmp_path / "r.json"

    async def count(*flags: str) -> int:
        code, _, _ = await run_wsllm("eval", "-c", str(config), "-o", str(out_file), *flags,
                                     cwd=tmp_path, env=clean_env())  # fmt: skip
        assert code == 0
        return len(json.loads(out_file.read_text())["results"]["results"])

    assert await count() == 6
    assert await count("--filter-first-n", "2") == 2
    assert await count("--filter-pattern", "case [135]") == 3
    assert await count("--repeat", "3", "--filter-first-n", "1", "-j", "2") == 3


async def test_ctrl_c_stops_cleanly_and_keeps_what_finished(
    ws_targets: str, tmp_path: Path
) -> None:
    tests = "".join(f"  - vars: {{question: q{i}}}\n" for i in range(40))
    text = target_config(f"{ws_targets}/slow").split("tests:")[0] + "tests:\n" + tests
    config = write_config(tmp_path, text)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wsllm", "eval", "-c", str(config), "-j", "2", "-o", str(tmp_path / "r.json"),
        cwd=tmp_path, env=clean_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await asyncio.sleep(2.0)
    process.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 130, err.decode()
    document = json.loads((tmp_path / "r.json").read_text())
    finished = len(document["results"]["results"])
    assert 0 < finished < 40
    assert document["wsllm"]["interrupted"] is True
    assert f"Stopped early: {finished} of 40 finished" in out.decode()


async def test_outputs_are_untrusted_text_in_the_html_report(
    ws_targets: str, tmp_path: Path
) -> None:
    text = target_config(f"{ws_targets}/seed").replace("hello there", "<script>alert(1)</script>")
    config = write_config(tmp_path, text)
    code, _, _ = await run_wsllm("eval", "-c", str(config), "-o", str(tmp_path / "r.html"),
                                 cwd=tmp_path, env=clean_env())  # fmt: skip
    assert code == 0
    page = (tmp_path / "r.html").read_text()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


async def test_an_unknown_output_format_is_refused_up_front(
    ws_targets: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, target_config(f"{ws_targets}/seed"))
    code, _, err = await run_wsllm(
        "eval", "-c", str(config), "-o", "r.docx", cwd=tmp_path, env=clean_env()
    )
    assert code == 1
    assert "r.docx: unknown format" in err


async def test_a_progress_bar_on_a_terminal(ws_targets: str, tmp_path: Path) -> None:
    import os
    import pty

    tests = "".join(f"  - vars: {{question: q{i}}}\n" for i in range(8))
    config = write_config(
        tmp_path, target_config(f"{ws_targets}/slow").split("tests:")[0] + "tests:\n" + tests
    )
    leader, follower = pty.openpty()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wsllm", "eval", "-c", str(config), "-j", "2", "--no-table",
        cwd=tmp_path, env=clean_env(COLUMNS="100"), stdout=asyncio.subprocess.PIPE, stderr=follower,
    )  # fmt: skip
    os.close(follower)
    await asyncio.wait_for(process.wait(), 30)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    screen = seen.decode(errors="replace")
    assert "eval" in screen
    assert "/8" in screen
    assert "pass" in screen


async def test_graded_assertions_from_the_command_line(
    ws_targets: str, tmp_path: Path, fake_grader: object
) -> None:
    text = (
        target_config(f"{ws_targets}/seed")
        + "    assert: [{type: llm-rubric, value: Thanks the user}]\n"
    )
    config = write_config(tmp_path, text)
    base_url = fake_grader.base_url  # type: ignore[attr-defined]
    env = clean_env(OPENAI_BASE_URL=base_url, OPENAI_API_KEY="gk")
    code, out, err = await run_wsllm(
        "eval", "-c", str(config), "--grader", "openai:chat:judge", cwd=tmp_path, env=env
    )
    assert code == 0, err
    assert "Grader: 1 calls, 120 tokens, 0 from cache" in out
    code, out, _ = await run_wsllm(
        "eval", "-c", str(config), "--grader", "simulated", cwd=tmp_path, env=clean_env()
    )
    assert "the simulated grader: it is not a real judge" in out
    code, _, err = await run_wsllm(
        "eval", "-c", str(config), "--grader", "anthropic:x", cwd=tmp_path, env=clean_env()
    )
    assert code == 1
    assert "use openai:chat:MODEL, openai:responses:MODEL or simulated" in err


async def test_output_path_and_delay_from_the_config(ws_targets: str, tmp_path: Path) -> None:
    tests = "".join(f"  - vars: {{question: q{i}}}\n" for i in range(3))
    text = target_config(f"{ws_targets}/seed").split("tests:")[0] + "tests:\n" + tests
    text += "outputPath: [from-config.json, from-config.csv]\nevaluateOptions: {delay: 50, maxConcurrency: 8}\n"
    config = write_config(tmp_path, text)
    code, out, _ = await run_wsllm("eval", "-c", str(config), cwd=tmp_path, env=clean_env())
    assert code == 0
    rows = json.loads((tmp_path / "from-config.json").read_text())["results"]["results"]
    assert len(rows) == 3
    assert (tmp_path / "from-config.csv").read_text().count("\n") == 4
    # With a delay the tests run one at a time, 50 ms apart: the run cannot be shorter than that
    # (a lower bound, so a slow machine cannot make it fail).
    document = json.loads((tmp_path / "from-config.json").read_text())
    assert document["wsllm"]["summary"]["durationS"] >= 0.15
    assert "Wrote" in out
