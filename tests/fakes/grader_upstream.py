"""A fake grading model: Chat Completions, Responses and embeddings in OpenAI's wire format.

`reply` decides each answer from the request's messages; `failures` makes the next calls answer
429 or 500 (with `Retry-After: 0`, so retries are instant); every request is recorded.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Reply = Callable[[list[dict[str, str]]], str]


def embed(text: str, size: int = 16) -> list[float]:
    """A deterministic unit vector per text: equal texts, equal vectors."""
    digest = hashlib.sha256(text.encode()).digest()
    raw = [b - 128 for b in digest[:size]]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


@dataclass
class FakeGrader:
    """The fake's knobs and what it saw."""

    reply: Reply = lambda messages: '{"pass": true, "score": 1, "reason": "fine"}'
    failures: list[int] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_post("/v1/embeddings", self._embeddings)
        return app

    async def _failure(self, request: web.Request) -> tuple[dict[str, Any], web.Response | None]:
        body: dict[str, Any] = await request.json()
        self.requests.append({"path": request.path, **body})
        if self.failures:
            status = self.failures.pop(0)
            error = {
                "error": {
                    "message": "slow down" if status == 429 else "boom",
                    "type": "server_error",
                }
            }
            return body, web.json_response(error, status=status, headers={"Retry-After": "0"})
        return body, None

    async def _chat(self, request: web.Request) -> web.Response:
        body, failure = await self._failure(request)
        if failure is not None:
            return failure
        text = self.reply(body["messages"])
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
        }
        usage = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
        return web.json_response(
            {"id": "chatcmpl-1", "object": "chat.completion", "choices": [choice], "usage": usage}
        )

    async def _responses(self, request: web.Request) -> web.Response:
        body, failure = await self._failure(request)
        if failure is not None:
            return failure
        text = self.reply(body["input"])
        item = {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text}],
        }
        usage = {"input_tokens": 90, "output_tokens": 10, "total_tokens": 100}
        return web.json_response(
            {"id": "resp_1", "status": "completed", "output": [item], "usage": usage}
        )

    async def _embeddings(self, request: web.Request) -> web.Response:
        body, failure = await self._failure(request)
        if failure is not None:
            return failure
        data = [
            {"object": "embedding", "index": i, "embedding": embed(t)}
            for i, t in enumerate(body["input"])
        ]
        return web.json_response(
            {"object": "list", "data": data, "usage": {"prompt_tokens": 5, "total_tokens": 5}}
        )
