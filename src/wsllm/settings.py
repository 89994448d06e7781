"""One settings object for the server: defaults, then `.env`, then the environment, then flags."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values

from wsllm.errors import ConfigError

BackendName = Literal["openai", "openai-chat", "simulated"]
BACKENDS: tuple[BackendName, ...] = ("openai", "openai-chat", "simulated")


def _setting(default: Any, env: str, doc: str) -> Any:
    return field(default=default, metadata={"env": env, "doc": doc})


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything `wsllm serve` can be told; each field names its environment variable."""

    backend: BackendName | None = _setting(
        None, "WSLLM_BACKEND", "openai, openai-chat or simulated; simulated when no API key is set"
    )
    openai_api_key: str | None = _setting(None, "OPENAI_API_KEY", "API key for the upstream")
    openai_base_url: str = _setting(
        "https://api.openai.com/v1", "OPENAI_BASE_URL", "upstream base URL, ending in /v1"
    )
    model: str = _setting("gpt-4.1-mini", "CHATBOT_MODEL", "model name sent upstream")
    host: str = _setting("127.0.0.1", "WSLLM_HOST", "address to listen on")
    port: int = _setting(3300, "PORT", "port to listen on (0 picks a free one)")
    max_frame_bytes: int = _setting(
        1_048_576, "WSLLM_MAX_FRAME_BYTES", "largest client frame accepted, in bytes"
    )
    upstream_timeout: float = _setting(
        60.0,
        "WSLLM_UPSTREAM_TIMEOUT",
        "seconds the upstream may stay silent before the request fails",
    )
    connect_timeout: float = _setting(
        10.0, "WSLLM_CONNECT_TIMEOUT", "seconds to connect to the upstream"
    )
    upstream_deadline: float = _setting(
        600.0,
        "WSLLM_UPSTREAM_DEADLINE",
        "seconds a whole upstream request may take, however steadily it trickles",
    )
    upstream_max_bytes: int = _setting(
        8 * 1024 * 1024,
        "WSLLM_UPSTREAM_MAX_BYTES",
        "largest upstream event or JSON answer, in bytes",
    )
    sim_ttft_ms: float = _setting(
        200.0, "WSLLM_SIM_TTFT_MS", "simulated model: delay before the first token, ms"
    )
    sim_itl_ms: float = _setting(
        20.0, "WSLLM_SIM_ITL_MS", "simulated model: delay between tokens, ms"
    )
    sim_tokens: int = _setting(48, "WSLLM_SIM_TOKENS", "simulated model: tokens per reply")
    log_level: str = _setting("info", "WSLLM_LOG_LEVEL", "debug, info, warning or error")
    log_format: str = _setting("text", "WSLLM_LOG_FORMAT", "text, or json: one object a line")
    instructions: str | None = _setting(
        None, "WSLLM_INSTRUCTIONS", "system prompt for every request"
    )
    conversation: str = _setting(
        "independent",
        "WSLLM_CONVERSATION",
        "independent, or continue: requests carry on by default",
    )
    conversation_max_bytes: int = _setting(
        262_144,
        "WSLLM_CONVERSATION_MAX_BYTES",
        "bytes of earlier turns a connection remembers; the oldest go first",
    )
    busy: str = _setting("reject", "WSLLM_BUSY", "a request while one runs: reject (busy) or queue")
    ping_interval: float = _setting(20.0, "WSLLM_PING_INTERVAL", "seconds between protocol pings")
    idle_timeout: float = _setting(
        300.0, "WSLLM_IDLE_TIMEOUT", "close after this many idle seconds"
    )
    max_connections: int = _setting(10000, "WSLLM_MAX_CONNECTIONS", "open connections in all")
    max_connections_per_client: int = _setting(
        256, "WSLLM_MAX_CONNECTIONS_PER_CLIENT", "open connections per client address"
    )
    rate_limit: float = _setting(0.0, "WSLLM_RATE_LIMIT", "requests a minute per client (0: off)")
    send_buffer_bytes: int = _setting(
        1_048_576, "WSLLM_SEND_BUFFER_BYTES", "unsent bytes a connection may hold"
    )
    slow_consumer_timeout: float = _setting(
        10.0, "WSLLM_SLOW_CONSUMER_TIMEOUT", "seconds a full send buffer may last"
    )
    api_keys: str = _setting("", "WSLLM_API_KEYS", "comma-separated keys; none: no auth")
    allowed_origins: str = _setting("", "WSLLM_ALLOWED_ORIGINS", "comma-separated browser origins")
    trusted_proxies: str = _setting(
        "",
        "WSLLM_TRUSTED_PROXIES",
        "comma-separated addresses of balancers whose X-Forwarded-For names the client",
    )
    handshake_timeout: float = _setting(
        10.0, "WSLLM_HANDSHAKE_TIMEOUT", "seconds a client may take to send its HTTP request"
    )
    auth_timeout: float = _setting(10.0, "WSLLM_AUTH_TIMEOUT", "seconds to send the auth message")
    drain_timeout: float = _setting(30.0, "WSLLM_DRAIN_TIMEOUT", "seconds to finish on shutdown")
    workers: int = _setting(1, "WSLLM_WORKERS", "processes serving the port")
    redis_url: str | None = _setting(
        None, "WSLLM_REDIS_URL", "Redis shared by every node (redis://host:6379/0); none: one node"
    )
    resume_grace: float = _setting(
        30.0,
        "WSLLM_RESUME_GRACE",
        "seconds a request goes on after its client drops, waiting to be resumed",
    )
    resume_ttl: float = _setting(
        30.0, "WSLLM_RESUME_TTL", "seconds a finished stream is kept for clients to resume"
    )
    resume_max_bytes: int = _setting(
        268_435_456,
        "WSLLM_RESUME_MAX_BYTES",
        "bytes of finished streams a node keeps in memory at most (the oldest go first)",
    )
    responses_connection_limit: float = _setting(
        3600.0,
        "WSLLM_RESPONSES_CONNECTION_LIMIT",
        "seconds a /v1/responses connection may last (OpenAI's WebSocket mode: 60 minutes)",
    )

    @property
    def key_set(self) -> frozenset[str]:
        """The API keys clients must present (empty: auth is off)."""
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())

    @property
    def origin_set(self) -> frozenset[str]:
        """Browser origins allowed to connect (empty: any)."""
        return frozenset(
            o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()
        )

    @property
    def proxy_set(self) -> frozenset[str]:
        """Balancers whose X-Forwarded-For is believed."""
        return frozenset(p.strip() for p in self.trusted_proxies.split(",") if p.strip())

    @property
    def effective_backend(self) -> BackendName:
        """The backend that will serve: the chosen one, else openai with a key, else simulated."""
        if self.backend is not None:
            return self.backend
        return "openai" if self.openai_api_key else "simulated"


def env_names() -> dict[str, str]:
    """Field name to environment variable, for every setting."""
    return {f.name: f.metadata["env"] for f in dataclasses.fields(Settings)}


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    env_file: Path | None = Path(".env"),
) -> Settings:
    """Settings from a `.env` file, the environment and explicit overrides, in rising priority."""
    raw: dict[str, Any] = {}
    if env_file is not None and env_file.is_file():
        raw.update(_from_env(_read_env_file(env_file)))
    raw.update(_from_env(os.environ if environ is None else environ))
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return _build(raw)


def _read_env_file(path: Path) -> dict[str, str]:
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def _from_env(environ: Mapping[str, str]) -> dict[str, str]:
    return {name: environ[var] for name, var in env_names().items() if environ.get(var, "").strip()}


def _build(raw: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        if f.name in raw:
            values[f.name] = _coerce(f, raw[f.name])
    return Settings(**values)


def _coerce(f: dataclasses.Field[Any], value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = value.strip()
    convert = _CONVERTERS.get(f.name, str)
    try:
        return convert(value)
    except ValueError as exc:
        raise ConfigError(f"{f.metadata['env']}={value!r}: {exc}") from exc


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("expected a number of 0 or more")
    return number


def _port(value: str) -> int:
    number = int(value)
    if not 0 <= number <= 65535:
        raise ValueError("expected a port between 0 and 65535")
    return number


def _non_negative_float(value: str) -> float:
    number = float(value)
    if number < 0:
        raise ValueError("expected a number of 0 or more")
    return number


def _backend(value: str) -> str:
    if value not in BACKENDS:
        raise ValueError(f"expected one of {', '.join(BACKENDS)}")
    return value


def _one_of(*choices: str) -> Callable[[str], str]:
    def convert(value: str) -> str:
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value

    return convert


def _at_least_one(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("expected 1 or more")
    return number


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "backend": _backend,
    "log_format": _one_of("text", "json"),
    "log_level": _one_of("debug", "info", "warning", "error"),
    "conversation": _one_of("independent", "continue"),
    "busy": _one_of("reject", "queue"),
    "ping_interval": _non_negative_float,
    "idle_timeout": _non_negative_float,
    "max_connections": _positive_int,
    "max_connections_per_client": _positive_int,
    "rate_limit": _non_negative_float,
    "send_buffer_bytes": _at_least_one,
    "slow_consumer_timeout": _non_negative_float,
    "auth_timeout": _non_negative_float,
    "drain_timeout": _non_negative_float,
    "workers": _at_least_one,
    "port": _port,
    "max_frame_bytes": _positive_int,
    "sim_tokens": _positive_int,
    "upstream_timeout": _non_negative_float,
    "upstream_deadline": _non_negative_float,
    "upstream_max_bytes": _at_least_one,
    "conversation_max_bytes": _positive_int,
    "handshake_timeout": _non_negative_float,
    "responses_connection_limit": _non_negative_float,
    "resume_grace": _non_negative_float,
    "resume_ttl": _non_negative_float,
    "resume_max_bytes": _positive_int,
    "connect_timeout": _non_negative_float,
    "sim_ttft_ms": _non_negative_float,
    "sim_itl_ms": _non_negative_float,
}
