"""HTTP to OpenAI-compatible servers: JSON or SSE over aiohttp, with every failure given a code.

Errors of aiohttp are translated here, where they enter, into UpstreamError.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aiohttp
import orjson

from wsllm.errors import UpstreamError
from wsllm.protocol_codes import ErrorCode
from wsllm.settings import Settings
from wsllm.sse import SSEEvent, SSEParser

T = TypeVar("T")


def status_error(status: int, detail: str) -> UpstreamError:
    """The error a client sees for an upstream HTTP status that is not 2xx."""
    suffix = f": {detail}" if detail else ""
    if status in (401, 403):
        return UpstreamError(
            ErrorCode.UPSTREAM_AUTH,
            f"The model server refused the API key ({status}){suffix}",
            status,
        )
    if status == 429:
        return UpstreamError(
            ErrorCode.UPSTREAM_RATE_LIMITED,
            f"The model server is rate limiting requests (429){suffix}",
            status,
        )
    if status >= 500:
        return UpstreamError(
            ErrorCode.UPSTREAM_SERVER_ERROR, f"The model server failed ({status}){suffix}", status
        )
    return UpstreamError(
        ErrorCode.UPSTREAM_REJECTED,
        f"The model server rejected the request ({status}){suffix}",
        status,
    )


def error_detail(body: bytes) -> str:
    """The human part of an upstream error body: OpenAI's `error.message`, else the text itself."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace").strip()[:300]
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return body.decode("utf-8", "replace").strip()[:300]


class UpstreamClient:
    """One pooled HTTP client per backend, created lazily inside the running event loop."""

    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.openai_base_url.rstrip("/")
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if settings.openai_api_key:
            self._headers["Authorization"] = f"Bearer {settings.openai_api_key}"
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            connect=settings.connect_timeout or None,
            sock_read=settings.upstream_timeout or None,
        )
        self._silence = settings.upstream_timeout
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self._session

    async def aclose(self) -> None:
        """Close pooled connections."""
        if self._session is not None:
            await self._session.close()

    async def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST JSON and return the JSON object answered."""
        async with self._post(path, body) as response:
            raw = await self._guard(response.read())
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError(
                ErrorCode.UPSTREAM_PROTOCOL, "The model server answered with invalid JSON"
            ) from exc
        if not isinstance(payload, dict):
            raise UpstreamError(
                ErrorCode.UPSTREAM_PROTOCOL, "The model server answered with a non-object"
            )
        return payload

    async def post_sse(self, path: str, body: dict[str, Any]) -> AsyncIterator[SSEEvent]:
        """POST JSON and yield the server-sent events of the answer as they arrive."""
        async with self._post(path, body) as response:
            parser = SSEParser()
            chunks = response.content.iter_any()
            while True:
                chunk = await self._guard(anext(chunks, b""))
                if not chunk:
                    return
                for event in parser.feed(chunk):
                    yield event

    @asynccontextmanager
    async def _post(self, path: str, body: dict[str, Any]) -> AsyncIterator[aiohttp.ClientResponse]:
        url = f"{self.base_url}{path}"
        try:
            response = await self._client().post(
                url, data=orjson.dumps(body), headers=self._headers
            )
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamError(
                ErrorCode.UPSTREAM_UNREACHABLE,
                f"Could not reach the model server at {self.base_url} "
                f"({exc.os_error.strerror or exc})",
            ) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise self._timeout_error() from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(
                ErrorCode.UPSTREAM_UNREACHABLE,
                f"Could not reach the model server at {self.base_url} ({type(exc).__name__})",
            ) from exc
        async with response:
            if response.status >= 300:
                detail = error_detail(await self._guard(response.read()))
                raise status_error(response.status, detail)
            yield response

    async def _guard(self, pending: Awaitable[T]) -> T:
        try:
            return await pending
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise self._timeout_error() from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(
                ErrorCode.UPSTREAM_INTERRUPTED,
                "The model server closed the stream before it finished",
            ) from exc

    def _timeout_error(self) -> UpstreamError:
        return UpstreamError(
            ErrorCode.UPSTREAM_TIMEOUT,
            f"The model server sent nothing for {self._silence:g} s; the request was abandoned",
        )
