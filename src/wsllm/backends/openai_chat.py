"""Streamed Chat Completions (`POST /v1/chat/completions`): llama.cpp server, older vLLM, others."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from wsllm.backends.base import Completion, CompletionRequest, Delta
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


def chat_messages(request: CompletionRequest) -> list[dict[str, str]]:
    """System instructions, the earlier turns, then the new user message."""
    messages = [{"role": "system", "content": request.instructions}] if request.instructions else []
    for turn in request.history:
        messages.append({"role": "user", "content": turn.user})
        messages.append({"role": "assistant", "content": turn.assistant})
    messages.append({"role": "user", "content": request.input})
    return messages


def usage_of(payload: dict[str, Any]) -> dict[str, int] | None:
    """Chat Completions usage, named as the Responses API names it."""
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        return None
    names = {"prompt_tokens": "input_tokens", "completion_tokens": "output_tokens"}
    counts = {names.get(str(k), str(k)): v for k, v in usage.items() if type(v) is int}
    return counts or None


class OpenAIChatBackend:
    """Streams `choices[0].delta.content`; ends at `[DONE]` or a finish reason."""

    name = "openai-chat"

    def __init__(self, settings: Settings) -> None:
        self._client = UpstreamClient(settings)
        self.description = f"OpenAI-compatible Chat Completions at {self._client.base_url}"

    def _body(self, request: CompletionRequest, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": chat_messages(request),
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    async def stream(self, request: CompletionRequest) -> AsyncGenerator[Delta, None]:
        """Yield content deltas; a stream that ends without a finish is an error."""
        finished = False
        usage: dict[str, int] | None = None
        async for event in self._client.post_sse("/chat/completions", self._body(request, True)):
            if event.data.strip() == "[DONE]":
                break
            payload = event_payload(event)
            if "error" in payload:
                raise UpstreamError(ErrorCode.UPSTREAM_FAILED, failure_message(payload))
            usage = usage_of(payload) or usage
            text, done = chunk_text(payload)
            finished = finished or done
            if text:
                yield text
        if not finished:
            raise UpstreamError(
                ErrorCode.UPSTREAM_INTERRUPTED,
                "The model server closed the stream before it finished",
            )
        yield Completion(usage=usage)

    async def complete(self, request: CompletionRequest) -> tuple[str, Completion]:
        """One non-streamed call; the first choice's content."""
        response = await self._client.post_json("/chat/completions", self._body(request, False))
        if "error" in response:
            raise UpstreamError(ErrorCode.UPSTREAM_FAILED, failure_message(response))
        choices = response.get("choices") or [{}]
        message = choices[0].get("message") or {} if isinstance(choices[0], dict) else {}
        content = message.get("content")
        return (content if isinstance(content, str) else ""), Completion(usage=usage_of(response))

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()
