"""Checks of raw config data that name the file, the path to the key and what was expected."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from wsllm.errors import ConfigError


class Where:
    """A position in a config: the file and the path to a key, such as `providers[0].config`."""

    def __init__(self, file: str, path: str = "") -> None:
        self.file = file
        self.path = path

    def key(self, name: str) -> Where:
        """The position of a key below this one."""
        return Where(self.file, f"{self.path}.{name}" if self.path else name)

    def item(self, index: int) -> Where:
        """The position of a list item below this one."""
        return Where(self.file, f"{self.path}[{index}]")

    def __str__(self) -> str:
        return f"{self.file}: {self.path}" if self.path else self.file

    def error(self, message: str) -> ConfigError:
        """A ConfigError located here."""
        return ConfigError(f"{self}: {message}")


_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a mapping",
}


def describe(value: Any) -> str:
    """A value's kind in the words of the error messages."""
    if value is None:
        return "nothing (null)"
    for kind, name in _NAMES.items():
        if type(value) is kind:
            return name
    return type(value).__name__


def expect(value: Any, kinds: tuple[type, ...], where: Where) -> Any:
    """`value` if it is one of `kinds`, else a ConfigError saying what was expected."""
    if isinstance(value, bool) and bool not in kinds:
        raise where.error(f"expected {_wanted(kinds)}, got {describe(value)}")
    if isinstance(value, kinds):
        return value
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        return value
    raise where.error(f"expected {_wanted(kinds)}, got {describe(value)}")


def _wanted(kinds: Iterable[type]) -> str:
    return " or ".join(_NAMES.get(k, k.__name__) for k in kinds)


def check_keys(mapping: Mapping[str, Any], allowed: Iterable[str], where: Where) -> None:
    """Fail on the first key that is not allowed, suggesting the closest allowed one."""
    known = list(allowed)
    for key in mapping:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(known)})"
            raise where.key(str(key)).error(f"unknown key{hint}")


def number(value: Any, where: Where, minimum: float | None = None) -> float:
    """A number, optionally at least `minimum`."""
    result = float(expect(value, (int, float), where))
    if minimum is not None and result < minimum:
        raise where.error(f"expected a number of at least {minimum:g}, got {result:g}")
    return result
