"""What a config becomes once loaded and checked: prompts, targets, tests and options."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wsllm.client.fold import StreamFunction

ScriptFunction = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Assertion:
    """One check of an output; `children` holds an assert-set's members."""

    type: str
    inverse: bool
    value: Any
    threshold: float | None
    weight: float
    metric: str | None
    raw: dict[str, Any]
    function: ScriptFunction | None = None
    children: tuple[Assertion, ...] = ()


@dataclass(frozen=True, slots=True)
class TestCase:
    """One test: its variables, its assertions and how they add up."""

    index: int
    description: str | None
    vars: dict[str, Any]
    asserts: tuple[Assertion, ...]
    threshold: float | None
    metadata: dict[str, Any]
    options: dict[str, Any]
    raw: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Prompt:
    """A prompt template and the label reports show for it."""

    raw: str
    label: str


@dataclass(frozen=True, slots=True)
class Target:
    """A WebSocket endpoint and how to talk to it, with promptfoo's provider semantics."""

    id: str
    label: str
    url: str
    message_template: str
    stream_response: StreamFunction | None
    transform_response: ScriptFunction | None
    timeout_ms: float
    headers: dict[str, str]
    protocols: tuple[str, ...]
    delay_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Options:
    """evaluateOptions, after flags have had their say."""

    max_concurrency: int = 4
    repeat: int = 1
    delay_ms: float = 0.0
    timeout_ms: float = 0.0
    show_progress: bool = True
    cache: bool = True


@dataclass(slots=True)
class EvalConfig:
    """A whole suite, ready to run."""

    path: Path
    description: str | None
    prompts: list[Prompt]
    targets: list[Target]
    tests: list[TestCase]
    options: Options
    output_paths: list[str]
    env: dict[str, str]
    raw: dict[str, Any] = field(default_factory=dict)
