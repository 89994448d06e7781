"""The seed example's config, run by promptfoo itself against `wsllm serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tests.cli_process import clean_env, run_wsllm
from tests.conftest import ServerFactory
from tests.evals.helpers import SEED_STREAM
from tests.promptfoo import promptfoo_eval

pytestmark = [pytest.mark.promptfoo, pytest.mark.timeout(600)]

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "websockets-streaming"


def config_for(base: str, tmp_path: Path, name: str = "promptfooconfig.yaml") -> Path:
    """An example config, pointed at the server under test instead of port 3300."""
    port = base.rsplit(":", 1)[1]
    text = (EXAMPLE / name).read_text().replace("localhost:3300", f"localhost:{port}")
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text(text)
    return config


def outcomes(results: dict[str, Any]) -> list[tuple[str, bool, str]]:
    rows = results["results"]["results"]
    return [
        (row["vars"]["question"], row["success"], (row.get("response") or {}).get("output", ""))
        for row in rows
    ]


async def test_promptfoo_passes_the_seed_example_against_wsllm(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    base = await start_server(sim_ttft_ms="5", sim_itl_ms="1", sim_tokens="24")
    results = await promptfoo_eval(config_for(base, tmp_path), tmp_path / "out.json", tmp_path)
    rows = outcomes(results)
    assert len(rows) == 4
    assert all(success for _, success, _ in rows), rows
    assert all(output.startswith("Simulated reply to") for _, _, output in rows)


async def test_promptfoo_on_ws_with_the_documented_stream_response(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    base = await start_server(sim_ttft_ms="5", sim_itl_ms="1", sim_tokens="24")
    config = config_for(base, tmp_path, "promptfooconfig.ws.yaml")
    rows = outcomes(await promptfoo_eval(config, tmp_path / "out.json", tmp_path))
    assert len(rows) == 4
    assert all(success for _, success, _ in rows), rows
    assert all(output.startswith("Simulated reply to") for _, _, output in rows)


async def test_promptfoo_reports_server_errors_as_errors(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    base = await start_server(max_frame_bytes="10")
    results = await promptfoo_eval(config_for(base, tmp_path), tmp_path / "out.json", tmp_path)
    rows = results["results"]["results"]  # type: ignore[index]
    assert len(rows) == 4
    assert all("over the limit" in (row.get("error") or "") for row in rows), rows


# Passing and failing cases of every deterministic assertion, and one request the server refuses.
COMPAT_TESTS: list[dict[str, Any]] = [
    {"description": "contains", "vars": {"question": "alpha"}, "assert": [{"type": "contains", "value": "alpha"}]},
    {"description": "contains fails", "vars": {"question": "beta"}, "assert": [{"type": "contains", "value": "gamma"}]},
    {"description": "icontains", "vars": {"question": "Delta"}, "assert": [{"type": "icontains", "value": "SIMULATED"}]},
    {"description": "not-contains", "vars": {"question": "eps"}, "assert": [{"type": "not-contains", "value": "eps"}]},
    {"description": "contains-any", "vars": {"question": "zeta"}, "assert": [{"type": "contains-any", "value": ["nope", "zeta"]}]},
    {"description": "contains-all", "vars": {"question": "eta"}, "assert": [{"type": "contains-all", "value": "eta, nope"}]},
    {"description": "icontains-any", "vars": {"question": "theta"}, "assert": [{"type": "icontains-any", "value": "THETA, x"}]},
    {"description": "icontains-all", "vars": {"question": "iota"}, "assert": [{"type": "icontains-all", "value": ["IOTA", "reply"]}]},
    {"description": "regex", "vars": {"question": "kappa"}, "assert": [{"type": "regex", "value": "^Simulated reply to \\\"kappa\\\""}]},
    {"description": "starts-with", "vars": {"question": "lambda"}, "assert": [{"type": "starts-with", "value": "Simulated"}]},
    {"description": "equals fails", "vars": {"question": "mu"}, "assert": [{"type": "equals", "value": "mu"}]},
    {"description": "is-json fails", "vars": {"question": "nu"}, "assert": [{"type": "is-json"}]},
    {"description": "not-is-json", "vars": {"question": "xi"}, "assert": [{"type": "not-is-json"}]},
    {"description": "contains-json fails", "vars": {"question": "omicron"}, "assert": [{"type": "contains-json"}]},
    {"description": "javascript", "vars": {"question": "pi"}, "assert": [{"type": "javascript", "value": "output.length > 20 && context.vars.question === 'pi'"}]},
    {"description": "javascript score", "vars": {"question": "rho"}, "assert": [{"type": "javascript", "value": "0.3", "threshold": 0.5}]},
    {"description": "python", "vars": {"question": "sigma"}, "assert": [{"type": "python", "value": "'sigma' in output"}]},
    {"description": "levenshtein fails", "vars": {"question": "tau"}, "assert": [{"type": "levenshtein", "value": "tau", "threshold": 3}]},
    {"description": "rouge-n", "vars": {"question": "upsilon"}, "assert": [{"type": "rouge-n", "value": "Simulated reply", "threshold": 0.05}]},
    {"description": "latency", "vars": {"question": "phi"}, "assert": [{"type": "latency", "threshold": 30000}]},
    {"description": "weights", "vars": {"question": "chi"}, "threshold": 0.7, "assert": [
        {"type": "contains", "value": "chi", "weight": 3}, {"type": "contains", "value": "nope", "weight": 1}]},
    {"description": "assert-set", "vars": {"question": "psi"}, "assert": [{"type": "assert-set", "threshold": 0.5, "assert": [
        {"type": "contains", "value": "psi"}, {"type": "contains", "value": "nope"}]}]},
    {"description": "server refuses", "vars": {"question": "x" * 3000}, "assert": [{"type": "contains", "value": "x"}]},
]  # fmt: skip


async def test_wsllm_eval_and_promptfoo_agree_on_every_test(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    base = await start_server(
        sim_ttft_ms="2", sim_itl_ms="0", sim_tokens="30", max_frame_bytes="2000"
    )
    port = base.rsplit(":", 1)[1]
    config = {
        "description": "compatibility",
        "prompts": ["{{question}}"],
        "providers": [{
            "id": f"ws://localhost:{port}/ws-stream",
            "config": {"messageTemplate": '{"input": {{prompt | dump}}}', "streamResponse": SEED_STREAM},
        }],
        "tests": COMPAT_TESTS,
    }  # fmt: skip
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    theirs = await promptfoo_eval(path, tmp_path / "promptfoo.json", tmp_path)
    code, _, err = await run_wsllm(
        "eval", "-c", str(path), "-o", str(tmp_path / "wsllm.json"), cwd=tmp_path, env=clean_env()
    )
    assert code == 100, err
    ours = orjson.loads((tmp_path / "wsllm.json").read_bytes())
    mine, reference = verdicts(ours), verdicts(theirs)
    assert len(mine) == len(COMPAT_TESTS)
    assert mine == reference
    assert [success for _, success, _, _ in mine].count(True) == 14


def verdicts(document: dict[str, Any]) -> list[tuple[str, bool, str, int]]:
    """(description, success, output, failure reason: 0 none, 1 assertion, 2 error) per test."""
    rows = sorted(document["results"]["results"], key=lambda r: r["testIdx"])
    return [
        (
            r["testCase"].get("description", ""),
            r["success"],
            (r.get("response") or {}).get("output") or "",
            r["failureReason"],
        )
        for r in rows
    ]
