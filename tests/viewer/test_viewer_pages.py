"""The viewer tells the truth at a glance, in headless Chromium: a stalled stream is drawn and
named, the runs list says how far each run got and whether it is running, interrupted or dead, a
running run updates itself, search works as you type, tests page to the next, two runs compared
say which they are and what changed, and a stored config says its secrets were redacted."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.browser import SCREENSHOTS, chromium
from tests.cli_process import clean_env, run_wsllm
from tests.evals.helpers import write_config
from tests.store.test_truth import CONFIG_WITH_SECRETS, SECRETS, run_record
from tests.viewer.conftest import eval_until, suite, viewing
from wsllm.store import ResultStore

pytestmark = pytest.mark.browser

MAX_GAP = "    assert: [{type: max-gap, threshold: 300}]\n"


async def snap(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"viewer-{name}.png"), full_page=True)


async def test_a_stalled_stream_is_named_and_drawn(ws_targets: str, tmp_path: Path) -> None:
    text = suite(
        f"{ws_targets}/stall", 2, "stalls", extra="          timeoutMs: 800\n", assertion=MAX_GAP
    )
    db = tmp_path / "r.db"
    code, out, err = await run_wsllm("eval", "-c", str(write_config(tmp_path, text)), "--db", str(db),
                                     cwd=tmp_path, env=clean_env())  # fmt: skip
    assert code == 100, out + err
    async with viewing(db) as base, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(base + "/")
        row = page.locator("tr.run-row").first
        await expect(row.locator("td.gap")).to_contain_text("2 stalled")
        await row.click()
        await page.wait_for_selector("#matrix")
        await expect(page.locator("td.cell.stalled .stall-note")).to_have_count(2)
        assert "stalled" in await page.locator("td.cell .stall-note").first.inner_text()
        assert await page.locator("[data-card='stalled streams'] b").inner_text() == "2"
        await snap(page, "run-stalled")
        await page.locator("td.cell").first.click()
        await page.wait_for_selector(".timeline-block")
        assert "This stream stalled" in await page.locator("#stall").inner_text()
        assert await page.locator(".timeline-block rect.stall-band").count() == 1
        drawn = await page.locator(".timeline-block text.label-stall").first.text_content()
        assert "stalled" in (drawn or "")
        gap = await page.locator("[data-card='largest gap'] b").inner_text()
        assert int(gap.split()[0].replace(",", "")) >= 700  # the silence up to the cut counts
        body = await page.locator("main").inner_text()
        assert "first frame" not in body
        assert "Output" not in await page.locator("h2").all_inner_texts()  # nothing came back
        await snap(page, "test-stalled")
    assert errors == []


async def test_the_runs_list_says_how_far_each_run_got(ws_targets: str, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    (tmp_path / "done").mkdir()
    finished = write_config(tmp_path / "done", suite(f"{ws_targets}/seed", 3, "finished suite"))
    code, out, err = await run_wsllm(
        "eval", "-c", str(finished), "--db", str(db), cwd=tmp_path, env=clean_env()
    )
    assert code == 0, out + err
    for name in ("interrupted", "killed", "going"):
        (tmp_path / name).mkdir()
        write_config(tmp_path / name, suite(f"{ws_targets}/slow", 40, f"{name} suite"))
    stopped = await eval_until(
        tmp_path / "interrupted" / "promptfooconfig.yaml", db, 3 + 8, "-j", "1"
    )
    stopped.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(stopped.wait(), 30) == 130
    killed = await eval_until(
        tmp_path / "killed" / "promptfooconfig.yaml", db, 3 + 8 + 3, "-j", "1"
    )
    killed.send_signal(signal.SIGKILL)
    await killed.wait()
    going = await eval_until(
        tmp_path / "going" / "promptfooconfig.yaml", db, 3 + 8 + 3 + 2, "-j", "1"
    )
    try:
        async with viewing(db) as base, chromium() as browser:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            await page.goto(base + "/")
            await page.wait_for_selector("#runs")
            expected = {"finished suite": ("FINISHED", r"^3 tests$"), "interrupted suite": ("INTERRUPTED", r"^\d+ of 40$"),
                        "killed suite": ("INCOMPLETE", r"^\d+ of 40$"), "going suite": ("RUNNING", r"^\d+ of 40$")}  # fmt: skip
            for description, (status, tests) in expected.items():
                row = page.locator("tr.run-row", has_text=description)
                assert await row.locator("td.status .badge").inner_text() == status
                assert re.match(tests, await row.locator(".tests-of").inner_text()), description
                assert "ms" in await row.locator("td.ttft").inner_text()
            interrupted = page.locator("tr.run-row", has_text="interrupted suite")
            assert re.match(
                r"100%\s+of the \d+ that ran", await interrupted.locator("td.rate").inner_text()
            )  # not a bare 100%
            await snap(page, "runs-statuses")

            await page.locator("tr.run-row", has_text="going suite").click()
            await page.wait_for_selector("#matrix")
            card = page.locator("[data-card='tests'] b")
            before = await card.inner_text()
            await expect(page.locator("#live")).to_be_visible()
            await expect(card).not_to_have_text(before, timeout=15000)  # it refreshed itself
            await snap(page, "run-live")
    finally:
        going.send_signal(signal.SIGKILL)
        await going.wait()


async def test_search_as_you_type_next_test_and_compare(viewer: str) -> None:
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(viewer + "/")
        await page.locator("tr.run-row", has_text="regressed").click()
        await page.wait_for_selector("#matrix")
        await page.locator("input[type=search]").press_sequentially("France")
        await expect(page.locator("tr.test-row")).to_have_count(1)  # no Enter pressed

        await page.locator("td.cell").first.click()
        await expect(page.locator("#previous")).to_be_disabled()
        await page.click("#next")
        await expect(page.locator("h1")).to_contain_text("answers at length")
        await expect(page.locator("#previous")).to_be_enabled()

        await page.goto(viewer + "/#/")
        await page.wait_for_selector("#runs")
        for box in await page.locator("tr.run-row input[type=checkbox]").all():
            await box.check()
        await page.click("#compare")
        await page.wait_for_selector("#comparison")
        who = await page.locator(".who-run").all_inner_texts()
        assert who[0].startswith("A (older): baseline")
        assert who[1].startswith("B (newer): regressed")
        assert all(re.search(r"pass rate \d+%", w) for w in who)
        overall = await page.locator("#overall").inner_text()
        for figure in ("pass rate", "TTFT p50", "TTFT p95", "largest gap"):
            assert figure in overall
        rate = (
            await page.locator("#overall tr", has_text="pass rate")
            .locator("td.num")
            .all_inner_texts()
        )
        assert rate == ["100%", "50%", "-50 points"]
        await snap(page, "compare")
        await page.locator("tr.pair-row").first.click()
        await expect(page.locator(".side .timeline-block")).to_have_count(2)
        await snap(page, "compare-pair")
    assert errors == []


async def test_the_config_shows_that_its_secrets_were_redacted(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    store = ResultStore(db)
    store.begin_run(run_record("eval-keys", config=CONFIG_WITH_SECRETS))
    store.close()
    async with viewing(db) as base, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await page.goto(base + "/#/run/eval-keys")
        await page.click("#config summary")
        note = await page.locator("#redaction").inner_text()
        assert "Secrets are redacted when a run is stored" in note
        assert "7 values were redacted" in note
        assert "env.OPENAI_API_KEY" in note
        shown = await page.locator("#config pre").inner_text()
        assert [s for s in SECRETS if s in shown] == []
        await snap(page, "config-redacted")
