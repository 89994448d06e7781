"""The one plug-in point for models: a reply streamed as text deltas.

A backend's `stream(request)` returns a Reply; iterating it gives the text as the model produces
it (or `pump` hands each delta to a callback), and once it ends `reply.completion` holds the token
usage and the backend's id for the reply. A whole reply is the stream joined.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Protocol

from wsllm.registry import Registry


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier exchange of a conversation."""

    user: str
    assistant: str


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """What a backend is asked: the user's text, the model, and the conversation so far."""

    input: str
    model: str
    instructions: str | None = None
    history: tuple[Turn, ...] = ()
    previous_response_id: str | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    """What a backend knows once it has finished: token usage and its id for the reply."""

    usage: dict[str, int] | None = None
    response_id: str | None = None


NO_COMPLETION = Completion()  # what is known of a reply that has not ended (shared: frozen)


class Reply:
    """One reply as it streams: `async for text in reply`; then `reply.completion`."""

    __slots__ = ("_deltas", "_make", "completion")

    def __init__(self, deltas: Callable[[Reply], AsyncGenerator[str, None]]) -> None:
        """`deltas(reply)` makes the deltas, when they are first asked for."""
        self.completion = NO_COMPLETION
        self._make = deltas
        self._deltas: AsyncGenerator[str, None] | None = None

    def __aiter__(self) -> AsyncGenerator[str, None]:
        if self._deltas is None:
            self._deltas = self._make(self)
        return self._deltas

    async def pump(self, take: Callable[[str], object]) -> None:
        """Hand each delta to `take` as it comes; return once the reply has ended. A backend
        whose deltas come from timers or callbacks overrides it to call `take` from there, with
        no task to wake for each delta."""
        async for delta in self:
            take(delta)

    async def aclose(self) -> None:
        """Stop the reply early and release its upstream call."""
        if self._deltas is not None:
            await self._deltas.aclose()

    async def text(self) -> str:
        """The whole reply, joined."""
        return "".join([delta async for delta in self])


class Backend(Protocol):
    """A model behind the server. Failures raise UpstreamError with a stable code."""

    name: str
    description: str

    def stream(self, request: CompletionRequest) -> Reply:
        """The reply to `request`, streamed."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


BackendFactory = Callable[..., Backend]
BACKENDS: Registry[BackendFactory] = Registry(
    "backend",
    {
        "openai": "wsllm.backends.openai_responses",
        "openai-chat": "wsllm.backends.openai_chat",
        "simulated": "wsllm.backends.simulated",
    },
)
