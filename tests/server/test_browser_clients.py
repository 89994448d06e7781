"""The server README's two browser clients, run verbatim in headless Chromium against the server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.browser import chromium
from tests.conftest import ServerFactory, running
from wsllm.backends.simulated import simulated_tokens

pytestmark = pytest.mark.browser

USAGE = {"input_tokens": 2, "output_tokens": 8, "total_tokens": 10}

# The server README's clients, word for word; only the port differs, as the server runs on port 0.
NON_STREAMING_CLIENT = """
const ws = new WebSocket('ws://localhost:3300/ws');

ws.onopen = () => {
  ws.send(JSON.stringify({ input: 'Hello there!' }));
};

ws.onmessage = (event) => {
  const msg = JSON.parse(event.data);
  // msg.type: 'ready' | 'response' | 'done' | 'error'
  console.log(msg);
};

ws.onerror = (err) => console.error('ws error', err);
"""

STREAMING_CLIENT = """
const ws = new WebSocket('ws://localhost:3300/ws-stream');

ws.onopen = () => {
  ws.send(JSON.stringify({ input: 'Stream this please' }));
};

ws.onmessage = (event) => {
  const msg = JSON.parse(event.data);
  // msg.type: 'ready' | 'delta' | 'message' | 'done' | 'error'
  if (msg.type === 'delta') process.stdout.write(msg.output || '');
  else console.log(msg);
};

ws.onerror = (err) => console.error('ws error', err);
"""

# The streaming client writes deltas with Node's `process.stdout.write`; in a page we lend it one
# that collects what it is given, and keep console.log's objects so the test can read them.
HARNESS = """
window.written = '';
window.logged = [];
window.process = { stdout: { write: (text) => { window.written += text; } } };
const originalLog = console.log;
console.log = (value) => { window.logged.push(value); originalLog(value); };
"""

PAGE = '<!doctype html><link rel="icon" href="data:,"><title>client</title><body>client</body>'


async def run_client(base: str, page_url: str, script: str) -> tuple[list[dict[str, object]], str]:
    port = base.rsplit(":", 1)[1]
    source = script.replace("localhost:3300", f"localhost:{port}")
    async with chromium() as browser:
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await page.goto(page_url)
        await page.add_script_tag(content=HARNESS)
        await page.add_script_tag(content=source)
        await page.wait_for_function("window.logged.some((m) => m.type === 'done')", timeout=15000)
        logged = await page.evaluate("window.logged")
        written = await page.evaluate("window.written")
    assert errors == []
    return logged, written


@pytest.fixture
async def page_url() -> AsyncIterator[str]:
    app = web.Application()

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app.router.add_get("/", index)
    async with running(app) as url:
        yield url + "/"


async def test_the_non_streaming_client(start_server: ServerFactory, page_url: str) -> None:
    base = await start_server(sim_ttft_ms="20", sim_itl_ms="2")
    logged, _ = await run_client(base, page_url, NON_STREAMING_CLIENT)
    text = "".join(simulated_tokens("Hello there!", 8))
    stream = logged[1].pop("stream")  # the two fields resumable streams add: unread by the client
    assert isinstance(stream, str)
    assert stream.startswith("st_")
    assert logged == [
        {"type": "ready", "message": "Connected to /ws"},
        {"type": "response", "message": text, "seq": 1},
        {"type": "done", "usage": USAGE, "seq": 2},
    ]


async def test_the_streaming_client(start_server: ServerFactory, page_url: str) -> None:
    base = await start_server(sim_ttft_ms="20", sim_itl_ms="2")
    logged, written = await run_client(base, page_url, STREAMING_CLIENT)
    text = "".join(simulated_tokens("Stream this please", 8))
    assert written == text
    usage = {"input_tokens": 3, "output_tokens": 8, "total_tokens": 11}
    assert logged == [
        {"type": "ready", "message": "Connected to /ws-stream"},
        {"type": "message", "message": text, "seq": 9},
        {"type": "done", "usage": usage, "seq": 10},
    ]
