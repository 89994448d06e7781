"""The one HTTP client for OpenAI-compatible servers, against small servers that misbehave:
answers too large, error bodies that never end, retries that honour Retry-After."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.conftest import running
from wsllm.codes import ErrorCode
from wsllm.errors import UpstreamError
from wsllm.openai.client import OpenAIClient, retry_after_seconds
from wsllm.openai.endpoint import Limits, resolve_endpoint


class Script:
    """What the server answers, request by request."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.seen = 0


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Script]]:
    script = Script()

    async def big_json(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"text": "' + b"x" * 300_000 + b'"}')
        return response

    async def flaky(request: web.Request) -> web.Response:
        script.seen += 1
        status = script.statuses.pop(0) if script.statuses else 200
        if status == 200:
            return web.json_response({"ok": True})
        return web.json_response({"error": {"message": "busy"}}, status=status,
                                 headers={"Retry-After": "0.05"})  # fmt: skip

    app = web.Application()
    app.router.add_post("/v1/big", big_json)
    app.router.add_post("/v1/flaky", flaky)
    async with running(app) as url:
        yield f"{url}/v1", script


async def test_a_json_answer_past_the_cap_is_a_protocol_error(server: tuple[str, Script]) -> None:
    base, _ = server
    client = OpenAIClient(base, None, Limits(max_body_bytes=100_000))
    try:
        with pytest.raises(UpstreamError) as caught:
            await client.post_json("/big", {})
    finally:
        await client.aclose()
    assert caught.value.code is ErrorCode.UPSTREAM_PROTOCOL
    assert "larger than 100000 bytes" in caught.value.message


async def test_retries_follow_429_and_5xx_honouring_retry_after(server: tuple[str, Script]) -> None:
    base, script = server
    script.statuses = [429, 503]
    client = OpenAIClient(base, None, Limits(retries=2))
    try:
        assert await client.post_json("/flaky", {}) == {"ok": True}
    finally:
        await client.aclose()
    assert script.seen == 3


async def test_without_retries_the_first_failure_is_the_answer(server: tuple[str, Script]) -> None:
    base, script = server
    script.statuses = [503]
    client = OpenAIClient(base, None, Limits(retries=0))
    try:
        with pytest.raises(UpstreamError) as caught:
            await client.post_json("/flaky", {})
    finally:
        await client.aclose()
    assert (caught.value.code, caught.value.status, caught.value.retry_after) == (
        ErrorCode.UPSTREAM_SERVER_ERROR, 503, 0.05,
    )  # fmt: skip
    assert "busy" in caught.value.message


def test_retry_after_is_seconds_or_an_http_date() -> None:
    now = time.time()
    assert retry_after_seconds("2.5", now) == 2.5
    assert retry_after_seconds(None, now) is None
    assert retry_after_seconds("soon", now) is None
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 30))
    assert 28 <= (retry_after_seconds(date, now) or 0) <= 31


def test_the_endpoint_comes_from_config_else_the_environment() -> None:
    env = {"OPENAI_BASE_URL": "http://env/v1/", "OPENAI_API_KEY": "sk-env"}
    assert resolve_endpoint(None, None, env) == ("http://env/v1", "sk-env")
    assert resolve_endpoint("http://mine/v1", "k", env) == ("http://mine/v1", "k")
    assert resolve_endpoint(None, None, {}) == ("https://api.openai.com/v1", None)
