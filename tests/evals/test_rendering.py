"""Prompt rendering steps with promptfoo's semantics, and JavaScript's way of writing values."""

from __future__ import annotations

from typing import Any

import pytest

from wsllm.evals.jsvalues import number_text, stringify
from wsllm.evals.rendering import resolve_references, wrap_partial


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (1e-7, "1e-7"), (0.00001, "0.00001"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
     (123.45, "123.45"), (-2.5e-8, "-2.5e-8"), (0.1 + 0.2, "0.30000000000000004")],
)  # fmt: skip
def test_numbers_are_written_as_javascript_writes_them(value: float, text: str) -> None:
    assert number_text(value) == text


def test_json_is_written_as_json_stringify_writes_it() -> None:
    value = {"b": 1, "2": [1.0, {"x": None}], "1": "é\n", "e": {}, "l": []}
    assert stringify(value) == '{"1":"é\\n","2":[1,{"x":null}],"b":1,"e":{},"l":[]}'
    assert stringify([{"a": 1}], 2) == '[\n  {\n    "a": 1\n  }\n]'


def test_vars_that_name_vars_are_filled_in_up_to_five_rounds() -> None:
    variables: dict[str, Any] = {"a": "A", "b": "B={{ a }}", "c": "C={{b}}", "n": "{{ x }}", "o": 1}
    resolve_references(variables)
    assert variables == {"a": "A", "b": "B=A", "c": "C=B=A", "n": "{{ x }}", "o": 1}


def test_an_unclosed_tag_is_taken_literally() -> None:
    assert wrap_partial("a {{ b") == "{% raw %}a {{ b{% endraw %}"
    assert wrap_partial("a {{ b }}") == "a {{ b }}"
