"""What a user sees from `wsllm eval` (a subprocess) when things go wrong: a target nobody
serves, a flag it does not know, a Python function that never returns, a template that fails,
a config that is a YAML bomb or is not UTF-8; and hints that run as printed."""

from __future__ import annotations

import asyncio
import re
import shlex
import signal
import socket
import sys
from pathlib import Path

from tests.cli_process import clean_env, run_wsllm
from tests.conftest import ServerFactory
from tests.evals.helpers import target_config, write_config
from wsllm.store import ResultStore


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_target_nobody_serves_stops_the_run_and_says_how_to_start_one(
    tmp_path: Path,
) -> None:
    text = target_config(f"ws://127.0.0.1:{closed_port()}/ws-stream")
    text += "".join(f"  - vars: {{question: q{i}}}\n" for i in range(40))
    config = write_config(tmp_path, text)
    db = tmp_path / "runs.db"
    code, out, err = await run_wsllm(
        "eval", "-c", str(config), "--db", str(db), "-j", "2", cwd=tmp_path, env=clean_env()
    )
    assert code == 1
    assert "Nothing is listening at ws://127.0.0.1:" in out
    assert "wsllm serve" in out
    assert "stopped early: nothing answered" in out
    assert "Traceback" not in out + err
    [run] = ResultStore(db).runs(10, 0, None)[0]
    assert run["status"] == "interrupted"
    counted = sum(run.get(k) or 0 for k in ("passed", "failed", "errors"))
    assert counted < 41  # it did not fail every test the same way


async def test_the_browse_hint_runs_as_printed(ws_targets: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, target_config(f"{ws_targets}/seed"))
    env = clean_env(PATH="/usr/bin:/bin")  # as after the README's set-up: no wsllm on PATH
    db = tmp_path / "runs.db"
    code, out, err = await run_wsllm(
        "eval", "-c", str(config), "--db", str(db), cwd=tmp_path, env=env
    )
    assert code == 0, out + err
    match = re.search(r"Browse it: (.+) view --db (\S+)", out)
    assert match is not None, out
    command = shlex.split(match.group(1))
    process = await asyncio.create_subprocess_exec(
        *command, "view", "--help", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    help_text, _ = await process.communicate()
    assert process.returncode == 0
    assert b"usage: wsllm view" in help_text


async def test_an_unknown_flag_prints_evals_own_usage_and_every_flag_has_help(
    tmp_path: Path,
) -> None:
    code, out, err = await run_wsllm("eval", "--bogus", cwd=tmp_path, env=clean_env())
    assert code == 2
    assert "usage: wsllm eval" in err
    assert "unrecognized arguments: --bogus" in err
    code, out, _ = await run_wsllm("eval", "--help", cwd=tmp_path, env=clean_env())
    assert code == 0
    options = re.findall(r"^  (-[^\n]*?)(?:  +(\S.*))?$", out, re.M)
    assert len(options) > 20
    undocumented = [flag for flag, words in options if not words and "\n" not in flag]
    # A flag whose help starts on the next line is fine; one with no help at all is not.
    lines = out.splitlines()
    for flag in undocumented:
        index = next(i for i, line in enumerate(lines) if line.startswith(f"  {flag}"))
        assert lines[index + 1].startswith(" " * 10), f"{flag} has no help"
    for extension in (".json", ".jsonl", ".yaml", ".csv", ".xml", ".html"):
        assert extension in out


PYTHON_FOREVER = """
prompts: ['{{question}}']
providers:
  - id: '%s'
    config:
      messageTemplate: '{"input": {{prompt | dump}}}'
tests:
  - vars: {question: a}
    assert:
      - type: python
        value: |
          while True:
              pass
  - vars: {question: b}
"""


async def test_ctrl_c_stops_a_python_function_that_never_returns(
    ws_targets: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, PYTHON_FOREVER % f"{ws_targets}/seed")
    db = tmp_path / "runs.db"
    for stop in (signal.SIGINT, signal.SIGTERM):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wsllm", "eval", "-c", str(config), "--db", str(db), "-j", "1",
            cwd=tmp_path, env=clean_env(), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await asyncio.sleep(2.5)  # well inside the function, well before its 10 s bound
        process.send_signal(stop)
        async with asyncio.timeout(5):
            out, err = await process.communicate()
        assert process.returncode == 130, err.decode()
        assert "Traceback" not in (out + err).decode()
    runs, _ = ResultStore(db).runs(10, 0, None)
    assert [r["status"] for r in runs] == ["interrupted", "interrupted"]


async def test_a_python_memory_error_is_worded_in_the_report(
    ws_targets: str, tmp_path: Path
) -> None:
    text = target_config(f"{ws_targets}/seed")
    text += "    assert:\n      - type: python\n        value: |\n          size = 1\n          raise MemoryError()\n"
    config = write_config(tmp_path, text)
    code, out, err = await run_wsllm("eval", "-c", str(config), "--no-write", cwd=tmp_path,
                                     env=clean_env())  # fmt: skip
    assert code == 100
    assert "ran out of memory (MemoryError)" in out
    assert "Traceback" not in out + err


async def test_a_template_error_is_that_tests_error_and_the_run_goes_on(
    ws_targets: str, tmp_path: Path
) -> None:
    text = target_config(f"{ws_targets}/seed")
    text += "  - vars: {question: '{{ nope() }}'}\n  - vars: {question: fine}\n"
    config = write_config(tmp_path, text)
    code, out, err = await run_wsllm(
        "eval", "-c", str(config), "--no-write", "-o", str(tmp_path / "r.json"), cwd=tmp_path,
        env=clean_env(),
    )  # fmt: skip
    assert code == 100
    assert "Results: ✓ 2 passed, 0 failed, 1 errors" in out
    assert "[ERROR] prompt:" in out
    assert "Traceback" not in out + err


async def test_a_yaml_bomb_is_refused_with_a_config_error(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    (tmp_path / "promptfooconfig.yaml").write_text("\n".join(lines) + "\nprompts: [x]\n")
    code, out, err = await run_wsllm("eval", cwd=tmp_path, env=clean_env())
    assert code == 1
    assert "promptfooconfig.yaml: refused: its aliases expand to more than" in err
    assert "Traceback" not in out + err


async def test_a_config_or_csv_that_is_not_utf8_is_a_config_error_naming_the_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "promptfooconfig.yaml").write_bytes(b"prompts: ['caf\xe9']\n")
    code, out, err = await run_wsllm("eval", cwd=tmp_path, env=clean_env())
    assert code == 1
    assert "promptfooconfig.yaml: not UTF-8 text (byte 14 cannot be decoded)" in err
    (tmp_path / "tests.csv").write_bytes(b"question\ncaf\xe9\n")
    text = target_config("ws://127.0.0.1:9/x").split("tests:")[0] + "tests: file://tests.csv\n"
    write_config(tmp_path, text)
    code, out, err = await run_wsllm("eval", cwd=tmp_path, env=clean_env())
    assert code == 1
    assert "tests.csv is not UTF-8 text (byte 12 cannot be decoded)" in err
    assert "Traceback" not in out + err


async def test_init_writes_a_starter_config_that_passes_against_wsllm_serve(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    base = await start_server(sim_ttft_ms="2", sim_itl_ms="0", sim_tokens="20")
    url = base.replace("http://", "ws://") + "/ws-stream"
    code, out, _ = await run_wsllm("init", "--url", url, cwd=tmp_path, env=clean_env())
    assert code == 0
    assert "Wrote promptfooconfig.yaml" in out
    code, _, err = await run_wsllm("init", cwd=tmp_path, env=clean_env())
    assert code == 1
    assert "already exists (--force replaces it)" in err
    code, out, err = await run_wsllm("eval", "--no-write", cwd=tmp_path, env=clean_env())
    assert code == 0, out + err
    assert "Results: ✓ 2 passed, 0 failed, 0 errors" in out


async def test_the_multi_target_example_passes_against_wsllm_serve(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    base = await start_server(sim_ttft_ms="2", sim_itl_ms="0", sim_tokens="20")
    port = base.rsplit(":", 1)[1]
    example = Path(__file__).resolve().parents[2] / "examples" / "multi-target"
    for name in ("promptfooconfig.yaml", "chat.json"):
        text = (example / name).read_text().replace("localhost:3300", f"localhost:{port}")
        (tmp_path / name).write_text(text)
    code, out, err = await run_wsllm("eval", "--no-write", cwd=tmp_path, env=clean_env())
    assert code == 0, out + err
    assert "Results: ✓ 6 passed, 0 failed, 0 errors" in out
    assert "[whole-answer] {{question}}" in out
