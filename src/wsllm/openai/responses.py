"""The Responses API as data (no I/O): request bodies, and what each streamed event means."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from wsllm.codes import ErrorCode
from wsllm.errors import UpstreamError

Usage = dict[str, int]


@dataclass(frozen=True, slots=True)
class Finished:
    """The end of a response: its token usage and id, and whether it stopped short."""

    usage: Usage | None
    response_id: str | None
    incomplete: bool = False


def request_body(
    model: str,
    input: str | list[dict[str, Any]],
    instructions: str | None = None,
    previous_response_id: str | None = None,
    stream: bool = True,
) -> dict[str, Any]:
    """A `POST /responses` body."""
    body: dict[str, Any] = {"model": model, "input": input, "stream": stream}
    if instructions:
        body["instructions"] = instructions
    if previous_response_id:
        body["previous_response_id"] = previous_response_id
    return body


def event_payload(data: str) -> dict[str, Any]:
    """The JSON object an event carries; an upstream protocol error when it carries none."""
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise protocol_error("an event that is not JSON") from exc
    if not isinstance(payload, dict):
        raise protocol_error("an event that is not a JSON object")
    return payload


def protocol_error(what: str) -> UpstreamError:
    """The model server sent `what`, which its API does not allow."""
    return UpstreamError(ErrorCode.UPSTREAM_PROTOCOL, f"The model server sent {what}")


def read_event(payload: dict[str, Any]) -> str | Finished | None:
    """A text delta, the end of the response, or None for events that carry neither."""
    kind = payload.get("type")
    if kind == "response.output_text.delta":
        delta = payload.get("delta")
        if delta is None:
            return ""  # some proxies send null for an empty delta: nothing to stream
        if not isinstance(delta, str):
            raise protocol_error("a text delta that is not a string")
        return delta
    if kind in ("response.completed", "response.incomplete"):
        response = payload.get("response")
        usage, response_id = usage_and_id(response)
        return Finished(usage, response_id, kind == "response.incomplete")
    if kind in ("error", "response.failed"):
        raise UpstreamError(ErrorCode.UPSTREAM_FAILED, failure_message(payload))
    return None


def failure_message(payload: dict[str, Any]) -> str:
    """The reason inside an `error` or `response.failed` event, or a failed response."""
    error = payload.get("error")
    if not isinstance(error, dict):
        response = payload.get("response")
        error = response.get("error") if isinstance(response, dict) else None
    source = error if isinstance(error, dict) else payload
    message = source.get("message") or "no reason given"
    code = source.get("code")
    return f"The model failed: {message}" + (f" ({code})" if code else "")


def output_text(response: dict[str, Any]) -> str:
    """All `output_text` parts of a response object, joined."""
    output = response.get("output")
    if output is not None and not isinstance(output, list):
        raise protocol_error('a response whose "output" is not a list')
    parts: list[str] = []
    for item in output or []:
        if isinstance(item, dict) and item.get("type") == "message":
            for part in item.get("content") or []:
                if isinstance(part, dict) and part.get("type") == "output_text":
                    parts.append(str(part.get("text", "")))
    return "".join(parts)


def usage_and_id(response: Any) -> tuple[Usage | None, str | None]:
    """The integer usage counts and the id of a response object."""
    if not isinstance(response, dict):
        return None, None
    usage = response.get("usage")
    counts = {k: v for k, v in usage.items() if type(v) is int} if isinstance(usage, dict) else {}
    rid = response.get("id")
    return counts or None, rid if isinstance(rid, str) else None
