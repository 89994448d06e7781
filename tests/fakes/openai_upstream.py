"""A fake OpenAI server for tests: `/v1/responses` and `/v1/chat/completions`, streamed or not.

It speaks the real wire format (the SSE event sequences and error bodies the OpenAI API sends) and
can be told to misbehave: an HTTP error status, an `error` or `response.failed` event, a stream cut
midway, a stall, events that are not JSON; or the ways a broken proxy misbehaves: a web page
instead of a stream, only keep-alive comments, a byte a second, a line that never ends, an error
body that never ends, chunks of the wrong shape.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

# "ok", "status:NNN", "error-event", "failed", "cut", "stall", "garbage", "html", "comments",
# "trickle", "endless-line", "endless-error", and for chat "choices-5", "delta-null"
Behaviour = str

_ERROR_BODIES = {
    401: ("Incorrect API key provided: sk-bad.", "invalid_request_error", "invalid_api_key"),
    404: ("The model `nope` does not exist", "invalid_request_error", "model_not_found"),
    429: ("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request.", "server_error", None),
    503: ("The engine is currently overloaded.", "server_error", None),
}


def reply_tokens(text: str, count: int) -> list[str]:
    """The deterministic reply: `Echo: <input>` followed by numbered words."""
    return [f"Echo: {text}", *(f" w{i}" for i in range(1, count))]


@dataclass
class Recorded:
    """One request the fake received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOpenAI:
    """The fake's knobs and what it saw; `behaviour` applies to every following request."""

    behaviour: Behaviour = "ok"
    tokens: int = 5
    delay: float = 0.0
    requests: list[Recorded] = field(default_factory=list)
    open_streams: int = 0
    base_url: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        """The aiohttp application serving the fake."""
        app = web.Application()
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_post("/v1/chat/completions", self._chat)
        return app

    async def _record(self, request: web.Request) -> dict[str, Any]:
        body = orjson.loads(await request.read())
        self.requests.append(Recorded(request.path, dict(request.headers), body))
        return body  # type: ignore[no-any-return]

    def _status_error(self) -> web.Response | None:
        if not self.behaviour.startswith("status:"):
            return None
        status = int(self.behaviour.split(":")[1])
        message, kind, code = _ERROR_BODIES.get(status, ("error", "server_error", None))
        error = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        return web.json_response(error, status=status)

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        failure = self._status_error() or await self._broken(request)
        if failure is not None:
            return failure
        if self.behaviour == "stall" and not body.get("stream"):
            await asyncio.sleep(3600)
        rid = f"resp_{next(self._ids)}"
        tokens = reply_tokens(str(body.get("input")), self.tokens)
        if not body.get("stream"):
            text = "".join(tokens)
            return web.json_response(_response_object(rid, body["model"], "completed", text))
        return await self._stream(request, _responses_events(rid, body["model"], tokens))

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        failure = self._status_error() or await self._broken(request)
        if failure is not None:
            return failure
        last = body["messages"][-1]["content"]
        tokens = reply_tokens(str(last), self.tokens)
        cid = f"chatcmpl-{next(self._ids)}"
        if not body.get("stream"):
            return web.json_response(_chat_object(cid, body["model"], "".join(tokens)))
        usage = (body.get("stream_options") or {}).get("include_usage", False)
        return await self._stream(request, _chat_events(cid, body["model"], tokens, usage))

    async def _broken(self, request: web.Request) -> web.StreamResponse | None:
        """The answers of a broken proxy or server, before any event."""
        if self.behaviour == "html":
            return web.Response(text="<html><body>Sign in to continue</body></html>",
                                content_type="text/html")  # fmt: skip
        forever = {
            "comments": (b": keep-alive\n\n", 0.05, 200),
            "trickle": (b"d", 0.2, 200),
            "endless-line": (b"data: " + b"x" * 65536, 0.0, 200),
            "endless-error": (b"x" * 65536, 0.0, 500),
        }
        if self.behaviour not in forever:
            return None
        chunk, pause, status = forever[self.behaviour]
        kind = "text/event-stream" if status == 200 else "text/plain"
        response = web.StreamResponse(status=status, headers={"Content-Type": kind})
        await response.prepare(request)
        self.open_streams += 1
        try:
            while True:  # until the client gives up and closes the connection
                await response.write(chunk)
                await asyncio.sleep(pause)
        except (ConnectionError, RuntimeError):
            return response
        finally:
            self.open_streams -= 1

    async def _stream(self, request: web.Request, events: list[bytes]) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        self.open_streams += 1
        try:
            await self._send_events(request, response, events)
        finally:
            self.open_streams -= 1
        return response

    async def _send_events(
        self, request: web.Request, response: web.StreamResponse, events: list[bytes]
    ) -> None:
        half = max(2, len(events) // 2)
        for index, event in enumerate(events):
            if index == half and await self._misbehave(request, response):
                return
            await response.write(event)
            if self.delay:
                await asyncio.sleep(self.delay)
        await response.write_eof()

    async def _misbehave(self, request: web.Request, response: web.StreamResponse) -> bool:
        if self.behaviour == "error-event":
            await response.write(_sse("error", _error_event()))
            await response.write_eof()
        elif self.behaviour == "failed":
            await response.write(_sse("response.failed", _failed_event()))
            await response.write_eof()
        elif self.behaviour == "chat-error":
            await response.write(b'data: {"error": {"message": "model crashed", "code": 500}}\n\n')
            await response.write_eof()
        elif self.behaviour == "choices-5":
            await response.write(b'data: {"id": "c", "choices": 5}\n\n')
            await response.write_eof()
        elif self.behaviour == "garbage":
            await response.write(b"event: response.output_text.delta\ndata: {not json\n\n")
            await response.write_eof()
        elif self.behaviour == "cut":
            assert request.transport is not None
            request.transport.close()
        elif self.behaviour == "stall":
            await asyncio.sleep(3600)
        else:
            return False
        return True


def _sse(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def _response_object(rid: str, model: str, status: str, text: str) -> dict[str, Any]:
    done = status == "completed"
    content = [{"type": "output_text", "text": text, "annotations": []}]
    item = {"id": f"msg_{rid}", "type": "message", "status": "completed", "role": "assistant"}
    return {
        "id": rid,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": model,
        "output": [{**item, "content": content}] if done else [],
        "usage": {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12} if done else None,
    }


def _responses_events(rid: str, model: str, tokens: list[str]) -> list[bytes]:
    text = "".join(tokens)
    item = {"item_id": f"msg_{rid}", "output_index": 0, "content_index": 0}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": _response_object(rid, model, "in_progress", "")}),
        ("response.in_progress", {"response": _response_object(rid, model, "in_progress", "")}),
        ("response.output_item.added", {"output_index": 0, "item": {"id": f"msg_{rid}"}}),
        ("response.content_part.added", {**item, "part": {"type": "output_text", "text": ""}}),
        ("response.output_text.delta", {**item, "delta": None, "logprobs": []}),
        *(("response.output_text.delta", {**item, "delta": t, "logprobs": []}) for t in tokens),
        ("response.output_text.done", {**item, "text": text, "logprobs": []}),
        ("response.content_part.done", {**item, "part": {"type": "output_text", "text": text}}),
        ("response.completed", {"response": _response_object(rid, model, "completed", text)}),
    ]
    return [
        _sse(kind, {"type": kind, "sequence_number": n, **payload})
        for n, (kind, payload) in enumerate(events)
    ]


def _error_event() -> dict[str, Any]:
    return {"type": "error", "code": "server_error", "message": "The model crashed", "param": None}


def _failed_event() -> dict[str, Any]:
    response = _response_object("resp_failed", "m", "failed", "")
    response["error"] = {"code": "server_error", "message": "The model failed to answer"}
    return {"type": "response.failed", "response": response}


def _chat_object(cid: str, model: str, text: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": text}
    return {
        "id": cid,
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
    }


def _chat_events(cid: str, model: str, tokens: list[str], usage: bool) -> list[bytes]:
    base = {"id": cid, "object": "chat.completion.chunk", "created": 0, "model": model}
    deltas: list[dict[str, Any] | None] = [{"role": "assistant", "content": None}, None]
    deltas += [{"content": t} for t in tokens]
    chunks = [
        {**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas
    ]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if usage:  # asked for with stream_options.include_usage: a last chunk with no choices
        counts = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
        chunks.append({**base, "choices": [], "usage": counts})
    return [b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]
