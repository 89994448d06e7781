"""The built-in folds: what they make of each kind of frame, and a name that is no fold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wsllm.client.fold import Fold
from wsllm.client.folds import builtin_fold
from wsllm.errors import ConfigError
from wsllm.evals.functions.compiler import FunctionCompiler
from wsllm.evals.validate import Where


def fold(name: str, frames: list[Any]) -> dict[str, Any] | None:
    stream = builtin_fold(name)
    assert stream is not None
    folding = Fold(stream, None, {})
    for frame in frames:
        data = frame if isinstance(frame, str) else json.dumps(frame)
        response = folding.step(data)
        if response is not None:
            return response
    return None


def test_responses_fold_gathers_the_text_deltas_until_completed() -> None:
    frames = [
        {"type": "response.created", "response": {}},
        "not json",
        {"type": "response.output_text.delta", "delta": "Hel"},
        {"type": "response.output_text.delta", "delta": "lo"},
        {"type": "response.output_text.done", "text": "Hello"},
        {"type": "response.completed", "response": {}},
    ]
    assert fold("wsllm:responses", frames) == {"output": "Hello"}


@pytest.mark.parametrize(
    ("last", "error"),
    [
        ({"type": "error", "status": 400, "error": {"code": "bad", "message": "no input"}},
         "bad: no input"),
        ({"type": "response.failed",
          "response": {"error": {"code": "upstream_timeout", "message": "silent"}}},
         "upstream_timeout: silent"),
        ({"type": "response.incomplete",
          "response": {"incomplete_details": {"reason": "max_output_tokens"}}},
         "incomplete: max_output_tokens"),
    ],
)  # fmt: skip
def test_responses_fold_makes_every_early_end_an_error(last: dict[str, Any], error: str) -> None:
    frames = [{"type": "response.output_text.delta", "delta": "partial"}, last]
    assert fold("wsllm:responses", frames) == {"error": error}


def test_seed_fold_takes_the_message_or_the_error() -> None:
    ready = {"type": "ready", "message": "Connected"}
    deltas = [{"type": "delta", "message": "a"}, {"type": "delta", "message": "b"}]
    assert fold("wsllm:seed", [ready, *deltas, {"type": "message", "message": "ab"}]) == {
        "output": "ab"
    }
    refused = {"type": "error", "code": "frame_too_large", "message": "over the limit"}
    assert fold("wsllm:seed", [ready, refused]) == {"error": "frame_too_large: over the limit"}


def test_a_name_that_is_no_builtin_fold_is_a_config_error(tmp_path: Path) -> None:
    compiler = FunctionCompiler(tmp_path, {})
    with pytest.raises(ConfigError, match=r"no built-in fold is called 'wsllm:respones'"):
        compiler.stream_function("wsllm:respones", Where("config.streamResponse"))
