"""The JavaScript methods templates may call on strings, arrays, numbers and regular expressions.

Nunjucks hands templates the real JavaScript values, so `'a,b'.split(',')` and `items.join('-')`
work there. This is the short list of such methods that templates use, written for Python
values; everything else on a value is undefined.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from wsllm.errors import ConfigError
from wsllm.evals.nunjucks import utf16
from wsllm.evals.nunjucks.jsregex import JsRegExp, expand
from wsllm.evals.nunjucks.limits import check_chars, check_items, checked_text
from wsllm.evals.nunjucks.numbers import WHITESPACE, number_text, radix_text, to_fixed
from wsllm.evals.nunjucks.operators import strict_equal
from wsllm.evals.nunjucks.values import (
    UNDEFINED,
    JsArray,
    join,
    to_float,
    to_integer,
    to_str,
)

Function = Callable[..., Any]


def _position(value: Any, size: int, default: int) -> int:
    """A relative index (slice, at): undefined is `default`, negatives count from the end."""
    if value is UNDEFINED:
        return default
    index = to_integer(value)
    return max(size + index, 0) if index < 0 else min(index, size)


def _clamped(value: Any, size: int, default: int) -> int:
    """An absolute index (substring, indexOf): undefined is `default`, clamped to [0, size]."""
    return default if value is UNDEFINED else max(0, min(to_integer(value), size))


# Strings. Indexes are UTF-16 code units, as in JavaScript.


def _slice(text: str, start: Any, end: Any) -> str:
    units = utf16.units(text)
    size = len(units)
    return utf16.joined(units[_position(start, size, 0) : _position(end, size, size)])


def _substring(text: str, start: Any, end: Any) -> str:
    units = utf16.units(text)
    size = len(units)
    low, high = sorted((_clamped(start, size, 0), _clamped(end, size, size)))
    return utf16.joined(units[low:high])


def _substr(text: str, start: Any, length: Any) -> str:
    units = utf16.units(text)
    first = _position(start, len(units), 0)
    count = len(units) - first if length is UNDEFINED else max(to_integer(length), 0)
    return utf16.joined(units[first : first + count])


def _char_at(text: str, index: Any) -> str:
    units = utf16.units(text)
    position = to_integer(index)
    return units[position] if 0 <= position < len(units) else ""


def _at(text: str, index: Any) -> Any:
    units = utf16.units(text)
    position = to_integer(index)
    position = position + len(units) if position < 0 else position
    return units[position] if 0 <= position < len(units) else UNDEFINED


def _char_code_at(text: str, index: Any) -> Any:
    character = _char_at(text, index)
    return ord(character) if character else float("nan")


def _index_of(text: str, search: Any, start: Any) -> int:
    units = utf16.units(text)
    return units.find(utf16.units(to_str(search)), _clamped(start, len(units), 0))


def _last_index_of(text: str, search: Any, start: Any) -> int:
    units, needle = utf16.units(text), utf16.units(to_str(search))
    number = to_float(start) if start is not UNDEFINED else float("nan")
    last = len(units) if number != number else _clamped(start, len(units), len(units))
    return units.rfind(needle, 0, last + len(needle))


def _includes(text: str, search: Any, start: Any) -> bool:
    _refuse_regex(search, "includes")
    return _index_of(text, search, start) >= 0


def _starts_with(text: str, search: Any, start: Any) -> bool:
    _refuse_regex(search, "startsWith")
    units = utf16.units(text)
    return units.startswith(utf16.units(to_str(search)), _clamped(start, len(units), 0))


def _ends_with(text: str, search: Any, end: Any) -> bool:
    _refuse_regex(search, "endsWith")
    units = utf16.units(text)
    return units.endswith(utf16.units(to_str(search)), 0, _clamped(end, len(units), len(units)))


def _refuse_regex(search: Any, name: str) -> None:
    if isinstance(search, JsRegExp):
        raise ConfigError(
            f"First argument to String.prototype.{name} must not be a regular expression"
        )


def _trim(text: str) -> str:
    return text.strip(WHITESPACE)


def _trim_start(text: str) -> str:
    return text.lstrip(WHITESPACE)


def _trim_end(text: str) -> str:
    return text.rstrip(WHITESPACE)


def _upper(text: str) -> str:
    return text.upper()


def _lower(text: str) -> str:
    return text.lower()


def _repeat(text: str, count: Any) -> str:
    times = to_float(count)
    if times < 0 or times == float("inf"):
        raise ConfigError(f"Invalid count value: {number_text(times)}")
    times = int(times) if times == times else 0
    check_chars(len(text) * times)
    return text * times


def _pad(text: str, length: Any, filler: Any, at_start: bool) -> str:
    target = to_integer(length)
    fill = " " if filler is UNDEFINED else to_str(filler)
    missing = target - utf16.length(text)
    if missing <= 0 or not fill:
        return text
    check_chars(target)
    units = utf16.units(fill * (missing // len(fill) + 1))
    padding = utf16.joined(units[:missing])
    return padding + text if at_start else text + padding


def _pad_start(text: str, length: Any, filler: Any) -> str:
    return _pad(text, length, filler, True)


def _pad_end(text: str, length: Any, filler: Any) -> str:
    return _pad(text, length, filler, False)


def _concat_text(text: str, *more: Any) -> str:
    check_chars(len(text) + sum(len(to_str(m)) for m in more))
    return text + "".join(to_str(m) for m in more)


def _split(text: str, separator: Any, limit: Any) -> JsArray:
    most = 2**32 - 1 if limit is UNDEFINED else to_integer(limit) % 2**32
    if most == 0:
        return JsArray()
    if separator is UNDEFINED:
        return JsArray([text])
    if isinstance(separator, JsRegExp):
        return JsArray(split_by_pattern(text, separator.pattern, most))
    if to_str(separator) == "":
        return JsArray(list(utf16.units(text))[:most])
    return JsArray(text.split(to_str(separator))[:most])


def split_by_pattern(text: str, pattern: re.Pattern[str], most: int) -> list[Any]:
    """String.prototype.split with a regular expression: captured groups are kept, and an
    empty match splits between characters but never at the ends."""
    if not text:
        return [] if pattern.match(text) else [text]
    parts: list[Any] = []
    last = position = 0
    while position < len(text):
        found = pattern.match(text, position)
        if found is None or found.end() == last:
            position += 1
            continue
        parts.append(text[last:position])
        parts.extend(UNDEFINED if g is None else g for g in found.groups())
        if len(parts) >= most:
            return parts[:most]
        last = position = found.end()
    parts.append(text[last:])
    return parts[:most]


def _replace(text: str, pattern: Any, replacement: Any) -> str:
    return replace_text(text, pattern, replacement, every=False)


def _replace_all(text: str, pattern: Any, replacement: Any) -> str:
    if isinstance(pattern, JsRegExp) and not pattern.is_global:
        raise ConfigError("replaceAll must be called with a global RegExp")
    return replace_text(text, pattern, replacement, every=True)


def replace_text(text: str, pattern: Any, replacement: Any, every: bool) -> str:
    """String.prototype.replace and replaceAll: `$&`-style replacement strings, or a function
    given the match, its groups, its offset and the whole text."""
    if isinstance(pattern, JsRegExp):
        compiled, every = pattern.pattern, every or pattern.is_global
    else:
        compiled = re.compile(re.escape(to_str(pattern)))

    def substitute(found: re.Match[str]) -> str:
        if callable(replacement):
            groups = [UNDEFINED if g is None else g for g in found.groups()]
            return to_str(replacement(found.group(0), *groups, found.start(), text))
        return expand(to_str(replacement), found)

    return checked_text(compiled.sub(substitute, text, count=0 if every else 1))


def _match(text: str, pattern: Any) -> Any:
    regex = _regex(pattern)
    if regex.is_global:
        found = [m.group(0) for m in regex.pattern.finditer(text)]
        return JsArray(found) if found else None
    first = regex.pattern.search(text)
    if first is None:
        return None
    return JsArray([first.group(0), *(UNDEFINED if g is None else g for g in first.groups())])


def _search(text: str, pattern: Any) -> int:
    found = _regex(pattern).pattern.search(text)
    return -1 if found is None else utf16.length(text[: found.start()])


def _regex(pattern: Any) -> JsRegExp:
    """What match and search make of their argument: a string becomes a pattern."""
    if isinstance(pattern, JsRegExp):
        return pattern
    return JsRegExp("(?:)" if pattern is UNDEFINED else to_str(pattern), "")


def _normalize(text: str, form: Any) -> str:
    name = "NFC" if form is UNDEFINED else to_str(form)
    if name not in ("NFC", "NFD", "NFKC", "NFKD"):
        raise ConfigError(
            f"The normalization form should be one of NFC, NFD, NFKC, NFKD, not {name}"
        )
    return unicodedata.normalize(name, text)  # type: ignore[arg-type]


def _itself(value: Any) -> Any:
    return value


STRING_METHODS: dict[str, Function] = {
    "toUpperCase": _upper, "toLowerCase": _lower, "trim": _trim, "trimStart": _trim_start,
    "trimLeft": _trim_start, "trimEnd": _trim_end, "trimRight": _trim_end, "split": _split,
    "replace": _replace, "replaceAll": _replace_all, "includes": _includes,
    "startsWith": _starts_with, "endsWith": _ends_with, "indexOf": _index_of,
    "lastIndexOf": _last_index_of, "slice": _slice, "substring": _substring,
    "substr": _substr, "charAt": _char_at, "charCodeAt": _char_code_at, "at": _at,
    "repeat": _repeat, "padStart": _pad_start, "padEnd": _pad_end, "concat": _concat_text,
    "match": _match, "search": _search, "normalize": _normalize, "toString": _itself,
    "valueOf": _itself,
}  # fmt: skip


# Arrays.


def _join(items: list[Any], separator: Any) -> str:
    glue = "," if separator is UNDEFINED else to_str(separator)
    return checked_text(join(items, glue))


def _array_index_of(items: list[Any], search: Any, start: Any) -> int:
    first = _position(start, len(items), 0)
    for index in range(first, len(items)):
        if strict_equal(items[index], search):
            return index
    return -1


def _array_last_index_of(items: list[Any], search: Any) -> int:
    for index in range(len(items) - 1, -1, -1):
        if strict_equal(items[index], search):
            return index
    return -1


def _array_includes(items: list[Any], search: Any, start: Any) -> bool:
    first = _position(start, len(items), 0)
    if search != search:  # SameValueZero: NaN finds NaN
        return any(item != item for item in items[first:] if isinstance(item, float))
    return _array_index_of(items, search, start) >= 0


def _array_slice(items: list[Any], start: Any, end: Any) -> JsArray:
    size = len(items)
    return JsArray(items[_position(start, size, 0) : _position(end, size, size)])


def _array_concat(items: list[Any], *more: Any) -> JsArray:
    joined = JsArray(items)
    for extra in more:
        if isinstance(extra, list | tuple):
            joined.extend(extra)
        else:
            joined.append(extra)
    check_items(len(joined), "concat")
    return joined


def _array_at(items: list[Any], index: Any) -> Any:
    position = to_integer(index)
    position = position + len(items) if position < 0 else position
    return items[position] if 0 <= position < len(items) else UNDEFINED


def _own(items: list[Any], name: str) -> JsArray:
    if not isinstance(items, JsArray):
        raise ConfigError(
            f"{name}: this array comes from the test's variables and stays as it is; "
            "copy it first, as in items.slice()"
        )
    return items


def _push(items: list[Any], *more: Any) -> int:
    array = _own(items, "push")
    check_items(len(array) + len(more), "push")
    array.extend(more)
    return len(array)


def _pop(items: list[Any]) -> Any:
    array = _own(items, "pop")
    return array.pop() if array else UNDEFINED


def _shift(items: list[Any]) -> Any:
    array = _own(items, "shift")
    return array.pop(0) if array else UNDEFINED


def _unshift(items: list[Any], *more: Any) -> int:
    array = _own(items, "unshift")
    check_items(len(array) + len(more), "unshift")
    array[:0] = more
    return len(array)


def _array_text(items: list[Any]) -> str:
    return checked_text(join(items, ","))


ARRAY_METHODS: dict[str, Function] = {
    "join": _join, "indexOf": _array_index_of, "lastIndexOf": _array_last_index_of,
    "includes": _array_includes, "slice": _array_slice, "concat": _array_concat,
    "at": _array_at, "push": _push, "pop": _pop, "shift": _shift, "unshift": _unshift,
    "toString": _array_text, "valueOf": _itself,
}  # fmt: skip


# Numbers, booleans and regular expressions.


def _to_fixed(number: Any, places: Any) -> str:
    digits = to_integer(places)
    if not 0 <= digits <= 100:
        raise ConfigError("toFixed() digits argument must be between 0 and 100")
    return to_fixed(to_float(number), digits)


def _to_string(number: Any, radix: Any) -> str:
    base = 10 if radix is UNDEFINED else to_integer(radix)
    if not 2 <= base <= 36:
        raise ConfigError("toString() radix must be between 2 and 36")
    return radix_text(to_float(number), base)


def _to_precision(number: Any, precision: Any) -> str:
    value = to_float(number)
    if precision is UNDEFINED or value != value or value in (float("inf"), float("-inf")):
        return number_text(value)
    digits = to_integer(precision)
    if not 1 <= digits <= 100:
        raise ConfigError("toPrecision() argument must be between 1 and 100")
    return precision_text(value, digits)


def precision_text(value: float, digits: int) -> str:
    """Number.prototype.toPrecision: `digits` significant digits, exponent form past them."""
    if value == 0:
        return "0" + ("." + "0" * (digits - 1) if digits > 1 else "")
    exact = Decimal(abs(value))
    exponent = exact.adjusted()
    rounded = exact.scaleb(-exponent).quantize(Decimal(1).scaleb(1 - digits), ROUND_HALF_UP)
    if rounded >= 10:
        exponent += 1
        rounded = exact.scaleb(-exponent).quantize(Decimal(1).scaleb(1 - digits), ROUND_HALF_UP)
    mantissa = str(rounded).replace(".", "")
    sign = "-" if value < 0 else ""
    if exponent < -6 or exponent >= digits:
        head = mantissa[0] + ("." + mantissa[1:] if digits > 1 else "")
        return f"{sign}{head}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"
    if exponent >= 0:
        point = exponent + 1
        return sign + mantissa[:point] + ("." + mantissa[point:] if digits > point else "")
    return sign + "0." + "0" * (-exponent - 1) + mantissa


def _number_value(number: Any) -> Any:
    return number


NUMBER_METHODS: dict[str, Function] = {
    "toFixed": _to_fixed, "toString": _to_string, "toPrecision": _to_precision,
    "valueOf": _number_value,
}  # fmt: skip


def _boolean_text(value: bool) -> str:
    return "true" if value else "false"


BOOLEAN_METHODS: dict[str, Function] = {"toString": _boolean_text, "valueOf": _itself}


def _test(regex: JsRegExp, text: Any) -> bool:
    return regex.pattern.search(to_str(text)) is not None


def _regex_text(regex: JsRegExp) -> str:
    return str(regex)


REGEX_METHODS: dict[str, Function] = {"test": _test, "toString": _regex_text}
REGEX_PROPERTIES: dict[str, Callable[[JsRegExp], Any]] = {
    "source": lambda r: r.source, "flags": lambda r: r.flags, "global": lambda r: r.is_global,
    "ignoreCase": lambda r: "i" in r.flags, "multiline": lambda r: "m" in r.flags,
}  # fmt: skip


def _object_text(mapping: Any) -> str:
    return "[object Object]"


OBJECT_METHODS: dict[str, Function] = {"toString": _object_text, "valueOf": _itself}
