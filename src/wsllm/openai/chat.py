"""Chat Completions as data (no I/O): messages, request bodies, and what each chunk means."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wsllm.openai.responses import Usage, protocol_error

Message = dict[str, str]


def messages(instructions: str | None, history: Sequence[tuple[str, str]], text: str
             ) -> list[Message]:  # fmt: skip
    """System instructions, the earlier (user, assistant) turns, then the new user message."""
    out = [{"role": "system", "content": instructions}] if instructions else []
    for user, assistant in history:
        out.append({"role": "user", "content": user})
        if assistant:  # a turn may have no reply yet (a warm-up's input)
            out.append({"role": "assistant", "content": assistant})
    out.append({"role": "user", "content": text})
    return out


def request_body(model: str, chat: list[Message], stream: bool, **extra: Any) -> dict[str, Any]:
    """A `POST /chat/completions` body; streamed bodies ask for usage in the last chunk."""
    body: dict[str, Any] = {"model": model, "messages": chat, "stream": stream, **extra}
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def _first_choice(payload: dict[str, Any]) -> dict[str, Any] | None:
    choices = payload.get("choices")
    if choices is None:
        return None
    if not isinstance(choices, list):
        raise protocol_error('a chunk whose "choices" is not a list')
    if not choices:
        return None
    if not isinstance(choices[0], dict):
        raise protocol_error("a choice that is not an object")
    return choices[0]


def chunk_delta(payload: dict[str, Any]) -> tuple[str, bool]:
    """The content delta of one streamed chunk, and whether the chunk ends the choice."""
    choice = _first_choice(payload)
    if choice is None:
        return "", False
    delta = choice.get("delta")
    if delta is not None and not isinstance(delta, dict):
        raise protocol_error('a chunk whose "delta" is not an object')
    content = (delta or {}).get("content")
    if content is not None and not isinstance(content, str):
        raise protocol_error("a content delta that is not a string")
    return content or "", choice.get("finish_reason") is not None


def reply_text(payload: dict[str, Any]) -> str:
    """The first choice's message content of a whole (non-streamed) answer."""
    choice = _first_choice(payload)
    if choice is None:
        raise protocol_error("an answer with no choices")
    message = choice.get("message")
    if not isinstance(message, dict):
        raise protocol_error("a choice with no message")
    content = message.get("content")
    return content if isinstance(content, str) else ""


def usage_of(payload: dict[str, Any]) -> Usage | None:
    """Chat Completions usage, named as the Responses API names it."""
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        return None
    names = {"prompt_tokens": "input_tokens", "completion_tokens": "output_tokens"}
    counts = {names.get(str(k), str(k)): v for k, v in usage.items() if type(v) is int}
    return counts or None
