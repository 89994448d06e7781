"""Embeddings as data (no I/O): the request body, and the vectors of an answer in input order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wsllm.openai.responses import protocol_error

Vector = list[float]


def request_body(model: str, texts: Sequence[str]) -> dict[str, Any]:
    """A `POST /embeddings` body."""
    return {"model": model, "input": list(texts)}


def vectors(payload: dict[str, Any], count: int) -> list[Vector]:
    """One vector per input text, ordered by `index`."""
    rows = payload.get("data")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise protocol_error('an embeddings answer whose "data" is not a list of objects')
    if len(rows) != count:
        raise protocol_error(f"{len(rows)} embeddings for {count} texts")
    ordered = sorted(rows, key=lambda row: row.get("index", 0))
    try:
        return [[float(x) for x in row["embedding"]] for row in ordered]
    except (KeyError, TypeError, ValueError) as exc:
        raise protocol_error("an embedding that is not a list of numbers") from exc
