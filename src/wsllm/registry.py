"""Named plug-ins (backends, graders, embedders, assertion types), each module imported only when
one of its names is first asked for.

A module registers its entries with `@registry.register(name)` when it is imported; the registry
knows which module holds which name (or which modules to import to find any name) up front.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Generic, TypeVar

from wsllm.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries of one kind, by name."""

    def __init__(
        self, kind: str, modules: Mapping[str, str] | None = None, scan: Iterable[str] = ()
    ) -> None:
        self.kind = kind
        self._where = dict(modules or {})
        self._scan = tuple(scan)
        self._entries: dict[str, T] = {}

    def register(self, *names: str) -> Callable[[T], T]:
        """Decorator: file the decorated object under `names`."""

        def decorate(entry: T) -> T:
            for name in names:
                self.add(name, entry)
            return entry

        return decorate

    def add(self, name: str, entry: T) -> None:
        """File `entry` under `name`; a second entry of the same name is a programming error."""
        if name in self._entries and self._entries[name] is not entry:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry

    def get(self, name: str) -> T:
        """The entry named `name`, importing its module first; ConfigError if there is none."""
        if name not in self._entries:
            self._load(name)
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(
                f"unknown {self.kind} {name!r} (known: {', '.join(self.names())})"
            ) from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def names(self) -> list[str]:
        """Every name, in the order they were declared or registered."""
        self._load_all()
        return list(dict.fromkeys([*self._where, *self._entries]))

    def _load(self, name: str) -> None:
        if name in self._where:
            importlib.import_module(self._where[name])
        else:
            self._load_all()

    def _load_all(self) -> None:
        for module in (*self._scan, *self._where.values()):
            importlib.import_module(module)
