"""The seed example's config, run by promptfoo itself against `wsllm serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerFactory
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
