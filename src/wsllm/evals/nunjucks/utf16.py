"""Strings as JavaScript sees them: sequences of UTF-16 code units, so '😀'.length is 2."""

from __future__ import annotations

import re

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _pair(match: re.Match[str]) -> str:
    point = ord(match.group(0)) - 0x10000
    return chr(0xD800 + (point >> 10)) + chr(0xDC00 + (point & 0x3FF))


def units(text: str) -> str:
    """`text` with each character past U+FFFF split into its two surrogates, so that Python's
    indexes and lengths are JavaScript's."""
    if text.isascii() or not _ASTRAL.search(text):
        return text
    return _ASTRAL.sub(_pair, text)


def joined(text: str) -> str:
    """The inverse of `units`: surrogate pairs back into characters (lone surrogates stay)."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def length(text: str) -> int:
    """String.prototype.length."""
    if text.isascii():
        return len(text)
    return len(text) + len(_ASTRAL.findall(text))


def printable(text: str) -> str:
    """Text fit for UTF-8: pairs joined, a lone surrogate replaced with U+FFFD as Node does."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def less(left: str, right: str) -> bool:
    """`left < right` by UTF-16 code units, as JavaScript compares strings."""
    if left.isascii() and right.isascii():
        return left < right
    return units(left) < units(right)
