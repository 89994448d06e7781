"""JavaScript regular expressions (`r/a+/gi` in a template) on Python's `re`.

The pattern is translated where the two dialects differ: `\\d`, `\\w` and `\\b` are ASCII in
JavaScript, `\\s` is JavaScript's white space, `.` stops at any line terminator, `$` is the very
end unless the `m` flag is set, `(?<name>` is Python's `(?P<name>`, and `[^]` matches anything.
"""

from __future__ import annotations

import re

from wsllm.errors import ConfigError
from wsllm.evals.nunjucks.numbers import WHITESPACE

_SPACE = "".join(f"\\u{ord(c):04x}" for c in WHITESPACE)
_WORD = "A-Za-z0-9_"
_OUTSIDE = {
    "d": "[0-9]", "D": "[^0-9]", "w": f"[{_WORD}]", "W": f"[^{_WORD}]",
    "s": f"[{_SPACE}]", "S": f"[^{_SPACE}]",
    "b": f"(?:(?<=[{_WORD}])(?![{_WORD}])|(?<![{_WORD}])(?=[{_WORD}]))",
    "B": f"(?:(?<=[{_WORD}])(?=[{_WORD}])|(?<![{_WORD}])(?![{_WORD}]))",
}  # fmt: skip
_INSIDE = {"d": "0-9", "w": _WORD, "s": _SPACE}
_DOT = "[^\\n\\r\\u2028\\u2029]"


class JsRegExp:
    """A regular expression literal: its JavaScript source and flags, and the compiled pattern."""

    __slots__ = ("flags", "pattern", "source")

    def __init__(self, source: str, flags: str) -> None:
        self.source = source
        self.flags = flags
        options = (re.IGNORECASE if "i" in flags else 0) | (re.MULTILINE if "m" in flags else 0)
        try:
            self.pattern = re.compile(_translate(source, "m" in flags), options)
        except (re.error, OverflowError, RecursionError) as exc:
            raise ConfigError(f"invalid regular expression /{source}/: {exc}") from exc

    @property
    def is_global(self) -> bool:
        return "g" in self.flags

    def __str__(self) -> str:
        return f"/{self.source}/{self.flags}"


def _translate(source: str, multiline: bool) -> str:
    out: list[str] = []
    index, in_class = 0, False
    while index < len(source):
        char = source[index]
        if char == "\\" and index + 1 < len(source):
            out.append(_escape(source[index + 1], in_class, source, index))
            index += 2
            continue
        if in_class:
            in_class = char != "]"
            out.append(char)
        elif char == "[":
            index, piece, in_class = _class_start(source, index)
            out.append(piece)
            continue
        elif source.startswith("(?<", index) and source[index + 3 : index + 4] not in "=!":
            out.append("(?P<")  # a named group; (?<= and (?<! are lookbehinds in both
            index += 3
            continue
        else:
            out.append(_plain(char, multiline))
        index += 1
    return "".join(out)


def _escape(char: str, in_class: bool, source: str, index: int) -> str:
    if in_class:
        return _INSIDE.get(char, "\\" + char)
    if char == "k" and source[index + 2 : index + 3] == "<":
        end = source.find(">", index)
        return f"(?P={source[index + 3 : end]})" if end > 0 else "\\k"
    if char == "/":
        return "/"
    return _OUTSIDE.get(char, "\\" + char)


def _class_start(source: str, index: int) -> tuple[int, str, bool]:
    """A `[` opens a class; JavaScript's `[]` matches nothing and `[^]` anything."""
    if source.startswith("[]", index):
        return index + 2, "(?!)", False
    if source.startswith("[^]", index):
        return index + 3, "[\\s\\S]", False
    if source.startswith("[^", index):
        return index + 2, "[^", True
    return index + 1, "[", True


def _plain(char: str, multiline: bool) -> str:
    if char == ".":
        return _DOT
    if char == "$":
        return "(?=[\\n\\r\\u2028\\u2029]|\\Z)" if multiline else "\\Z"
    return char


def expand(template: str, match: re.Match[str]) -> str:
    """A replacement string's `$&`, `$1`, `$<name>`, `` $` ``, `$'` and `$$`, as JavaScript
    reads them."""
    if "$" not in template:
        return template
    out: list[str] = []
    index = 0
    groups = match.re.groups
    while index < len(template):
        char = template[index]
        ahead = template[index + 1 : index + 2]
        if char != "$" or not ahead:
            out.append(char)
            index += 1
            continue
        piece, used = _dollar(template, index, ahead, match, groups)
        out.append(piece)
        index += used
    return "".join(out)


def _dollar(
    template: str, index: int, ahead: str, match: re.Match[str], groups: int
) -> tuple[str, int]:
    if ahead == "$":
        return "$", 2
    if ahead == "&":
        return match.group(0), 2
    if ahead == "`":
        return match.string[: match.start()], 2
    if ahead == "'":
        return match.string[match.end() :], 2
    if ahead == "<" and match.re.groupindex:
        end = template.find(">", index)
        if end > 0:
            name = template[index + 2 : end]
            found = match.groupdict().get(name) if name in match.re.groupindex else None
            return found or "", end - index + 1
    if ahead.isdigit():
        two = template[index + 1 : index + 3]
        if len(two) == 2 and two.isdigit() and 0 < int(two) <= groups:
            return match.group(int(two)) or "", 3
        if 0 < int(ahead) <= groups:
            return match.group(int(ahead)) or "", 2
    return "$", 1
