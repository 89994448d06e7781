"""The HTTP client a backend talks to its model server with, bounded by the server's settings."""

from __future__ import annotations

from wsllm.openai.client import OpenAIClient
from wsllm.openai.endpoint import Limits
from wsllm.settings import Settings


def upstream_client(settings: Settings) -> OpenAIClient:
    """The backend's client: the settings' base URL, key, timeouts, deadline and caps."""
    limits = Limits(
        connect_timeout=settings.connect_timeout,
        silence_timeout=settings.upstream_timeout,
        deadline=settings.upstream_deadline,
        max_event_bytes=settings.upstream_max_bytes,
        max_body_bytes=settings.upstream_max_bytes,
    )
    return OpenAIClient(settings.openai_base_url, settings.openai_api_key, limits)
