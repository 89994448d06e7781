"""Reading YAML configs safely: libyaml's safe loader, with aliases bounded.

YAML aliases let a few lines stand for billions of values ("billion laughs"). A document whose
aliases would expand to more than MAX_VALUES values, or that refers to itself, is refused with a
ConfigError before anything is built from it.
"""

from __future__ import annotations

from typing import Any

import yaml

from wsllm.errors import ConfigError

MAX_VALUES = 1_000_000
# libyaml's loader parses large test files many times faster than the pure-Python one.
_BASE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _AliasBomb(yaml.YAMLError):
    """The document's aliases expand past the bound, or loop."""


def expanded_size(root: yaml.Node, limit: int = MAX_VALUES) -> int:
    """How many values the document holds once every alias is expanded (up to past `limit`)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            sizes[key] = min(limit + 1, 1 + sum(sizes[id(c)] for c in _children(node)))
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise _AliasBomb("the document refers to itself through an alias")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class BoundedLoader(_BASE):  # type: ignore[valid-type,misc]
    """The safe loader, refusing documents whose aliases expand too far."""

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        if expanded_size(node) > MAX_VALUES:
            raise _AliasBomb(f"its aliases expand to more than {MAX_VALUES:,} values")
        return self.construct_document(node)


def load_yaml(text: str, label: str) -> Any:
    """The data of a YAML (or JSON) text; a ConfigError naming `label` and the line if it is bad."""
    try:
        return yaml.load(text, Loader=BoundedLoader)
    except _AliasBomb as exc:
        raise ConfigError(f"{label}: refused: {exc}") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        place = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{label}: {place}invalid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{label}: invalid YAML: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError(f"{label}: refused: nested too deeply") from exc
