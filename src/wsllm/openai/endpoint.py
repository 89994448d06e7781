"""Where an OpenAI-compatible server is and how long to give it (no I/O, no HTTP library)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True, slots=True)
class Limits:
    """How long and how much: every bound of one request."""

    connect_timeout: float = 10.0
    silence_timeout: float = 60.0
    deadline: float = 600.0
    max_event_bytes: int = 8 * 1024 * 1024
    max_body_bytes: int = 32 * 1024 * 1024
    max_error_bytes: int = 64 * 1024
    retries: int = 0


def resolve_endpoint(
    base_url: str | None, api_key: str | None, environ: Mapping[str, str]
) -> tuple[str, str | None]:
    """(base URL, key): the ones given, else OPENAI_BASE_URL and OPENAI_API_KEY, else OpenAI's."""
    base = base_url or environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    return base.rstrip("/"), api_key or environ.get("OPENAI_API_KEY") or None
