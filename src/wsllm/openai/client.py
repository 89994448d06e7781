"""The one HTTP client for OpenAI-compatible servers: JSON or server-sent events over aiohttp.

One pooled session per client, made lazily inside the running loop. Every failure of aiohttp is
translated here, where it enters, into an UpstreamError with a stable code. Bounds hold against a
server that misbehaves: a silence timeout, an overall deadline per request, and caps on the size
of an event, a JSON answer and an error body. Retries (for graders and embedders) follow 429 and
5xx answers with backoff, honouring `Retry-After`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson

from wsllm.codes import ErrorCode
from wsllm.errors import UpstreamError
from wsllm.openai.endpoint import Limits
from wsllm.sse import SSEEvent, SSEParser


def status_error(status: int, detail: str, retry_after: float | None = None) -> UpstreamError:
    """The error a client sees for an upstream HTTP status that is not 2xx."""
    suffix = f": {detail}" if detail else ""
    if status in (401, 403):
        code, text = ErrorCode.UPSTREAM_AUTH, f"The model server refused the API key ({status})"
    elif status == 429:
        code, text = ErrorCode.UPSTREAM_RATE_LIMITED, "The model server is rate limiting (429)"
    elif status >= 500:
        code, text = ErrorCode.UPSTREAM_SERVER_ERROR, f"The model server failed ({status})"
    else:
        code, text = ErrorCode.UPSTREAM_REJECTED, f"The model server rejected it ({status})"
    return UpstreamError(code, text + suffix, status, retry_after)


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


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A `Retry-After` header as seconds from now: a number, or an HTTP date."""
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def backoff(attempt: int, retry_after: float | None) -> float:
    """Seconds before retry `attempt` (0-based): the server's word, else a jittered doubling."""
    if retry_after is not None:
        return min(retry_after, 30.0)
    jitter: float = 0.8 + 0.4 * random.random()
    return float(min(0.25 * 2**attempt, 8.0) * jitter)


def _retryable(error: UpstreamError) -> bool:
    return error.code in (
        ErrorCode.UPSTREAM_RATE_LIMITED,
        ErrorCode.UPSTREAM_SERVER_ERROR,
        ErrorCode.UPSTREAM_UNREACHABLE,
    )


class OpenAIClient:
    """POSTs to one OpenAI-compatible server, pooled, bounded, with errors given stable codes."""

    def __init__(self, base_url: str, api_key: str | None, limits: Limits | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.limits = limits or Limits()
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(
                total=None,
                connect=self.limits.connect_timeout or None,
                sock_read=self.limits.silence_timeout or None,
            )
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout)
        return self._session

    async def aclose(self) -> None:
        """Close pooled connections."""
        if self._session is not None:
            await self._session.close()

    async def post_json(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST JSON and return the JSON object answered, retrying as the limits allow."""
        for attempt in range(self.limits.retries + 1):
            try:
                return await self._post_json_once(path, body)
            except UpstreamError as exc:
                if attempt == self.limits.retries or not _retryable(exc):
                    raise
                await asyncio.sleep(backoff(attempt, exc.retry_after))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post_json_once(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + (self.limits.deadline or 1e9)
        async with self._post(path, body, deadline, expect_stream=False) as response:
            raw = await self._read_capped(response, self.limits.max_body_bytes, deadline)
        return _json_object(raw)

    async def post_sse(self, path: str, body: Mapping[str, Any]) -> AsyncGenerator[SSEEvent, None]:
        """POST JSON and yield the server-sent events of the answer as they arrive."""
        deadline = asyncio.get_running_loop().time() + (self.limits.deadline or 1e9)
        async with self._post(path, body, deadline, expect_stream=True) as response:
            parser = SSEParser(self.limits.max_event_bytes)
            chunks = response.content.iter_any()
            while True:
                chunk = await self._read(anext(chunks, b""), deadline)
                if not chunk:
                    return
                for event in parser.feed(chunk):
                    yield event

    @asynccontextmanager
    async def _post(self, path: str, body: Mapping[str, Any], deadline: float,
                    expect_stream: bool) -> AsyncIterator[aiohttp.ClientResponse]:  # fmt: skip
        url = f"{self.base_url}{path}"
        try:
            async with asyncio.timeout_at(deadline):
                response = await self._client().post(
                    url, data=orjson.dumps(body), headers=self._headers
                )
        except TimeoutError as exc:
            raise self._deadline_error() from exc
        except aiohttp.ClientConnectorError as exc:
            reason = exc.os_error.strerror or exc
            raise self._unreachable(str(reason)) from exc
        except aiohttp.ClientError as exc:
            raise self._unreachable(type(exc).__name__) from exc
        async with response:
            if response.status >= 300:
                raise await self._status_error(response, deadline)
            if expect_stream:
                _check_event_stream(response)
            yield response

    async def _status_error(self, response: aiohttp.ClientResponse, deadline: float
                            ) -> UpstreamError:  # fmt: skip
        try:
            raw = await self._read(response.content.read(self.limits.max_error_bytes), deadline)
        except UpstreamError:
            raw = b""
        wait = retry_after_seconds(response.headers.get("Retry-After"), time.time())
        return status_error(response.status, error_detail(raw), wait)

    async def _read_capped(
        self, response: aiohttp.ClientResponse, cap: int, deadline: float
    ) -> bytes:
        parts: list[bytes] = []
        size = 0
        chunks = response.content.iter_any()
        while chunk := await self._read(anext(chunks, b""), deadline):
            size += len(chunk)
            if size > cap:
                raise UpstreamError(
                    ErrorCode.UPSTREAM_PROTOCOL,
                    f"The model server's answer is larger than {cap} bytes; it was abandoned",
                )
            parts.append(chunk)
        return b"".join(parts)

    async def _read(self, pending: Any, deadline: float) -> bytes:
        # The socket's read timeout bounds silence; the deadline is checked after each read, and
        # needs a timer of its own only once it is nearer than the silence timeout (a timer a
        # read would cost more than the read on the hot path).
        loop = asyncio.get_running_loop()
        silence = self.limits.silence_timeout
        try:
            if silence and deadline - loop.time() > silence:
                data: bytes = await pending
            else:
                async with asyncio.timeout_at(deadline):
                    data = await pending
        except TimeoutError as exc:
            if asyncio.get_running_loop().time() >= deadline:
                raise self._deadline_error() from exc
            raise self._silence_error() from exc
        except aiohttp.ServerTimeoutError as exc:
            raise self._silence_error() from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(
                ErrorCode.UPSTREAM_INTERRUPTED,
                "The model server closed the stream before it finished",
            ) from exc
        if loop.time() >= deadline:
            raise self._deadline_error()
        return data

    def _unreachable(self, reason: str) -> UpstreamError:
        return UpstreamError(
            ErrorCode.UPSTREAM_UNREACHABLE,
            f"Could not reach the model server at {self.base_url} ({reason})",
        )

    def _silence_error(self) -> UpstreamError:
        return UpstreamError(
            ErrorCode.UPSTREAM_TIMEOUT,
            f"The model server sent nothing for {self.limits.silence_timeout:g} s; "
            "the request was abandoned",
        )

    def _deadline_error(self) -> UpstreamError:
        return UpstreamError(
            ErrorCode.UPSTREAM_TIMEOUT,
            f"The model server did not finish within {self.limits.deadline:g} s; "
            "the request was abandoned",
        )


def _check_event_stream(response: aiohttp.ClientResponse) -> None:
    kind = response.headers.get("Content-Type", "")
    if not kind.lower().startswith("text/event-stream"):
        shown = kind.split(";")[0].strip() or "no content type"
        raise UpstreamError(
            ErrorCode.UPSTREAM_PROTOCOL,
            f"The model server answered with {shown}, not an event stream",
        )


def _json_object(raw: bytes) -> dict[str, Any]:
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
