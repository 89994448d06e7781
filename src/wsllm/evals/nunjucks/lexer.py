"""The tokenizer: template text into data, tags and the tokens of code inside `{{ }}` and `{% %}`.

It reads as Nunjucks' does, quirks included: `1e3` is a name (not a number), `1.5e3` is `1.5`
then the name `e3`, strings know only the escapes \\n, \\t and \\r, and a `#}` outside a comment
is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from wsllm.errors import ConfigError

WHITESPACE = " \n\t\r\xa0"
DELIMITERS = "()[]{}%*-+~/#,:|.<>=!"
_BREAKS = frozenset(WHITESPACE + DELIMITERS)
_SPACES = frozenset(WHITESPACE)
_COMPLEX = ("==", "===", "!=", "!==", "<=", ">=", "//", "**")
_SINGLE = {
    "(": "left-paren", ")": "right-paren", "[": "left-bracket", "]": "right-bracket",
    "{": "left-curly", "}": "right-curly", ",": "comma", ":": "colon", "~": "tilde", "|": "pipe",
}  # fmt: skip
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_INTEGER = re.compile(r"[-+]?[0-9]+\Z")
_REGEX_FLAGS = "gimy"


@dataclass(slots=True)
class Token:
    """One token; `line` and `column` count from 0, as the tokenizer walks."""

    type: str
    value: Any
    line: int
    column: int


class Lexer:
    """Hands out tokens one at a time; the parser also reads raw text through it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.index = 0
        self.line = 0
        self.column = 0
        self.in_code = False

    def error(self, message: str) -> ConfigError:
        return ConfigError(f"template syntax error on line {self.line + 1}: {message}")

    def next_token(self) -> Token | None:
        if self.index >= len(self.source):
            return None
        line, column = self.line, self.column
        kind, value = self._code() if self.in_code else self._text()
        return Token(kind, value, line, column)

    # Code: inside {{ }} and {% %}.

    def _code(self) -> tuple[str, Any]:
        char = self.source[self.index]
        if char in "\"'":
            return "string", self._string(char)
        if char in _SPACES:
            return "whitespace", self._take_while(_SPACES)
        for end, kind in (("%}", "block-end"), ("}}", "variable-end")):
            taken = self._take(end) or self._take("-" + end)
            if taken:
                self.in_code = False
                return kind, taken
        if char == "r" and self.source[self.index + 1 : self.index + 2] == "/":
            return "regex", self._regex()
        if char in DELIMITERS:
            return self._operator(char)
        return self._word()

    def _string(self, quote: str) -> str:
        self._forward(1)
        out: list[str] = []
        while self.index < len(self.source) and self.source[self.index] != quote:
            char = self.source[self.index]
            if char == "\\":
                self._forward(1)
                char = self.source[self.index : self.index + 1]
                char = _ESCAPES.get(char, char)
            out.append(char)
            self._forward(1)
        self._forward(1)
        return "".join(out)

    def _regex(self) -> tuple[str, str]:
        self._forward(2)
        body: list[str] = []
        while self.index < len(self.source):
            char = self.source[self.index]
            previous = self.source[self.index - 1]
            self._forward(1)
            if char == "/" and previous != "\\":
                break
            body.append(char)
        flags = self._take_while(frozenset(_REGEX_FLAGS))
        return "".join(body), flags

    def _operator(self, char: str) -> tuple[str, str]:
        self._forward(1)
        value = char
        pair = char + self.source[self.index : self.index + 1]
        if pair in _COMPLEX:
            self._forward(1)
            value = pair
            triple = pair + self.source[self.index : self.index + 1]
            if triple in _COMPLEX:
                self._forward(1)
                value = triple
        return _SINGLE.get(value, "operator"), value

    def _word(self) -> tuple[str, Any]:
        word = self._take_until(_BREAKS)
        if _INTEGER.match(word):
            if self.source[self.index : self.index + 1] == ".":
                self._forward(1)
                return "float", f"{word}.{self._take_while(frozenset('0123456789'))}"
            return "int", word
        if word in ("true", "false"):
            return "boolean", word
        if word in ("none", "null"):
            return "none", word
        return "symbol", word

    # Text: everything between tags.

    def _text(self) -> tuple[str, str]:
        for start, kind in (("{%", "block-start"), ("{{", "variable-start")):
            taken = self._take(start + "-") or self._take(start)
            if taken:
                self.in_code = True
                return kind, taken
        in_comment = self.source.startswith("{#", self.index)
        text = self._take("{#") if in_comment else ""
        while self.index < len(self.source):
            text += self._take_until(frozenset("{#"))
            if self.index >= len(self.source):
                break
            if self._at_tag_start() and not in_comment:
                break
            if self.source.startswith("#}", self.index):
                if not in_comment:
                    raise self.error("unexpected end of comment")
                text += self._take("#}")
                return "comment", text
            text += self.source[self.index]
            self._forward(1)
        if in_comment:
            raise self.error("expected end of comment, got end of file")
        return "data", text

    def _at_tag_start(self) -> bool:
        return any(self.source.startswith(tag, self.index) for tag in ("{%", "{{", "{#"))

    # Moving along.

    def _forward(self, count: int) -> None:
        for _ in range(count):
            if self.index >= len(self.source):
                self.index += 1
                continue
            if self.source[self.index] == "\n":
                self.line += 1
                self.column = 0
            else:
                self.column += 1
            self.index += 1

    def _take(self, text: str) -> str:
        if self.source.startswith(text, self.index):
            self._forward(len(text))
            return text
        return ""

    def _take_while(self, chars: frozenset[str]) -> str:
        start = self.index
        while self.index < len(self.source) and self.source[self.index] in chars:
            self._forward(1)
        return self.source[start : self.index]

    def _take_until(self, chars: frozenset[str]) -> str:
        start = self.index
        end = start
        while end < len(self.source) and self.source[end] not in chars:
            end += 1
        self._advance_to(end)
        return self.source[start:end]

    def _advance_to(self, end: int) -> None:
        """Move to `end` in one step, keeping the line and column right."""
        chunk = self.source[self.index : end]
        newlines = chunk.count("\n")
        if newlines:
            self.line += newlines
            self.column = len(chunk) - chunk.rfind("\n") - 1
        else:
            self.column += len(chunk)
        self.index = end

    def match_raw(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        """Match `pattern` at the current position and move past it (for raw blocks)."""
        found = pattern.match(self.source, self.index)
        if found:
            self._advance_to(found.end())
        return found

    def move_to(self, index: int) -> None:
        """Go back to `index` (before the endraw tag a raw block stopped at)."""
        before = self.source[:index]
        self.line = before.count("\n")
        self.column = index - before.rfind("\n") - 1
        self.index = index
