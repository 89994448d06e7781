"""`wsllm bench` says what limited a run and what it compared: a --rate the connections cannot
carry is a warning with the fix, a --vs endpoint that does not answer stops the run before any
load, and the HTML report (in Chromium) shows its settings, the ratios, and readable labels."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.browser import SCREENSHOTS, chromium
from tests.cli_process import clean_env, run_wsllm
from tests.conftest import ServerFactory, ws_url


async def test_a_rate_the_connections_cannot_carry_is_a_warning(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    base = await start_server(
        sim_ttft_ms="0", sim_itl_ms="20", sim_tokens="10"
    )  # about 0.2 s a request
    code, out, err = await run_wsllm("bench", ws_url(base, "/ws-stream"), "--rate", "40", "--concurrency", "2",
                                     "--requests", "30", "--no-progress", cwd=tmp_path, env=clean_env())  # fmt: skip
    assert code == 0, err
    flat = " ".join(out.split())
    warning = re.search(
        r"Warning: --rate 40/s asked, ([\d.]+) requests/s delivered: --concurrency 2 caps it", flat
    )
    assert warning, out
    assert float(warning.group(1)) < 20
    assert re.search(r"Use --concurrency (\d+) or more", flat)


async def test_a_rate_that_is_met_brings_no_warning(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    base = await start_server(sim_ttft_ms="0", sim_itl_ms="0", sim_tokens="4")
    code, out, err = await run_wsllm("bench", ws_url(base, "/ws-stream"), "--rate", "50", "--requests", "20",
                                     "--no-progress", cwd=tmp_path, env=clean_env())  # fmt: skip
    assert code == 0, err
    assert "Warning" not in out


async def test_vs_an_endpoint_that_does_not_answer_fails_before_any_load(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    base = await start_server()
    code, out, err = await run_wsllm("bench", ws_url(base, "/ws-stream"), "--vs", "ws://127.0.0.1:9/ws-stream",
                                     "--requests", "5", cwd=tmp_path, env=clean_env())  # fmt: skip
    assert code == 1
    assert "--vs ws://127.0.0.1:9/ws-stream: cannot reach it" in err
    assert "nothing was measured" in err
    assert "completed" not in out
    assert "Traceback" not in err


async def test_vs_an_endpoint_that_completes_nothing_exits_non_zero(
    start_server: ServerFactory, ws_targets: str, tmp_path: Path
) -> None:
    base = await start_server()
    code, out, _ = await run_wsllm("bench", ws_url(base, "/ws-stream"), "--vs", f"{ws_targets}/garbage",
                                   "--requests", "3", "--rounds", "1", "--timeout", "2", "--no-progress",
                                   cwd=tmp_path, env=clean_env())  # fmt: skip
    assert code == 1
    assert "completed 0 · errors 3" in out


@pytest.mark.browser
async def test_the_html_report_shows_settings_ratios_and_readable_labels(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    fast = await start_server(sim_ttft_ms="0", sim_itl_ms="1", sim_tokens="8")
    slow = await start_server(sim_ttft_ms="15", sim_itl_ms="1", sim_tokens="8")
    report = tmp_path / "bench.html"
    code, _, err = await run_wsllm(
        "bench", ws_url(fast, "/ws-stream"), "--vs", ws_url(slow, "/ws-stream"), "--requests", "40",
        "--concurrency", "4", "--rounds", "1", "--header", "Authorization: Bearer top-secret-value",
        "-o", str(report), "--no-progress", cwd=tmp_path, env=clean_env(),
    )  # fmt: skip
    assert code == 0, err
    assert "top-secret-value" not in report.read_text()
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(report.as_uri())
        settings = await page.locator("#settings").inner_text()
        assert "closed loop, 40 requests, 4 in flight" in settings
        assert "Authorization: [redacted]" in settings
        ttft = page.locator("#ratios tr", has_text="TTFT p50 (ms)")
        assert (await ttft.locator("td").last.inner_text()) == "first"  # the fast one is better
        histograms = page.locator("figure.histogram")
        await expect(histograms).to_have_count(3)
        marks = await histograms.first.locator("text.mark-label").all_text_contents()
        assert [m.split()[0] for m in marks] == ["p50", "p99", "p50", "p99"]  # both runs, one scale
        await expect(page.locator("svg.rate-chart")).to_have_count(2)
        await expect(page.locator("svg.ttft-chart polyline.ttft-line")).to_have_count(4)
        body = await page.locator("body").inner_text()
        for key in ("req_per_s", "ttft_ms", "itl_ms", "e2e_ms"):
            assert key not in body
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "bench-report.png"), full_page=True)
    assert errors == []
