"""What `wsllm eval` prints, read as a person reads it: the stall named in its cell and counted in
the summary, one name for time to first delta, columns headed by the target's label, and a run
stopped early saying how far it got."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

from tests.cli_process import clean_env, run_wsllm
from tests.evals.helpers import SEED_STREAM, target_config, write_config
from tests.viewer.conftest import eval_until, suite


def two_targets(ws_targets: str) -> str:
    stream = "\n".join(" " * 8 + line for line in SEED_STREAM.strip().splitlines())
    target = (
        "  - id: '{url}'\n    label: {label}\n    config:\n"
        "      messageTemplate: '{{\"input\": {{{{prompt | dump}}}}}}'\n{extra}"
        "      streamResponse: |\n{stream}\n"
    )
    return (
        "prompts: ['{{question}}']\nproviders:\n"
        + target.format(
            url=f"{ws_targets}/stall",
            label="staller",
            extra="      timeoutMs: 800\n",
            stream=stream,
        )
        + target.format(url=f"{ws_targets}/seed", label="healthy", extra="", stream=stream)
        + "tests:\n  - vars: {question: 'hello there'}\n"
    )


async def test_a_stalled_stream_is_named_in_its_cell_and_in_the_summary(
    ws_targets: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, two_targets(ws_targets))
    code, out, err = await run_wsllm(
        "eval", "-c", str(config), "--no-write", cwd=tmp_path, env=clean_env()
    )
    assert code == 100, out + err
    assert "[staller] {{question}}" in out  # each column is headed by its target's label
    assert "[healthy] {{question}}" in out
    flat = " ".join(out.replace("│", " ").split())
    stall = re.search(
        r"stalled (\d+)ms: silence from the last delta until the stream was cut", flat
    )
    assert stall, out
    assert int(stall.group(1)) >= 700
    gap = re.search(r"largest gap (\d+)ms · total \d+ms · 1 delta ", flat)
    assert gap, out
    assert int(gap.group(1)) >= 700  # the silence before the cut counts as a gap
    assert "1 stream stalled: silence until the stream was cut" in out
    assert re.search(r"TTFT \(time to first delta\) p50 [\d.]+ms p95 [\d.]+ms", out)
    assert "TTFT = time to first delta" in out
    assert "first frame" not in out


async def test_a_run_stopped_early_says_how_far_it_got(ws_targets: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, suite(f"{ws_targets}/slow", 40, "forty slow tests"))
    db = tmp_path / "r.db"
    process = await eval_until(config, db, 8, "-j", "1")
    process.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    text = out.decode()
    assert process.returncode == 130, text + err.decode()
    ran = re.search(
        r"Results: ✓ (\d+) passed, 0 failed, 0 errors \(100\.00% of \1\) · \1 of 40 tests ran", text
    )
    assert ran, text
    assert f"Stopped early: {ran.group(1)} of 40 finished" in text


async def test_every_failing_reason_is_in_the_cell(ws_targets: str, tmp_path: Path) -> None:
    text = suite(f"{ws_targets}/seed", 1, "two wrongs",
                 assertion="    assert: [{type: contains, value: banana}, {type: regex, value: '^[0-9]+$'}]\n")  # fmt: skip
    config = write_config(tmp_path, text)
    code, out, err = await run_wsllm(
        "eval", "-c", str(config), "--no-write", cwd=tmp_path, env=clean_env()
    )
    assert code == 100, out + err
    flat = " ".join(out.replace("│", " ").split())
    assert 'contains: banana: Expected output to contain "banana"' in flat
    assert "regex: ^[0-9]+$: Expected output to match regex" in flat


NEVER_DONE = """
(accumulator, event, context) => [{output: JSON.parse(event.data).message}, false]
"""


async def test_silence_after_the_servers_done_is_not_called_a_stall(
    ws_targets: str, tmp_path: Path
) -> None:
    text = target_config(
        f"{ws_targets}/seed", stream=NEVER_DONE, extra="          timeoutMs: 600\n"
    )
    config = write_config(tmp_path, text)
    code, out, err = await run_wsllm(
        "eval", "-c", str(config), "--no-write", cwd=tmp_path, env=clean_env()
    )
    assert code == 100, out + err
    flat = " ".join(out.replace("│", " ").split())
    assert "the stream ended with `done`" in flat
    assert "streamResponse never returned true" in flat
    assert "stalled" not in out
