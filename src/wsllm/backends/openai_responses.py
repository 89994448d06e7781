"""The OpenAI Responses API (`POST /v1/responses`); also vLLM, Ollama, LiteLLM by base URL."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import orjson

from wsllm.backends.base import Completion, CompletionRequest, Delta
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


def completion_of(response: Any) -> Completion:
    """The usage and id of a Responses API response object."""
    if not isinstance(response, dict):
        return Completion()
    usage = response.get("usage")
    counts = {k: v for k, v in usage.items() if type(v) is int} if isinstance(usage, dict) else None
    rid = response.get("id")
    return Completion(usage=counts or None, response_id=rid if isinstance(rid, str) else None)


class OpenAIResponsesBackend:
    """Streams `response.output_text.delta` events; `error` and `response.failed` become errors."""

    name = "openai"

    def __init__(self, settings: Settings) -> None:
        self._client = UpstreamClient(settings)
        self.description = f"OpenAI Responses API at {self._client.base_url}"

    def _body(self, request: CompletionRequest, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": request.model, "input": request.input, "stream": stream}
        if request.instructions:
            body["instructions"] = request.instructions
        if request.previous_response_id:
            body["previous_response_id"] = request.previous_response_id
        return body

    async def stream(self, request: CompletionRequest) -> AsyncGenerator[Delta, None]:
        """Yield text deltas until `response.completed`; a stream that stops short is an error."""
        async for event in self._client.post_sse("/responses", self._body(request, True)):
            payload = event_payload(event)
            kind = payload.get("type")
            if kind == "response.output_text.delta":
                yield str(payload.get("delta", ""))
            elif kind in ("response.completed", "response.incomplete"):
                yield completion_of(payload.get("response"))
                return
            elif kind in ("error", "response.failed"):
                raise UpstreamError(ErrorCode.UPSTREAM_FAILED, failure_message(payload))
        raise UpstreamError(
            ErrorCode.UPSTREAM_INTERRUPTED, "The model server closed the stream before it finished"
        )

    async def complete(self, request: CompletionRequest) -> tuple[str, Completion]:
        """One non-streamed call; the joined output text."""
        response = await self._client.post_json("/responses", self._body(request, False))
        if response.get("status") == "failed" or response.get("error"):
            raise UpstreamError(ErrorCode.UPSTREAM_FAILED, failure_message(response))
        return output_text(response), completion_of(response)

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()
