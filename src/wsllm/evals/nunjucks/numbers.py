"""JavaScript numbers in Python floats: how they print, parse and round."""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Context, Decimal

# Integers beyond this are doubles in JavaScript: 2**64 prints 18446744073709552000.
SAFE_INTEGER = 2**53
NAN = math.nan
INF = math.inf

_DECIMAL = re.compile(r"[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\Z")
_PREFIXED = re.compile(r"0([xXoObB])([0-9a-fA-F]+)\Z")
_BASES = {"x": 16, "o": 8, "b": 2}
_FLOAT_PREFIX = re.compile(r"[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_WIDE = Context(prec=200)  # toFixed allows 100 decimals after 21 integer digits
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
# JavaScript's white space and line terminators (what trim() and Number() strip).
WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def as_float(value: int | float) -> float:
    """A Python number as a double; integers too large for one become Infinity."""
    try:
        return float(value)
    except OverflowError:
        return INF if value > 0 else -INF


def tidy(value: float) -> int | float:
    """An integral result as an int (nicer for indexing and for Python filters), else the float."""
    if value.is_integer() and -SAFE_INTEGER <= value <= SAFE_INTEGER:
        if value == 0 and math.copysign(1.0, value) < 0:
            return value  # -0 keeps its sign: 1 / -0 is -Infinity
        return int(value)
    return value


def number_text(value: int | float) -> str:
    """A number as JavaScript's String() writes it: `3`, `0.1`, `1e-7`, `1e+21`, `NaN`."""
    if type(value) is int and -SAFE_INTEGER <= value <= SAFE_INTEGER:
        return str(value)
    number = as_float(value)
    if number != number:
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "0"
    if number.is_integer() and -SAFE_INTEGER <= number <= SAFE_INTEGER:
        return str(int(number))
    sign = "-" if number < 0 else ""
    digits, point = _shortest_digits(abs(number))
    return sign + _place_point(digits, point)


def _shortest_digits(number: float) -> tuple[str, int]:
    """The shortest round-trip digits and the point: number = 0.DIGITS * 10**point."""
    _, digits, exponent = Decimal(repr(number)).as_tuple()
    assert isinstance(exponent, int)  # finite numbers only reach here
    text = "".join(map(str, digits))
    return text.rstrip("0"), len(text) + exponent


def _place_point(digits: str, point: int) -> str:
    count = len(digits)
    if count <= point <= 21:
        return digits + "0" * (point - count)
    if 0 < point <= 21:
        return f"{digits[:point]}.{digits[point:]}"
    if -6 < point <= 0:
        return "0." + "0" * -point + digits
    exponent = point - 1
    mantissa = digits[0] + (f".{digits[1:]}" if count > 1 else "")
    return f"{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"


def string_to_number(text: str) -> int | float:
    """JavaScript's Number(text): decimal, Infinity, 0x/0o/0b, blank is 0, anything else NaN."""
    text = text.strip(WHITESPACE)
    if not text:
        return 0
    if _DECIMAL.match(text):
        return tidy(float(text.replace("Infinity", "inf")))
    prefixed = _PREFIXED.match(text)
    if prefixed:
        try:
            return tidy(as_float(int(prefixed.group(2), _BASES[prefixed.group(1).lower()])))
        except ValueError:
            return NAN
    return NAN


def parse_float(text: str) -> int | float:
    """JavaScript's parseFloat: the longest decimal prefix after leading white space, else NaN."""
    found = _FLOAT_PREFIX.match(text.lstrip(WHITESPACE))
    if found is None:
        return NAN
    return tidy(float(found.group(0).replace("Infinity", "inf")))


def parse_int(text: str, base: int | float) -> int | float:
    """JavaScript's parseInt: optional sign, 0x for base 16, then the digits valid in `base`."""
    text = text.lstrip(WHITESPACE)
    sign = -1 if text.startswith("-") else 1
    text = text[1:] if text[:1] in "+-" else text
    radix = 0 if base != base or math.isinf(base) else int(base)
    if radix == 0 or radix == 16:
        if text[:2].lower() == "0x":
            text, radix = text[2:], 16
        radix = radix or 10
    if not 2 <= radix <= 36:
        return NAN
    valid = _DIGITS[:radix]
    length = 0
    while length < len(text) and text[length].lower() in valid:
        length += 1
    if length == 0:
        return NAN
    return tidy(sign * as_float(int(text[:length], radix)))


def js_round(value: float) -> float:
    """Math.round: halves go up toward +Infinity (2.5 -> 3, -2.5 -> -2)."""
    if value != value or math.isinf(value):
        return value
    floor = math.floor(value)
    return float(floor + 1 if value - floor >= 0.5 else floor)


def js_floor(value: float) -> float:
    """Math.floor, keeping NaN and the infinities."""
    return value if value != value or math.isinf(value) else float(math.floor(value))


def js_ceil(value: float) -> float:
    """Math.ceil, keeping NaN and the infinities."""
    return value if value != value or math.isinf(value) else float(math.ceil(value))


def to_fixed(value: float, places: int) -> str:
    """Number.prototype.toFixed: the exact binary value rounded half up to `places` decimals."""
    if value != value:
        return "NaN"
    if math.isinf(value) or abs(value) >= 1e21:
        return number_text(value)
    if value < 0:
        return "-" + to_fixed(-value, places)
    quantum = Decimal(1).scaleb(-places)
    exact = Decimal(value + 0.0)  # -0 prints as 0
    return str(exact.quantize(quantum, rounding=ROUND_HALF_UP, context=_WIDE))


def radix_text(value: float, radix: int) -> str:
    """Number.prototype.toString(radix) for integers; other values in base 10."""
    if radix == 10 or not value.is_integer() or math.isinf(value):
        return number_text(value)
    number = abs(int(value))
    digits = ""
    while True:
        number, digit = divmod(number, radix)
        digits = _DIGITS[digit] + digits
        if number == 0:
            break
    return ("-" if value < 0 else "") + digits
