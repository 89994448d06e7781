"""The OpenAI Responses API (`POST /v1/responses`); also vLLM, Ollama, LiteLLM by base URL."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from wsllm.backends.base import BACKENDS, Completion, CompletionRequest, Reply
from wsllm.backends.upstream import upstream_client
from wsllm.codes import ErrorCode
from wsllm.errors import UpstreamError
from wsllm.openai import responses
from wsllm.settings import Settings


@BACKENDS.register("openai")
class OpenAIResponsesBackend:
    """Streams `response.output_text.delta` events; `error` and `response.failed` become errors."""

    name = "openai"

    def __init__(self, settings: Settings) -> None:
        self._client = upstream_client(settings)
        self.description = f"OpenAI Responses API at {self._client.base_url}"

    def stream(self, request: CompletionRequest) -> Reply:
        """Text deltas until `response.completed`; a stream that stops short is an error."""
        return Reply(lambda reply: self._deltas(request, reply))

    async def _deltas(self, request: CompletionRequest, reply: Reply) -> AsyncGenerator[str, None]:
        body = responses.request_body(
            request.model, request.input, request.instructions, request.previous_response_id
        )
        async for event in self._client.post_sse("/responses", body):
            item = responses.read_event(responses.event_payload(event.data))
            if isinstance(item, str):
                if item:
                    yield item
            elif item is not None:
                reply.completion = Completion(item.usage, item.response_id)
                return
        raise UpstreamError(
            ErrorCode.UPSTREAM_INTERRUPTED, "The model server closed the stream before it finished"
        )

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()
