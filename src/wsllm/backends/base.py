"""The one plug-in point for models: an async iterator of text deltas, ended by a Completion."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol


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


Delta = str | Completion


class Backend(Protocol):
    """A model behind the server. Failures raise UpstreamError with a stable code."""

    name: str
    description: str

    def stream(self, request: CompletionRequest) -> AsyncGenerator[Delta, None]:
        """Yield the reply as text deltas as the model produces them, then one Completion."""
        ...

    async def complete(self, request: CompletionRequest) -> tuple[str, Completion]:
        """Return the whole reply at once."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
