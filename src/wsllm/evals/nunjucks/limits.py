"""How far a template may go: it is stopped past these, not left to exhaust the machine."""

from __future__ import annotations

from wsllm.errors import ConfigError

# Characters a render may write (captured text included) and a single string may hold.
MAX_CHARS = 8 * 1024 * 1024
# Items an array built by the template may hold (range(), push, concat, batch).
MAX_ITEMS = 100_000


def checked_text(text: str) -> str:
    """`text`, unless it passed MAX_CHARS."""
    if len(text) > MAX_CHARS:
        raise ConfigError(f"a string passed {MAX_CHARS:,} characters")
    return text


def check_chars(size: int) -> None:
    """Refuse to build a string of `size` characters past MAX_CHARS, before building it."""
    if size > MAX_CHARS:
        raise ConfigError(f"a string would pass {MAX_CHARS:,} characters")


def check_items(count: int, what: str) -> None:
    """Refuse an array of `count` items past MAX_ITEMS."""
    if count > MAX_ITEMS:
        raise ConfigError(f"{what} would make an array of {count:,} items, past {MAX_ITEMS:,}")
