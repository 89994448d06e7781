"""What a config becomes once loaded and checked: prompts, targets, columns, tests and options."""

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
    transform: ScriptFunction | None = None
    value_function: ScriptFunction | None = None


@dataclass(frozen=True, slots=True)
class TestCase:
    """One test (one combination of its vars): its assertions, how they add up, how it runs."""

    index: int
    description: str | None
    vars: dict[str, Any]
    asserts: tuple[Assertion, ...]
    threshold: float | None
    metadata: dict[str, Any]
    options: dict[str, Any]
    raw: dict[str, Any]
    group: int = 0
    transform: ScriptFunction | None = None
    prefix: str = ""
    suffix: str = ""
    targets: tuple[str, ...] | None = None
    prompts: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Prompt:
    """A prompt template (or function) and the label reports show for it."""

    raw: str
    label: str
    id: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    function: ScriptFunction | None = None


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
    given_label: str = ""
    transform: ScriptFunction | None = None
    prompts: tuple[str, ...] | None = None
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Column:
    """One column of results: a target and a prompt (promptfoo's promptIdx is its position)."""

    target_index: int
    prompt_index: int


@dataclass(frozen=True, slots=True)
class Options:
    """evaluateOptions, after flags have had their say."""

    max_concurrency: int = 4
    repeat: int = 1
    delay_ms: float = 0.0
    timeout_ms: float = 0.0
    show_progress: bool = True
    cache: bool = True


@dataclass(frozen=True, slots=True)
class DerivedMetric:
    """A named score computed from a column's named scores after each of its results."""

    name: str
    expression: str | None = None
    function: ScriptFunction | None = None


@dataclass(frozen=True, slots=True)
class Extension:
    """A hook function from `extensions`: called for one hook (`only`) or, legacy, for all."""

    reference: str
    function: ScriptFunction
    only: str | None


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
    columns: list[Column] = field(default_factory=list)
    derived_metrics: list[DerivedMetric] = field(default_factory=list)
    extensions: list[Extension] = field(default_factory=list)
    filters: dict[str, ScriptFunction] = field(default_factory=dict)
    var_loaders: dict[str, ScriptFunction] = field(default_factory=dict)
    base: Path = field(default_factory=Path)
