"""The chat page at `/`, driven in headless Chromium: ask, watch the answer stream in, stop one
(a stop the user asked for is not an error), and see which backend and model answer."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser import SCREENSHOTS, chromium
from tests.conftest import ServerFactory

pytestmark = pytest.mark.browser


async def test_chat_streams_an_answer_and_stop_cancels_one(start_server: ServerFactory) -> None:
    base = await start_server(sim_ttft_ms="10", sim_itl_ms="15", sim_tokens="30")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1000, "height": 700})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(base + "/")
        await page.wait_for_selector("#status:has-text('connected')")
        await expect(page.locator("#model")).to_have_text("answered by simulated · gpt-4.1-mini")
        await page.fill("#prompt", "What is a WebSocket?")
        await page.press("#prompt", "Enter")
        answer = page.locator(".assistant").first
        await answer.locator(".meta").wait_for()
        text = await answer.inner_text()
        assert text.startswith('Simulated reply to "What is a WebSocket?":')
        assert re.match(r"TTFT \d+ ms · total \d+ ms", await answer.locator(".meta").inner_text())
        await page.screenshot(path=str(SCREENSHOTS / "chat-answer.png"))

        await page.fill("#prompt", "Tell me more")
        await page.press("#prompt", "Enter")
        second = page.locator(".assistant").nth(1)
        await page.wait_for_function(
            "document.querySelectorAll('.assistant')[1].textContent.length > 20"
        )
        await page.click("#stop")
        await second.locator(".meta").wait_for()
        assert (await second.locator(".meta").inner_text()).startswith("stopped by you · TTFT")
        assert "error" not in (await second.get_attribute("class") or "")  # the user asked for it
        assert "error" not in await second.locator(".meta").inner_text()
        partial = (await second.inner_text()).split("\n")[0]
        assert '"Tell me more" (turn 2):' in partial  # the conversation carried on
        assert len(partial) < len("".join(["x"] * 200))
        await page.screenshot(path=str(SCREENSHOTS / "chat-stopped.png"))
        assert await page.is_enabled("#send") is False or await page.is_disabled("#stop")
    assert errors == []


async def test_chat_output_is_text_not_markup(start_server: ServerFactory) -> None:
    base = await start_server(sim_ttft_ms="0", sim_itl_ms="0", sim_tokens="8")
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(base + "/")
        await page.wait_for_selector("#status:has-text('connected')")
        await page.fill("#prompt", "<img src=x onerror=window.pwned=1>")
        await page.press("#prompt", "Enter")
        await page.locator(".assistant .meta").wait_for()
        assert await page.evaluate("window.pwned") is None
        assert await page.locator(".assistant img").count() == 0
        assert "<img src=x" in await page.locator(".user").inner_text()


async def test_a_server_that_does_not_name_its_model_leaves_the_header_quiet() -> None:
    from importlib import resources

    from aiohttp import web

    from tests.conftest import running

    async def page(request: web.Request) -> web.Response:
        html = resources.files("wsllm.server").joinpath("chat.html").read_text()
        return web.Response(text=html, content_type="text/html")

    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "ready"})
        await ws.receive()
        return ws

    app = web.Application()
    app.router.add_get("/", page)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})  # an older server: no backend, no model

    app.router.add_get("/health", health)
    app.router.add_get("/ws-stream", socket)
    async with running(app) as base, chromium() as browser:
        page_ = await browser.new_page()
        errors: list[str] = []
        page_.on("pageerror", lambda error: errors.append(str(error)))
        await page_.goto(base + "/")
        await page_.wait_for_selector("#status:has-text('connected')")
        await expect(page_.locator("#model")).to_be_hidden()
    assert errors == []
