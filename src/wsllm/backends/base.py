"""The one plug-in point for models: an async iterator of text deltas."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """What a backend is asked: the user's text and the model to ask."""

    input: str
    model: str


class Backend(Protocol):
    """A model behind the server. Failures raise UpstreamError with a stable code."""

    name: str
    description: str

    def stream(self, request: CompletionRequest) -> AsyncGenerator[str, None]:
        """Yield the reply as text deltas, as the model produces them."""
        ...

    async def complete(self, request: CompletionRequest) -> str:
        """Return the whole reply at once."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
