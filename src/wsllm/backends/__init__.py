"""Model backends, registered by name and imported only when used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wsllm.backends.base import (
    BACKENDS,
    NO_COMPLETION,
    Backend,
    Completion,
    CompletionRequest,
    Reply,
    Turn,
)

if TYPE_CHECKING:
    from wsllm.settings import Settings

__all__ = [
    "NO_COMPLETION",
    "Backend",
    "Completion",
    "CompletionRequest",
    "Reply",
    "Turn",
    "create_backend",
]


def create_backend(settings: Settings) -> Backend:
    """The backend the settings name, ready to serve."""
    return BACKENDS.get(settings.effective_backend)(settings)
