"""Model backends, registered by name and imported only when used."""

from __future__ import annotations

from wsllm.backends.base import Backend, Completion, CompletionRequest, Delta, Turn
from wsllm.settings import Settings

__all__ = ["Backend", "Completion", "CompletionRequest", "Delta", "Turn", "create_backend"]


def create_backend(settings: Settings) -> Backend:
    """The backend the settings name, ready to serve."""
    name = settings.effective_backend
    if name == "openai":
        from wsllm.backends.openai_responses import OpenAIResponsesBackend

        return OpenAIResponsesBackend(settings)
    if name == "openai-chat":
        from wsllm.backends.openai_chat import OpenAIChatBackend

        return OpenAIChatBackend(settings)
    from wsllm.backends.simulated import SimulatedBackend

    return SimulatedBackend(settings)
