"""Streamed Chat Completions (`POST /v1/chat/completions`): llama.cpp server, older vLLM, others."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from wsllm.backends.base import CompletionRequest
from wsllm.backends.openai_responses import event_payload, failure_message
from wsllm.backends.upstream import UpstreamClient
from wsllm.errors import UpstreamError
from wsllm.protocol_codes import ErrorCode
from wsllm.settings import Settings


def chunk_text(payload: dict[str, Any]) -> tuple[str, bool]:
    """The content delta of one chunk, and whether the chunk ends the choice."""
    choices = payload.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return "", False
    choice = choices[0]
    delta = choice.get("delta") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    return (content if isinstance(content, str) else ""), choice.get("finish_reason") is not None


class OpenAIChatBackend:
    """Streams `choices[0].delta.content`; ends at `[DONE]` or a finish reason."""

    name = "openai-chat"

    def __init__(self, settings: Settings) -> None:
        self._client = UpstreamClient(settings)
        self.description = f"OpenAI-compatible Chat Completions at {self._client.base_url}"

    def _body(self, request: CompletionRequest, stream: bool) -> dict[str, Any]:
        messages = [{"role": "user", "content": request.input}]
        return {"model": request.model, "messages": messages, "stream": stream}

    async def stream(self, request: CompletionRequest) -> AsyncGenerator[str, None]:
        """Yield content deltas; a stream that ends without a finish is an error."""
        finished = False
        async for event in self._client.post_sse("/chat/completions", self._body(request, True)):
            if event.data.strip() == "[DONE]":
                return
            payload = event_payload(event)
            if "error" in payload:
                raise UpstreamError(ErrorCode.UPSTREAM_FAILED, failure_message(payload))
            text, done = chunk_text(payload)
            finished = finished or done
            if text:
                yield text
        if not finished:
            raise UpstreamError(
                ErrorCode.UPSTREAM_INTERRUPTED,
                "The model server closed the stream before it finished",
            )

    async def complete(self, request: CompletionRequest) -> str:
        """One non-streamed call; the first choice's content."""
        response = await self._client.post_json("/chat/completions", self._body(request, False))
        if "error" in response:
            raise UpstreamError(ErrorCode.UPSTREAM_FAILED, failure_message(response))
        choices = response.get("choices") or [{}]
        message = choices[0].get("message") or {} if isinstance(choices[0], dict) else {}
        content = message.get("content")
        return content if isinstance(content, str) else ""

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()
