"""The syntax tree the parser builds and the compiler turns into closures. `line` counts from 1."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Node:
    line: int


# Expressions.


@dataclass(slots=True)
class Literal(Node):
    value: Any


@dataclass(slots=True)
class Symbol(Node):
    name: str


@dataclass(slots=True)
class Group(Node):
    """`(a)`, or `(a, b)` which is JavaScript's comma operator: the last value."""

    items: list[Node]


@dataclass(slots=True)
class ArrayLiteral(Node):
    items: list[Node]


@dataclass(slots=True)
class DictLiteral(Node):
    pairs: list[tuple[Node, Node]]


@dataclass(slots=True)
class Lookup(Node):
    """`target.key` or `target[key]`."""

    target: Node
    key: Node


@dataclass(slots=True)
class Call(Node):
    callee: Node
    args: list[Node]
    kwargs: list[tuple[Node, Node]]


@dataclass(slots=True)
class FilterCall(Node):
    """`args[0] | name(args[1:], kwargs)`."""

    name: str
    args: list[Node]
    kwargs: list[tuple[Node, Node]]


@dataclass(slots=True)
class InlineIf(Node):
    cond: Node
    body: Node
    otherwise: Node | None


@dataclass(slots=True)
class In(Node):
    left: Node
    right: Node


@dataclass(slots=True)
class Is(Node):
    """`left is test` or `left is test(arg)`."""

    left: Node
    test: Node


@dataclass(slots=True)
class Unary(Node):
    """`not x`, `-x` or `+x`."""

    operator: str
    target: Node


@dataclass(slots=True)
class Binary(Node):
    """`and`, `or`, `+`, `-`, `*`, `/`, `//`, `%`, `**` and `~`."""

    operator: str
    left: Node
    right: Node


@dataclass(slots=True)
class Compare(Node):
    first: Node
    rest: list[tuple[str, Node]]


@dataclass(slots=True)
class Capture(Node):
    """The text a body renders, as a value (`{% set x %}...{% endset %}`, `{% filter %}`)."""

    body: list[Node]


@dataclass(slots=True)
class Macro(Node):
    """A macro, or the body of a `{% call %}` given to the macro it calls as `caller`."""

    name: str
    params: list[str]
    defaults: list[tuple[str, Node]]
    body: list[Node]


# Statements.


@dataclass(slots=True)
class Output(Node):
    """Text and `{{ expression }}` values, written in order."""

    items: list[str | Node]


@dataclass(slots=True)
class If(Node):
    cond: Node
    body: list[Node]
    otherwise: list[Node] = field(default_factory=list)


@dataclass(slots=True)
class For(Node):
    names: list[str]
    iterable: Node
    body: list[Node]
    otherwise: list[Node] | None = None


@dataclass(slots=True)
class Set(Node):
    names: list[str]
    value: Node


@dataclass(slots=True)
class MacroDefinition(Node):
    macro: Macro


@dataclass(slots=True)
class Switch(Node):
    subject: Node
    cases: list[tuple[Node, list[Node]]]
    default: list[Node] | None


@dataclass(slots=True)
class Block(Node):
    name: str
    body: list[Node]
