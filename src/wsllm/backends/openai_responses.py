"""The OpenAI Responses API (`POST /v1/responses`); also vLLM, Ollama, LiteLLM by base URL."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import orjson

from wsllm.backends.base import CompletionRequest
from wsllm.backends.upstream import UpstreamClient
from wsllm.errors import UpstreamError
from wsllm.protocol_codes import ErrorCode
from wsllm.settings import Settings
from wsllm.sse import SSEEvent


def event_payload(event: SSEEvent) -> dict[str, Any]:
    """The JSON object an SSE event carries; an upstream protocol error when it carries none."""
    try:
        payload = orjson.loads(event.data)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError(
            ErrorCode.UPSTREAM_PROTOCOL, "The model server sent an event that is not JSON"
        ) from exc
    if not isinstance(payload, dict):
        raise UpstreamError(ErrorCode.UPSTREAM_PROTOCOL, "The model server sent a non-object event")
    return payload


def failure_message(payload: dict[str, Any]) -> str:
    """The reason inside an `error` or `response.failed` event."""
    error = payload.get("error")
    if not isinstance(error, dict):
        response = payload.get("response")
        error = response.get("error") if isinstance(response, dict) else None
    source = error if isinstance(error, dict) else payload
    message = source.get("message") or "no reason given"
    code = source.get("code")
    return f"The model failed: {message}" + (f" ({code})" if code else "")


def output_text(response: dict[str, Any]) -> str:
    """All `output_text` parts of a Responses API response object, joined."""
    parts: list[str] = []
    for item in response.get("output") or []:
        if isinstance(item, dict) and item.get("type") == "message":
            for part in item.get("content") or []:
                if isinstance(part, dict) and part.get("type") == "output_text":
                    parts.append(str(part.get("text", "")))
    return "".join(parts)


class OpenAIResponsesBackend:
    """Streams `response.output_text.delta` events; `error` and `response.failed` become errors."""

    name = "openai"

    def __init__(self, settings: Settings) -> None:
        self._client = UpstreamClient(settings)
        self.description = f"OpenAI Responses API at {self._client.base_url}"

    async def stream(self, request: CompletionRequest) -> AsyncGenerator[str, None]:
        """Yield text deltas until `response.completed`; a stream that stops short is an error."""
        body = {"model": request.model, "input": request.input, "stream": True}
        async for event in self._client.post_sse("/responses", body):
            payload = event_payload(event)
            kind = payload.get("type")
            if kind == "response.output_text.delta":
                yield str(payload.get("delta", ""))
            elif kind in ("response.completed", "response.incomplete"):
                return
            elif kind in ("error", "response.failed"):
                raise UpstreamError(ErrorCode.UPSTREAM_FAILED, failure_message(payload))
        raise UpstreamError(
            ErrorCode.UPSTREAM_INTERRUPTED, "The model server closed the stream before it finished"
        )

    async def complete(self, request: CompletionRequest) -> str:
        """One non-streamed call; the joined output text."""
        body = {"model": request.model, "input": request.input}
        response = await self._client.post_json("/responses", body)
        if response.get("status") == "failed" or response.get("error"):
            raise UpstreamError(ErrorCode.UPSTREAM_FAILED, failure_message(response))
        return output_text(response)

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()
