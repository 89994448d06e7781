"""Every operator on every pair of awkward values, and every filter on every value, gives what
Nunjucks gives: the same text, or an error where it has one. Nunjucks runs once for the lot."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.evals.nunjucks.reference import render_all
from wsllm.errors import ConfigError
from wsllm.evals.nunjucks.filters import FILTERS
from wsllm.evals.nunjucks.methods import (
    ARRAY_METHODS,
    NUMBER_METHODS,
    OBJECT_METHODS,
    STRING_METHODS,
)
from wsllm.evals.nunjucks.predicates import TESTS
from wsllm.evals.templates import render

CONTEXT = {"obj": {"a": 1, "2": "two"}, "items": [3, 1, 2], "text": "Hello World", "num": 4.0}
VALUES = [
    "0", "1", "-1", "2.5", "''", "'a'", "'5'", "' 7 '", "'10'", "true", "false", "none",
    "undefinedvar", "[]", "[3]", "[1, 2]", "{}", "obj", "items", "text", "num", "(0/0)", "(1/0)",
]  # fmt: skip
OPERATORS = [
    "+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "===", "!==", "<", ">", "<=", ">=",
    "and", "or",
]  # fmt: skip
UNARY = ["-{}", "+{}", "not {}", "{}", "{} | dump", "{} | string", "({}).length", "({})[0]",
         "({})[1.0]", "({})[-1]", "({})['a']", "({}).a.b", "({})['2']"]  # fmt: skip
LOOPS = [
    "{{% for x in {} %}}[{{{{ x }}}}{{{{ loop.index }}}}/{{{{ loop.length }}}}]{{% else %}}E{{% endfor %}}",
    "{{% for k, v in {} %}}[{{{{ k }}}}={{{{ v }}}}{{{{ loop.last }}}}]{{% else %}}E{{% endfor %}}",
]
ARGUMENTS = ["", "(2)", "('a')", "(2, true)"]


def operator_templates() -> list[str]:
    lines = [
        "|".join(f"{{{{ {left} {operator} {right} }}}}" for right in VALUES)
        for operator in OPERATORS
        for left in VALUES
    ]
    pairs = [f"{{{{ {left} in {right} }}}}" for left in VALUES for right in VALUES]
    truth = ["|".join(f"{{% if {v} %}}T{{% else %}}F{{% endif %}}" for v in VALUES)]
    unary = [f"{{{{ {form.format(v)} }}}}" for form in UNARY for v in VALUES]
    loops = [form.format(v) for form in LOOPS for v in VALUES]
    tests = [
        f"{{{{ {v} is {name}{args} }}}}" for name in TESTS for args in ARGUMENTS[:3] for v in VALUES
    ]
    return lines + pairs + truth + unary + loops + tests


CALLS = [
    "()",
    "(1)",
    "(-2)",
    "('l')",
    "(1, 3)",
    "('o', 'X')",
    "(r/l+/g, '[$&]')",
    "(r/(o)/, '$1$1')",
]


def method_templates() -> list[str]:
    names = sorted(
        {*STRING_METHODS, *ARRAY_METHODS, *NUMBER_METHODS, *OBJECT_METHODS, "hasOwnProperty"}
    )
    values = [v for v in VALUES if v not in ("none", "undefinedvar")] + ["'a-b-c'", "'x😀y'"]
    safe = [name for name in names if name not in ("push", "pop", "shift", "unshift")]
    return [
        f"{{{{ ({v}).{name}{args} | dump }}}}" for name in safe for args in CALLS for v in values
    ]


def filter_templates() -> list[str]:
    chosen = sorted(set(FILTERS) - {"random"})
    return [
        f"{{{{ {v} | {name}{args} }}}}" for name in chosen for args in ARGUMENTS for v in VALUES
    ]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[list[Any]]:
    corpus = (operator_templates(), filter_templates(), method_templates())
    groups = [{"context": CONTEXT, "templates": t} for t in corpus]
    return render_all(groups, {}, tmp_path_factory.mktemp("matrix"))  # type: ignore[no-any-return]


def same_power(template: str, mine: dict[str, str], theirs: dict[str, str]) -> bool:
    """Node's Math.pow may be one unit in the last place off the correctly rounded power Python
    computes (2.5 ** 2.5 is 9.882117688026185 there, ...186 here): a known difference."""
    if "**" not in template or "text" not in mine or "text" not in theirs:
        return False
    pairs = zip(mine["text"].split("|"), theirs["text"].split("|"), strict=True)
    return all(a == b or math.isclose(float(a), float(b), rel_tol=1e-15) for a, b in pairs)


def mismatches(templates: list[str], theirs: list[dict[str, str]]) -> list[str]:
    found = []
    for template, their in zip(templates, theirs, strict=True):
        try:
            mine: dict[str, str] = {"text": render(template, json.loads(json.dumps(CONTEXT)))}
        except ConfigError as exc:
            mine = {"error": str(exc)}
        if "error" in their and "error" in mine:
            continue
        if mine != their and not same_power(template, mine, their):
            found.append(f"{template}\n    nunjucks: {their}\n    ours:     {mine}")
    return found


def test_operators_on_every_pair_of_values(reference: list[list[Any]]) -> None:
    templates = operator_templates()
    assert len(templates) > 3000
    assert mismatches(templates, reference[0]) == []


def test_filters_on_every_value(reference: list[list[Any]]) -> None:
    templates = filter_templates()
    assert len(templates) > 3500
    assert mismatches(templates, reference[1]) == []


def test_methods_on_every_value(reference: list[list[Any]]) -> None:
    templates = method_templates()
    assert len(templates) > 6000
    assert mismatches(templates, reference[2]) == []


def test_the_reference_script_is_here() -> None:
    assert Path(__file__).with_name("render_nunjucks.cjs").exists()
