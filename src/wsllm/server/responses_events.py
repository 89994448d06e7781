"""The server events of the Responses API WebSocket mode, as bytes (no I/O).

One `ResponseEvents` per response numbers its events (`sequence_number` from 0) and stamps each
with the lane's `stream_id`, so the official SDK routes them; the shapes are those of the HTTP
streaming events, complete enough that the SDK's strict types accept them.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson

_TEXT_PART = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}


def new_id(prefix: str) -> str:
    """An unguessable id such as `resp_1f3a...` (24 hex digits)."""
    return f"{prefix}_{secrets.token_hex(12)}"


def usage_object(usage: dict[str, int] | None) -> dict[str, Any] | None:
    """Token usage in the shape the Responses API reports it."""
    if usage is None:
        return None
    source, given = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
    return {
        "input_tokens": source,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": given,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.get("total_tokens", source + given),
    }


def error_event(code: str, message: str, status: int = 400, param: str | None = None,
                stream_id: str | None = None) -> bytes:  # fmt: skip
    """An `error` event: a request refused before (or instead of) a response."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    error = {"type": kind, "code": code, "message": message, "param": param}
    event: dict[str, Any] = {"type": "error", "status": status, "error": error}
    if stream_id is not None:
        event["stream_id"] = stream_id
    return orjson.dumps(event)


class ResponseEvents:
    """The events of one response, numbered in order."""

    __slots__ = ("_delta_head", "_delta_tail", "_response", "_seq", "item_id", "response_id",
                 "stream_id")  # fmt: skip

    def __init__(self, model: str, stream_id: str | None, previous: str | None,
                 instructions: str | None) -> None:  # fmt: skip
        self.response_id = new_id("resp")
        self.item_id = new_id("msg")
        self.stream_id = stream_id
        self._seq = 0
        self._response = _response_object(self.response_id, model, previous, instructions)
        lane = b"" if stream_id is None else b',"stream_id":' + orjson.dumps(stream_id)
        self._delta_head = (
            b'{"type":"response.output_text.delta","item_id":"' + self.item_id.encode()
        )
        self._delta_head += b'","output_index":0,"content_index":0,"logprobs":[]' + lane
        self._delta_head += b',"sequence_number":'
        self._delta_tail = b',"delta":'

    def _event(self, kind: str, **fields: Any) -> bytes:
        event: dict[str, Any] = {"type": kind, **fields, "sequence_number": self._seq}
        if self.stream_id is not None:
            event["stream_id"] = self.stream_id
        self._seq += 1
        return orjson.dumps(event)

    def opening(self) -> list[bytes]:
        """created, in_progress: the response exists."""
        return [
            self._event("response.created", response=self._response),
            self._event("response.in_progress", response=self._response),
        ]

    def text_opening(self) -> list[bytes]:
        """output_item.added, content_part.added: a message with one text part begins."""
        item = {"id": self.item_id, "type": "message", "status": "in_progress",
                "role": "assistant", "content": []}  # fmt: skip
        place = {"item_id": self.item_id, "output_index": 0, "content_index": 0}
        return [
            self._event("response.output_item.added", output_index=0, item=item),
            self._event("response.content_part.added", **place, part=_TEXT_PART),
        ]

    def delta(self, text: str) -> bytes:
        """One text delta (the hot path: built from bytes made once per response)."""
        seq = self._seq
        self._seq += 1
        return self._delta_head + str(seq).encode() + self._delta_tail + orjson.dumps(text) + b"}"

    def text_closing(self, text: str) -> list[bytes]:
        """output_text.done, content_part.done, output_item.done: the message is whole."""
        place = {"item_id": self.item_id, "output_index": 0, "content_index": 0}
        return [
            self._event("response.output_text.done", **place, text=text, logprobs=[]),
            self._event("response.content_part.done", **place, part={**_TEXT_PART, "text": text}),
            self._event("response.output_item.done", output_index=0, item=self._message(text)),
        ]

    def _message(self, text: str) -> dict[str, Any]:
        return {"id": self.item_id, "type": "message", "status": "completed", "role": "assistant",
                "content": [{**_TEXT_PART, "text": text}]}  # fmt: skip

    def completed(self, text: str | None, usage: dict[str, int] | None) -> bytes:
        """response.completed: the whole response, its output and usage (no output: a warm-up)."""
        output = [] if text is None else [self._message(text)]
        response = {**self._response, "status": "completed", "completed_at": int(time.time()),
                    "output": output, "usage": usage_object(usage)}  # fmt: skip
        return self._event("response.completed", response=response)

    def failed(self, code: str, message: str, status: str = "failed") -> bytes:
        """response.failed: the response began and could not finish."""
        response = {**self._response, "status": status, "output": [],
                    "error": {"code": code, "message": message}}  # fmt: skip
        return self._event("response.failed", response=response)


def _response_object(rid: str, model: str, previous: str | None, instructions: str | None
                     ) -> dict[str, Any]:  # fmt: skip
    return {
        "id": rid, "object": "response", "created_at": int(time.time()), "status": "in_progress",
        "background": False, "completed_at": None, "error": None, "incomplete_details": None,
        "instructions": instructions, "max_output_tokens": None, "max_tool_calls": None,
        "model": model, "output": [], "parallel_tool_calls": True,
        "previous_response_id": previous, "prompt_cache_key": None,
        "reasoning": {"effort": None, "summary": None}, "safety_identifier": None,
        "service_tier": "default", "store": False, "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"}, "tool_choice": "auto",
        "tools": [], "top_logprobs": 0, "top_p": 1.0, "truncation": "disabled", "usage": None,
        "user": None, "metadata": {},
    }  # fmt: skip
