"""Nunjucks' filters on text: upper, truncate, replace, indent, striptags, urlencode, urlize...

Each follows Nunjucks' JavaScript: most treat null, undefined and false as "", a number given to
one that calls a string method is an error, and `center` or `indent` read `length` and count
spaces as JavaScript would.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from wsllm.errors import ConfigError
from wsllm.evals.nunjucks import utf16
from wsllm.evals.nunjucks.jsregex import JsRegExp
from wsllm.evals.nunjucks.limits import check_chars, checked_text
from wsllm.evals.nunjucks.members import member, own_items
from wsllm.evals.nunjucks.methods import replace_text
from wsllm.evals.nunjucks.operators import add, divide, less_or_equal, remainder, subtract
from wsllm.evals.nunjucks.values import (
    UNDEFINED,
    SafeStr,
    js_type,
    to_float,
    to_integer,
    to_str,
    truthy,
)


def normalize(value: Any, default: Any = "") -> Any:
    """Nunjucks' normalize: null, undefined and false become `default`."""
    return default if value is None or value is UNDEFINED or value is False else value


def text_of(value: Any, name: str) -> str:
    """The string a filter works on; anything else is the error JavaScript would throw."""
    if isinstance(value, str):
        return str.__str__(value)
    shown = "undefined" if value is UNDEFINED else to_str(value)[:40]
    raise ConfigError(f"the {name} filter needs a string, got {js_type(value)} {shown}")


def same_safeness(original: Any, text: str) -> str:
    """Nunjucks' copySafeness: a result stays safe when its input was."""
    return SafeStr(text) if isinstance(original, SafeStr) else text


def _repeat_count(count: Any) -> int:
    number = to_float(count)
    if number != number or number <= 0:
        return 0
    check_chars(int(min(number, 2.0**53)))
    return int(-(-number // 1))


def upper(value: Any) -> str:
    return text_of(normalize(value), "upper").upper()


def lower(value: Any) -> str:
    return text_of(normalize(value), "lower").lower()


def capitalize(value: Any) -> str:
    value = normalize(value)
    lowered = text_of(value, "capitalize").lower()
    return same_safeness(value, lowered[:1].upper() + lowered[1:])


def title(value: Any) -> str:
    value = normalize(value)
    words = text_of(value, "title").split(" ")
    return same_safeness(value, " ".join(capitalize(word) for word in words))


_TRIM = JsRegExp(r"^\s*|\s*$", "g").pattern


def trim(value: Any) -> str:
    return same_safeness(value, _TRIM.sub("", text_of(value, "trim")))


def center(value: Any, width: Any) -> Any:
    value = normalize(value)
    width = width if truthy(width) else 80
    size = member(value, "length")
    if less_or_equal(width, size):
        return value
    spaces = subtract(width, size)
    before = " " * _repeat_count(subtract(divide(spaces, 2), remainder(spaces, 2)))
    after = " " * _repeat_count(divide(spaces, 2))
    return same_safeness(value, add(add(before, value), after))


def indent(value: Any, width: Any, first: Any) -> Any:
    value = normalize(value)
    if value == "" and type(value) is str:
        return ""
    lines = text_of(value, "indent").split("\n")
    prefix = " " * _repeat_count(width if truthy(width) else 4)
    check_chars(len(prefix) * len(lines) + len(value))
    out = [
        line if index == 0 and not truthy(first) else prefix + line
        for index, line in enumerate(lines)
    ]
    return same_safeness(value, "\n".join(out))


def truncate(value: Any, length: Any, killwords: Any, end: Any) -> Any:
    original, value = value, normalize(value)
    length = length if truthy(length) else 255
    if less_or_equal(member(value, "length"), length):
        return value
    units = utf16.units(text_of(value, "truncate"))
    limit = min(max(to_integer(length), 0), len(units))  # substring(0, length)
    if truthy(killwords):
        cut = units[:limit]
    else:
        # lastIndexOf(" ", length): a space at `length` counts, NaN searches the whole text.
        last = len(units) if to_float(length) != to_float(length) else limit
        space = units.rfind(" ", 0, last + 1)
        cut = units[: limit if space == -1 else space]
    tail = "..." if end is None or end is UNDEFINED else to_str(end)
    return same_safeness(original, utf16.joined(cut) + tail)


def replace(value: Any, old: Any, new: Any, most: Any) -> Any:
    """The replace filter: a regex replaces as String.replace does; a string replaces literally,
    every time or `most` times; '' puts `new` between all characters."""
    if isinstance(old, JsRegExp):
        return replace_text(text_of(value, "replace"), old, new, every=False)
    if js_type(old) == "number":
        old = to_str(old)
    elif type(old) is not str:
        return value
    text = to_str(value) if js_type(value) == "number" else value
    if not isinstance(text, str):
        return text
    plain, insert = str.__str__(text), to_str(new)
    if old == "":
        check_chars((len(plain) + 1) * len(insert) + len(plain))
        return same_safeness(text, insert + insert.join(utf16.units(plain)) + insert)
    limit = -1 if most is UNDEFINED else most
    if limit == 0 or old not in plain:
        return text
    count = plain.count(old) if limit == -1 else min(to_integer(limit), plain.count(old))
    if count < 0:
        return same_safeness(value, plain)
    check_chars(len(plain) + count * (len(insert) - len(old)))
    return same_safeness(value, plain.replace(old, insert, count))


def nl2br(value: Any) -> Any:
    if value is None or value is UNDEFINED:
        return ""
    text = text_of(value, "nl2br")
    return same_safeness(value, checked_text(re.sub("\r\n|\n", "<br />\n", text)))


_ESCAPES = {"&": "&amp;", '"': "&quot;", "'": "&#39;", "<": "&lt;", ">": "&gt;", "\\": "&#92;"}
_ESCAPE = re.compile("[&\"'<>\\\\]")


def _escaped(value: Any) -> SafeStr:
    text = "" if value is None or value is UNDEFINED else to_str(value)
    return SafeStr(checked_text(_ESCAPE.sub(lambda m: _ESCAPES[m.group(0)], text)))


def escape(value: Any) -> Any:
    return value if isinstance(value, SafeStr) else _escaped(value)


def forceescape(value: Any) -> SafeStr:
    return _escaped(value)


def safe(value: Any) -> Any:
    if isinstance(value, SafeStr):
        return value
    return SafeStr("" if value is None or value is UNDEFINED else to_str(value))


def string(value: Any) -> str:
    if value is None or value is UNDEFINED:
        raise ConfigError(f"the string filter cannot read {to_str(value)}")
    return SafeStr(value) if isinstance(value, SafeStr) else to_str(value)


_TAGS = JsRegExp(r"<\/?([a-z][a-z0-9]*)\b[^>]*>|<!--[\s\S]*?-->", "gi").pattern
_LINE_EDGES = JsRegExp(r"^ +| +$", "gm").pattern
_SPACE_RUNS = JsRegExp(r"\s+", "g").pattern


def striptags(value: Any, keep_lines: Any) -> str:
    value = normalize(value)
    stripped = _TRIM.sub("", _TAGS.sub("", text_of(value, "striptags")))
    if truthy(keep_lines):
        stripped = _LINE_EDGES.sub("", stripped)
        stripped = re.sub(" +", " ", stripped).replace("\r\n", "\n")
        stripped = re.sub("\n\n\n+", "\n\n", stripped)
    else:
        stripped = _SPACE_RUNS.sub(" ", stripped)
    return same_safeness(value, stripped)


_WORD = re.compile("[A-Za-z0-9_]+")


def wordcount(value: Any) -> Any:
    value = normalize(value)
    if not truthy(value):
        return None
    count = len(_WORD.findall(text_of(value, "wordcount")))
    return count or None


def encode_uri_component(value: Any) -> str:
    """encodeURIComponent: UTF-8 percent-escapes for all but A-Z a-z 0-9 - _ . ! ~ * ' ( )."""
    text = to_str(value)
    if not text.isascii() and utf16.printable(text) != utf16.joined(text):
        raise ConfigError("URI malformed")
    return urllib.parse.quote(utf16.joined(text), safe="-_.!~*'()")


def urlencode(value: Any) -> str:
    if type(value) is str:
        return encode_uri_component(value)
    pairs = value if isinstance(value, list | tuple) else _entries(value)
    return "&".join(
        f"{encode_uri_component(k)}={encode_uri_component(v)}" for k, v in map(_pair, pairs)
    )


def _entries(value: Any) -> list[tuple[str, Any]]:
    return list(own_items(value)) if not isinstance(value, str) else []


def _pair(item: Any) -> tuple[Any, Any]:
    if isinstance(item, tuple) and len(item) == 2:
        return item[0], item[1]
    if item is None or item is UNDEFINED:
        raise ConfigError(f"urlencode: {to_str(item)} is not a [key, value] pair")
    return member(item, 0), member(item, 1)


_PUNCTUATION = JsRegExp(r"^(?:\(|<|&lt;)?(.*?)(?:\.|,|\)|\n|&gt;)?$", "").pattern
_EMAIL = JsRegExp(r"^[\w.!#$%&'*+\-\/=?\^`{|}~]+@[a-z\d\-]+(\.[a-z\d\-]+)+$", "i").pattern
_WEB = JsRegExp(r"^https?:\/\/.*$", "").pattern
_DOMAIN = JsRegExp(r"\.(?:org|net|com)(?:\:|\/|$)", "").pattern
_SPACES = JsRegExp(r"(\s+)", "").pattern


def urlize(value: Any, length: Any, nofollow: Any) -> str:
    """Links for the words that look like web addresses or e-mail addresses."""
    words = [w for w in _SPACES.split(text_of(value, "urlize")) if w]
    rel = ' rel="nofollow"' if nofollow is True else ""
    short = None if length is UNDEFINED or to_float(length) == float("inf") else to_integer(length)
    return checked_text("".join(_link(word, short, rel) for word in words))


def _link(word: str, length: int | None, rel: str) -> str:
    found = _PUNCTUATION.match(word)
    address = found.group(1) if found else word
    shown = address if length is None else address[: max(length, 0)]
    if _WEB.match(address):
        return f'<a href="{address}"{rel}>{shown}</a>'
    if address.startswith("www."):
        return f'<a href="http://{address}"{rel}>{shown}</a>'
    if _EMAIL.match(address):
        return f'<a href="mailto:{address}">{address}</a>'
    if _DOMAIN.search(address):
        return f'<a href="http://{address}"{rel}>{shown}</a>'
    return word
