"""How frames sit in Redis: an entry per flush, named by its last frame's seq; a follower from any
place gets every later frame once."""

from __future__ import annotations

import pytest

from wsllm.server.shared import _frames_after

ENTRIES = [(b"0-3", {b"f": b'{"a":1}\n{"b":2}\n{"c":3}'}), (b"0-5", {b"f": b'{"d":4}\n{"e":5}'})]


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (0, [b'{"a":1}', b'{"b":2}', b'{"c":3}', b'{"d":4}', b'{"e":5}']),
        (1, [b'{"b":2}', b'{"c":3}', b'{"d":4}', b'{"e":5}']),
        (3, [b'{"d":4}', b'{"e":5}']),
        (4, [b'{"e":5}']),
    ],
)
def test_a_follower_gets_the_frames_after_its_place_even_inside_an_entry(
    after: int, expected: list[bytes]
) -> None:
    entries = [entry for entry in ENTRIES if int(entry[0].split(b"-")[1]) > after]
    assert _frames_after(entries, after) == expected
