"""Build a workload from the command line: a URL (seed protocol) or an eval config's target."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

from wsllm.bench.frames import FoldState, RequestState, ResponsesState, SeedState
from wsllm.client.fold import Fold
from wsllm.errors import ConfigError
from wsllm.evals.config.loading import find_config, load_config
from wsllm.evals.schema import EvalConfig, Target
from wsllm.evals.templates import compile_template, render

SEED_TEMPLATE = '{"input": {{prompt | dump}}}'
RESPONSES_TEMPLATE = '{"type": "response.create", "model": "{{model}}", "input": {{prompt | dump}}}'
PROTOCOLS = ("seed", "responses")

_WORDS = (
    "explain", "stream", "socket", "latency", "model", "token", "answer", "question", "server",
    "client", "frame", "delta", "measure", "fast", "slow", "system", "design", "network",
    "python", "message", "protocol", "request", "reply",
)  # fmt: skip


def generated_prompts(count: int, words: int, seed: int) -> tuple[str, ...]:
    """`count` distinct prompts of about `words` words, the same for the same seed."""
    rng = random.Random(seed)
    return tuple(
        f"Request {i}: " + " ".join(rng.choice(_WORDS) for _ in range(max(1, words)))
        for i in range(count)
    )


def prompts_from_file(path: Path) -> tuple[str, ...]:
    """Prompts from a text file (one a line) or JSONL (a `prompt` or `input` field a line)."""
    try:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
    except OSError as exc:
        raise ConfigError(f"--prompts {path}: cannot read: {exc.strerror}") from exc
    if path.suffix != ".jsonl":
        prompts = tuple(lines)
    else:
        prompts = tuple(_jsonl_prompt(line, path, n) for n, line in enumerate(lines, 1))
    if not prompts:
        raise ConfigError(f"--prompts {path}: no prompts in the file")
    return prompts


def _jsonl_prompt(line: str, path: Path, number: int) -> str:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--prompts {path}: line {number} is not JSON: {exc.msg}") from exc
    text = value.get("prompt", value.get("input")) if isinstance(value, dict) else value
    if not isinstance(text, str):
        raise ConfigError(f'--prompts {path}: line {number} has no "prompt" string')
    return text


def seed_renderer(template: str, model: str = "gpt-4.1-mini") -> Callable[[str], str]:
    """Render each prompt (and the model's name) into the request frame."""
    try:
        compile_template(template)
    except ConfigError as exc:
        raise ConfigError(f"--message-template: {exc}") from exc
    return lambda prompt: render(template, {"prompt": prompt, "model": model})


def protocol_of(name: str) -> tuple[str, Callable[[], RequestState]]:
    """The default request template and frame reader of a protocol: `seed` or `responses`."""
    if name == "responses":
        return RESPONSES_TEMPLATE, responses_states()
    if name == "seed":
        return SEED_TEMPLATE, seed_states()
    raise ConfigError(f"--protocol {name!r}: use {' or '.join(PROTOCOLS)}")


def from_config(path: Path | None, index: int) -> tuple[EvalConfig, Target]:
    """An eval config and the chosen target in it."""
    config = load_config(find_config(path))
    if not 0 <= index < len(config.targets):
        raise ConfigError(f"--target {index}: the config has {len(config.targets)} target(s)")
    return config, config.targets[index]


def config_prompts(config: EvalConfig) -> tuple[str, ...]:
    """The config's prompts rendered with each test's vars."""
    return tuple(render(p.raw, t.vars) for t in config.tests for p in config.prompts)


def fold_states(config: EvalConfig, target: Target) -> Callable[[], RequestState]:
    """Fresh per-request states that read frames with the target's streamResponse."""
    context = {"vars": {}, "prompt": {"raw": "", "label": ""}}
    return lambda: FoldState(Fold(target.stream_response, target.transform_response, context))


def seed_states() -> Callable[[], RequestState]:
    """Fresh per-request states for the seed protocol."""
    return SeedState


def responses_states() -> Callable[[], RequestState]:
    """Fresh per-request states for OpenAI's Responses WebSocket mode."""
    return ResponsesState
