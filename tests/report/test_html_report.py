"""The HTML report of `wsllm eval -o report.html`, opened in headless Chromium as a person would:
readable dates, vars as a table, every failing reason, each stream on an axis with its stall, and
filters like the viewer's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.browser import SCREENSHOTS, chromium
from tests.cli_process import clean_env, run_wsllm
from tests.evals.helpers import SEED_STREAM, write_config

pytestmark = pytest.mark.browser


def config(ws_targets: str) -> str:
    stream = "\n".join(" " * 8 + line for line in SEED_STREAM.strip().splitlines())
    target = (
        "  - id: '{url}'\n    label: {label}\n    config:\n"
        "      messageTemplate: '{{\"input\": {{{{prompt | dump}}}}}}'\n      timeoutMs: 800\n"
        "      streamResponse: |\n{stream}\n"
    )
    return (
        "description: report demo\nprompts: ['{{question}}']\nproviders:\n"
        + target.format(url=f"{ws_targets}/stall", label="staller", stream=stream)
        + target.format(url=f"{ws_targets}/slow", label="healthy", stream=stream)
        + "tests:\n"
        "  - description: two things wrong\n"
        "    vars: {question: 'what is a socket?', language: English}\n"
        "    assert:\n"
        "      - {type: contains, value: banana}\n"
        "      - {type: regex, value: '^[0-9]+$'}\n"
        "      - {type: icontains, value: socket}\n"
    )


async def test_the_report_reads_well_and_filters(ws_targets: str, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    code, out, err = await run_wsllm("eval", "-c", str(write_config(tmp_path, config(ws_targets))), "--no-write",
                                     "-o", str(report), cwd=tmp_path, env=clean_env())  # fmt: skip
    assert code == 100, out + err
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(report.as_uri())
        assert re.search(
            r"started \d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC",
            await page.locator(".sub").inner_text(),
        )
        assert (
            await page.locator("table.vars").first.inner_text()
            == "question\twhat is a socket?\nlanguage\tEnglish"
        )
        failed = page.locator("tr.result.fail")
        reasons = await failed.locator("ul.reasons li").all_inner_texts()
        assert len(reasons) == 2  # every failing assertion, not only the first
        assert "banana" in reasons[0]
        assert "regex" in reasons[1]
        stalled = page.locator("tr.result.stalled")
        assert "stalled" in await stalled.locator(".stall").inner_text()
        assert await stalled.locator("svg.strip rect.stall-band").count() == 1
        assert (
            len(await failed.locator("svg.strip text").all_text_contents()) == 3
        )  # an axis: 0, middle, end
        assert (await failed.locator("svg.strip text").all_text_contents())[0] == "0 ms"
        assert await page.locator("[data-card='stalled streams'] b").inner_text() == "1"
        await page.screenshot(path=str(SCREENSHOTS / "eval-report.png"), full_page=True)

        await page.click("button[data-filter=fail]")
        await expect(page.locator("tr.result:visible")).to_have_count(1)
        await page.click("button[data-filter=stalled]")
        await expect(page.locator("tr.result:visible")).to_have_count(1)
        await expect(page.locator("tr.result:visible")).to_contain_text("staller")
        await page.click("button[data-filter=all]")
        await page.locator("#search").press_sequentially("banana")
        await expect(page.locator("tr.result:visible")).to_have_count(1)
        await expect(page.locator("#shown")).to_have_text("1 shown")
    assert errors == []
