"""Graders: an OpenAI-compatible model (Chat Completions or Responses), or the simulated one.

Calls run concurrently up to a bound, are retried on 429 and 5xx with backoff, are cached on disk
by model and prompt, and their token usage is counted for the run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from wsllm.errors import ConfigError, WsllmError
from wsllm.evals import textmetrics
from wsllm.graders.prompts import GradeTask

SIMULATED_LABEL = "[simulated grader: not a real judge]"
RETRIES = 4


class GraderError(WsllmError):
    """The grader could not be reached or kept failing."""


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
    base_url: str
    api_key: str | None
    session: aiohttp.ClientSession
    cache: ReplyCache
    usage: Usage
    limit: asyncio.Semaphore
    simulated: bool = False
    label: str = field(init=False)

    def __post_init__(self) -> None:
        self.label = f"openai:{self.api}:{self.model}"

    async def ask(self, task: GradeTask) -> str:
        """The model's answer, from the cache or the endpoint."""
        key = ReplyCache.key(self.label + "@" + self.base_url, task)
        cached = self.cache.get(key)
        if cached is not None:
            self.usage.cached += 1
            return cached
        async with self.limit:
            text = await self._call(task)
        self.cache.put(key, text)
        return text

    async def _call(self, task: GradeTask) -> str:
        path, body = self._request(task)
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = f"{self.base_url.rstrip('/')}{path}"
        for attempt in range(RETRIES + 1):
            try:
                async with self.session.post(url, json=body, headers=headers) as response:
                    payload = await response.text()
                    retryable = response.status == 429 or response.status >= 500
                    if retryable and attempt < RETRIES:
                        await asyncio.sleep(_backoff(attempt, response.headers.get("Retry-After")))
                        continue
                    if response.status >= 300:
                        raise GraderError(
                            f"the grader at {url} answered {response.status}: {payload[:200]}"
                        )
                    return self._read(json.loads(payload))
            except (aiohttp.ClientError, TimeoutError) as exc:
                if attempt == RETRIES:
                    raise GraderError(f"cannot reach the grader at {url}: {exc}") from exc
                await asyncio.sleep(_backoff(attempt, None))
            except json.JSONDecodeError as exc:
                raise GraderError(f"the grader at {url} did not answer with JSON") from exc
        raise GraderError(f"the grader at {url} kept failing after {RETRIES + 1} tries")

    def _request(self, task: GradeTask) -> tuple[str, dict[str, Any]]:
        if self.api == "responses":
            return "/responses", {"model": self.model, "input": task.chat()}
        return "/chat/completions", {"model": self.model, "messages": task.chat(), "temperature": 0}

    def _read(self, payload: dict[str, Any]) -> str:
        self.usage.requests += 1
        usage = payload.get("usage") or {}
        self.usage.prompt += int(usage.get("prompt_tokens") or usage.get("input_tokens") or 0)
        self.usage.completion += int(
            usage.get("completion_tokens") or usage.get("output_tokens") or 0
        )
        if self.api == "responses":
            from wsllm.backends.openai_responses import output_text

            return output_text(payload)
        choices = payload.get("choices") or [{}]
        return str(((choices[0] or {}).get("message") or {}).get("content") or "")


def _backoff(attempt: int, retry_after: str | None) -> float:
    if retry_after and retry_after.replace(".", "", 1).isdigit():
        return min(float(retry_after), 30.0)
    delay: float = min(0.25 * 2**attempt, 8.0) * (0.8 + 0.4 * random.random())
    return delay


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


@dataclass
class Graders:
    """The run's graders, made on first use and shared; and what they cost."""

    default: Any
    cache_path: Path | None
    concurrency: int = 8
    usage: Usage = field(default_factory=Usage)
    _session: aiohttp.ClientSession | None = None
    _made: dict[str, Grader] = field(default_factory=dict)
    _cache: ReplyCache | None = None
    _limit: asyncio.Semaphore | None = None
    used_simulated: bool = False

    def get(self, spec: Any) -> Grader:
        """The grader for an assertion's, a test's or the run's provider."""
        chosen = spec if spec is not None else self.default
        key = json.dumps(chosen, sort_keys=True, default=str)
        if key not in self._made:
            self._made[key] = self._make(chosen)
        grader = self._made[key]
        self.used_simulated = self.used_simulated or grader.simulated
        return grader

    def _make(self, spec: Any) -> Grader:
        api, model, config = parse_grader_id(spec)
        if api == "simulated":
            return SimulatedGrader(self.usage)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
            self._cache = ReplyCache(self.cache_path)
            self._limit = asyncio.Semaphore(self.concurrency)
        assert self._cache is not None
        assert self._limit is not None
        base = (
            config.get("apiBaseUrl")
            or os.environ.get("OPENAI_BASE_URL")
            or "https://api.openai.com/v1"
        )
        key = config.get("apiKey") or os.environ.get("OPENAI_API_KEY")
        return OpenAIGrader(
            model, api, str(base), key, self._session, self._cache, self.usage, self._limit
        )

    async def aclose(self) -> None:
        """Close connections."""
        if self._session is not None:
            await self._session.close()


def default_grader(flag: str | None) -> Any:
    """--grader, else $WSLLM_GRADER, else OpenAI when a key is set, else the simulated grader."""
    if flag:
        return flag
    if os.environ.get("WSLLM_GRADER"):
        return os.environ["WSLLM_GRADER"]
    return "openai:chat:gpt-4.1-mini" if os.environ.get("OPENAI_API_KEY") else "simulated"
