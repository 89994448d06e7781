"""The viewer in headless Chromium: runs, a run's matrix with filters, a test's timeline, and two
runs compared. Each page is saved as a screenshot in build/screenshots for a reviewer."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser import SCREENSHOTS, chromium

pytestmark = pytest.mark.browser


async def snap(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"viewer-{name}.png"), full_page=True)


async def test_browse_filter_open_a_timeline_and_compare(viewer: str) -> None:
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(viewer + "/")
        await page.wait_for_selector("#runs")
        assert await page.locator("tr.run-row").count() == 2
        assert "regressed" in await page.locator("tr.run-row").first.inner_text()
        await snap(page, "runs")

        await page.locator("tr.run-row").first.click()
        await page.wait_for_selector("#matrix")
        assert await page.locator("tr.test-row").count() == 4
        await page.click("button[data-filter=fail]")
        await expect(page.locator("tr.test-row")).to_have_count(2)
        assert "2 tests" in await page.locator("#page").inner_text()
        await snap(page, "run-failures")

        await page.locator("td.cell").first.click()
        await page.wait_for_selector(".timeline-block")
        frames = int(await page.locator(".card", has_text="frames").locator("b").inner_text())
        assert await page.locator(".timeline-block line.frame-tick").count() == frames
        assert "Custom function returned false" in await page.locator("#assertions").inner_text()
        await snap(page, "test-timeline")

        await page.goto(viewer + "/#/")
        await page.wait_for_selector("#runs")
        for box in await page.locator("tr.run-row input[type=checkbox]").all():
            await box.check()
        await page.click("#compare")
        await page.wait_for_selector("#comparison")
        changed = page.locator("#comparison tr.changed")
        assert await changed.count() == 2
        assert "PASS→FAIL" in (await changed.first.inner_text()).replace("\n", "").replace(" ", "")
        await snap(page, "compare")
    assert errors == []


async def test_outputs_show_as_text_and_run_nothing(viewer: str) -> None:
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(viewer + "/")
        await page.wait_for_selector("#runs")
        await page.locator("tr.run-row").first.click()
        await page.wait_for_selector("#matrix")
        await page.fill("input[type=search]", "script")
        await page.press("input[type=search]", "Enter")
        await expect(page.locator("tr.test-row")).to_have_count(1)
        await page.locator("td.cell").first.click()
        await page.wait_for_selector("#output")
        assert "<script>window.pwned = 1</script>" in await page.locator("#output").inner_text()
        assert await page.evaluate("window.pwned") is None
        assert await page.locator("#output script").count() == 0
