"""Streamed Chat Completions (`POST /v1/chat/completions`): llama.cpp, vLLM, Ollama, others."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from wsllm.backends.base import BACKENDS, Completion, CompletionRequest, Reply
from wsllm.backends.upstream import upstream_client
from wsllm.codes import ErrorCode
from wsllm.errors import UpstreamError
from wsllm.openai import chat, responses
from wsllm.settings import Settings


@BACKENDS.register("openai-chat")
class OpenAIChatBackend:
    """Streams `choices[0].delta.content`; ends at `[DONE]` or a finish reason."""

    name = "openai-chat"

    def __init__(self, settings: Settings) -> None:
        self._client = upstream_client(settings)
        self.description = f"OpenAI-compatible Chat Completions at {self._client.base_url}"

    def stream(self, request: CompletionRequest) -> Reply:
        """Content deltas; a stream that ends without a finish is an error."""
        return Reply(lambda reply: self._deltas(request, reply))

    async def _deltas(self, request: CompletionRequest, reply: Reply) -> AsyncGenerator[str, None]:
        history = [(turn.user, turn.assistant) for turn in request.history]
        body = chat.request_body(
            request.model, chat.messages(request.instructions, history, request.input), True
        )
        finished = False
        usage: dict[str, int] | None = None
        async for event in self._client.post_sse("/chat/completions", body):
            if event.data.strip() == "[DONE]":
                break
            payload = responses.event_payload(event.data)
            if "error" in payload:
                raise UpstreamError(ErrorCode.UPSTREAM_FAILED, responses.failure_message(payload))
            usage = chat.usage_of(payload) or usage
            text, done = chat.chunk_delta(payload)
            finished = finished or done
            if text:
                yield text
        if not finished:
            raise UpstreamError(
                ErrorCode.UPSTREAM_INTERRUPTED,
                "The model server closed the stream before it finished",
            )
        reply.completion = Completion(usage=usage)

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()
