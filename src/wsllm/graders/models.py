"""Graders: an OpenAI-compatible model (Chat Completions or Responses), or the simulated one.

Calls run concurrently up to a bound, are retried on 429 and 5xx with backoff, are cached on disk
by model and prompt, and their token usage is counted for the run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from wsllm import textmetrics
from wsllm.errors import ConfigError, GraderError, UpstreamError
from wsllm.graders.prompts import GradeTask
from wsllm.openai import chat, responses
from wsllm.openai.endpoint import Limits, resolve_endpoint
from wsllm.registry import Registry

if TYPE_CHECKING:
    from wsllm.openai.client import OpenAIClient

SIMULATED_LABEL = "[simulated grader: not a real judge]"
GRADER_LIMITS = Limits(silence_timeout=120.0, deadline=300.0, retries=4)


@dataclass(slots=True)
class Usage:
    """Grader tokens and calls of a run."""

    prompt: int = 0
    completion: int = 0
    requests: int = 0
    cached: int = 0

    @property
    def total(self) -> int:
        """Prompt and completion tokens."""
        return self.prompt + self.completion

    def as_dict(self) -> dict[str, int]:
        """promptfoo's tokenUsage shape."""
        return {"total": self.total, "prompt": self.prompt, "completion": self.completion,
                "cached": self.cached, "numRequests": self.requests}  # fmt: skip


class Grader(Protocol):
    """Answers grading tasks with text, as a model would."""

    label: str
    simulated: bool

    async def ask(self, task: GradeTask) -> str:
        """The grader's answer to `task`."""
        ...


class ReplyCache:
    """Grader answers on disk, keyed by model and prompt."""

    def __init__(self, path: Path | None) -> None:
        self._db: sqlite3.Connection | None = None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(
                    path, isolation_level=None, check_same_thread=False, timeout=10
                )
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, text TEXT NOT NULL)"
                )
            except (sqlite3.DatabaseError, OSError):
                self._db = None  # a cache that cannot open is no reason to stop a run

    @staticmethod
    def key(model: str, task: GradeTask) -> str:
        """The cache key of a task for a model."""
        return hashlib.sha256(json.dumps([model, task.messages]).encode()).hexdigest()

    def get(self, key: str) -> str | None:
        """A cached answer."""
        if self._db is None:
            return None
        row = self._db.execute("SELECT text FROM replies WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put(self, key: str, text: str) -> None:
        """Remember an answer."""
        if self._db is not None:
            self._db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?)", (key, text))


def default_cache_path() -> Path:
    """$XDG_CACHE_HOME/wsllm/grader.db."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "wsllm" / "grader.db"


@dataclass(slots=True)
class OpenAIGrader:
    """A model behind Chat Completions (`openai:chat:M`) or Responses (`openai:responses:M`)."""

    model: str
    api: str
    client: OpenAIClient
    cache: ReplyCache
    usage: Usage
    limit: asyncio.Semaphore
    simulated: bool = False
    label: str = field(init=False)

    def __post_init__(self) -> None:
        self.label = f"openai:{self.api}:{self.model}"

    async def ask(self, task: GradeTask) -> str:
        """The model's answer, from the cache or the endpoint."""
        key = ReplyCache.key(self.label + "@" + self.client.base_url, task)
        cached = self.cache.get(key)
        if cached is not None:
            self.usage.cached += 1
            return cached
        async with self.limit:
            text = await self._call(task)
        self.cache.put(key, text)
        return text

    async def _call(self, task: GradeTask) -> str:
        try:
            return await self._ask(task)
        except UpstreamError as exc:
            where = f"the grader {self.label} at {self.client.base_url}"
            raise GraderError(f"{where}: {exc.message}") from exc

    async def _ask(self, task: GradeTask) -> str:
        if self.api == "responses":
            body = responses.request_body(self.model, task.chat(), stream=False)
            payload = await self.client.post_json("/responses", body)
            self._count(payload)
            return responses.output_text(payload)
        body = chat.request_body(self.model, task.chat(), False, temperature=0)
        payload = await self.client.post_json("/chat/completions", body)
        self._count(payload)
        return chat.reply_text(payload)

    def _count(self, payload: dict[str, Any]) -> None:
        self.usage.requests += 1
        usage = chat.usage_of(payload) or {}
        self.usage.prompt += usage.get("input_tokens", 0)
        self.usage.completion += usage.get("output_tokens", 0)


class SimulatedGrader:
    """Offline stand-in: judges by word overlap and says so in every reason. Not a real judge."""

    label = "simulated"
    simulated = True

    def __init__(self, usage: Usage) -> None:
        self.usage = usage

    async def ask(self, task: GradeTask) -> str:
        """An answer in the form a real grader gives, from simple text overlap."""
        self.usage.requests += 1
        f = task.fields
        if task.kind == "llm-rubric":
            share = _overlap(f["rubric"], f["output"])
            reason = f"{SIMULATED_LABEL} {share:.0%} of the rubric's words appear in the output"
            return json.dumps({"reason": reason, "pass": share >= 0.5, "score": round(share, 2)})
        if task.kind == "model-graded-closedqa":
            share = _overlap(f["criterion"], f["output"])
            verdict = "Y" if share >= 0.5 else "N"
            return f"{SIMULATED_LABEL} {share:.0%} of the criterion's words appear.\n{verdict}"
        if task.kind == "factuality":
            similarity = textmetrics.rouge_n(f["output"].lower(), f["reference"].lower())
            category = (
                "C"
                if similarity >= 0.6
                else ("A" if _overlap(f["output"], f["reference"]) >= 0.8 else "D")
            )
            return json.dumps(
                {"category": category, "reason": f"{SIMULATED_LABEL} word overlap {similarity:.2f}"}
            )
        if task.kind == "g-eval-steps":
            return json.dumps({"steps": [f"Check the reply for: {f['criteria']}"]})
        if task.kind == "g-eval-score":
            share = _overlap(f["criteria"], f["output"])
            return json.dumps(
                {"score": round(10 * share, 1), "reason": f"{SIMULATED_LABEL} word overlap"}
            )
        if task.kind == "select-best":
            keys = sorted((k for k in f if k.startswith("output")), key=lambda k: int(k[6:]))
            outputs = [f[k] for k in keys]
            shares = [_overlap(f["criteria"], o) for o in outputs]
            return str(shares.index(max(shares)))
        if task.kind == "answer-relevance":
            first = f["output"].split(".")[0][:200]
            return json.dumps({"questions": [f"What about {first}?"]})
        raise GraderError(f"the simulated grader cannot do {task.kind}")


def _overlap(reference: str, text: str) -> float:
    words = {w.lower() for w in textmetrics.tokens(reference) if len(w) > 3}
    if not words:
        return 1.0
    present = {w.lower() for w in textmetrics.tokens(text)}
    return len(words & present) / len(words)


def parse_grader_id(spec: Any) -> tuple[str, str, dict[str, Any]]:
    """(api, model, config) from `openai:chat:M`, `openai:responses:M`, `openai:M`, `simulated`,
    or {"id": ..., "config": {"apiBaseUrl": ..., "apiKey": ...}}."""
    config: dict[str, Any] = {}
    if isinstance(spec, dict):
        config = dict(spec.get("config") or {})
        spec = spec.get("id")
    if not isinstance(spec, str) or not spec:
        raise ConfigError(
            f"grader: expected a provider id such as openai:chat:gpt-4.1-mini, got {spec!r}"
        )
    if spec == "simulated":
        return "simulated", "simulated", config
    parts = spec.split(":")
    if parts[0] != "openai" or len(parts) < 2:
        raise ConfigError(
            f"grader {spec!r}: use openai:chat:MODEL, openai:responses:MODEL or simulated"
        )
    if len(parts) >= 3 and parts[1] in ("chat", "responses"):
        return parts[1], ":".join(parts[2:]), config
    return "chat", ":".join(parts[1:]), config


GraderFactory = Callable[["Graders", str, dict[str, Any]], Grader]
GRADERS: Registry[GraderFactory] = Registry("grader")


@dataclass
class Graders:
    """The run's graders, made on first use and shared; and what they cost."""

    default: Any
    cache_path: Path | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    concurrency: int = 8
    usage: Usage = field(default_factory=Usage)
    _made: dict[str, Grader] = field(default_factory=dict)
    _clients: dict[tuple[str, str | None], OpenAIClient] = field(default_factory=dict)
    _cache: ReplyCache | None = None
    _limit: asyncio.Semaphore | None = None
    used_simulated: bool = False

    def get(self, spec: Any) -> Grader:
        """The grader for an assertion's, a test's or the run's provider."""
        chosen = spec if spec is not None else self.default
        key = json.dumps(chosen, sort_keys=True, default=str)
        if key not in self._made:
            api, model, config = parse_grader_id(chosen)
            self._made[key] = GRADERS.get(api)(self, model, config)
        grader = self._made[key]
        self.used_simulated = self.used_simulated or grader.simulated
        return grader

    def client(self, config: dict[str, Any]) -> OpenAIClient:
        """The shared client for the endpoint a provider config names."""
        base, key = resolve_endpoint(config.get("apiBaseUrl"), config.get("apiKey"), self.environ)
        if (base, key) not in self._clients:
            from wsllm.openai.client import OpenAIClient  # HTTP only for runs that grade by model

            self._clients[(base, key)] = OpenAIClient(base, key, GRADER_LIMITS)
        return self._clients[(base, key)]

    def openai(self, api: str, model: str, config: dict[str, Any]) -> OpenAIGrader:
        """A grader on an OpenAI-compatible endpoint."""
        if self._cache is None:
            self._cache = ReplyCache(self.cache_path)
        if self._limit is None:
            self._limit = asyncio.Semaphore(self.concurrency)
        return OpenAIGrader(model, api, self.client(config), self._cache, self.usage, self._limit)

    async def aclose(self) -> None:
        """Close connections."""
        for client in self._clients.values():
            await client.aclose()


GRADERS.add("chat", lambda graders, model, config: graders.openai("chat", model, config))
GRADERS.add("responses", lambda graders, model, config: graders.openai("responses", model, config))
GRADERS.add("simulated", lambda graders, model, config: SimulatedGrader(graders.usage))


def default_grader(flag: str | None) -> Any:
    """--grader, else $WSLLM_GRADER, else OpenAI when a key is set, else the simulated grader."""
    if flag:
        return flag
    if os.environ.get("WSLLM_GRADER"):
        return os.environ["WSLLM_GRADER"]
    return "openai:chat:gpt-4.1-mini" if os.environ.get("OPENAI_API_KEY") else "simulated"
