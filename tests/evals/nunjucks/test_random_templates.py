"""Random templates (a fixed seed, so the same ones every run) mixing text, whitespace control,
comments, raw blocks, if, for, set, macros, filter blocks and switch around random expressions
render as Nunjucks renders them."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from tests.evals.nunjucks.reference import render_all
from wsllm.errors import ConfigError
from wsllm.evals.templates import render

CONTEXT = {"a": 1, "b": "two", "c": [1, 2, 3], "d": {"k": "v", "n": 2}, "e": None, "f": 2.5,
           "g": "", "h": [{"x": 1}, {"x": 0}]}  # fmt: skip
ATOMS = ["a", "b", "c", "d", "e", "f", "g", "h", "zz", "1", "0", "2.5", "'s'", "''", "true",
         "false", "none", "[1, 'x']", "{}", "d.k", "c[1]", "h[0].x", "loop.index", "v1", "v2"]  # fmt: skip
OPERATORS = [
    "+",
    "-",
    "*",
    "/",
    "%",
    "~",
    "==",
    "!=",
    "<",
    ">",
    "and",
    "or",
    "//",
    "in",
    "===",
    ">=",
]
FILTERS = ["upper", "length", "dump", "join(',')", "default('D')", "first", "last", "string",
           "trim", "reverse", "sort", "list", "title", "replace('o', '0')", "truncate(3)", "round",
           "int", "float", "abs", "safe", "escape"]  # fmt: skip
TEXT = ["", " ", "\n", "  \n  ", "\t", "x", " y\n"]


class Generator:
    """Builds random templates from a seeded random source."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)

    def expression(self, depth: int = 0) -> str:
        pick, choice = self.random.random(), self.random.choice
        if depth > 2 or pick < 0.35:
            return choice(ATOMS)
        inner = self.expression
        if pick < 0.6:
            return f"{inner(depth + 1)} {choice(OPERATORS)} {inner(depth + 1)}"
        if pick < 0.75:
            return f"{inner(depth + 1)} | {choice(FILTERS)}"
        if pick < 0.82:
            return f"not {inner(depth + 1)}"
        if pick < 0.9:
            return f"({inner(depth + 1)})"
        return f"{inner(depth + 1)} if {inner(depth + 1)} else {inner(depth + 1)}"

    def dash(self) -> str:
        return self.random.choice(["", "", "-"])

    def body(self, depth: int = 0) -> str:
        return "".join(self.piece(depth) for _ in range(self.random.randint(1, 4)))

    def piece(self, depth: int) -> str:
        pick, d, e, choice = self.random.random(), self.dash, self.expression, self.random.choice
        nested = depth < 2
        if pick < 0.3:
            return choice(TEXT) + choice(["text", "a{b", "c}d", "#", "{ }", ""]) + choice(TEXT)
        if pick < 0.55:
            return f"{{{{{d()} {e()} {d()}}}}}"
        if pick < 0.65 and nested:
            return (f"{{%{d()} if {e()} {d()}%}}{self.body(depth + 1)}{{%{d()} else {d()}%}}"
                    f"{self.body(depth + 1)}{{%{d()} endif {d()}%}}")  # fmt: skip
        if pick < 0.75 and nested:
            names, items = choice(["x", "v1", "k, v"]), choice(["c", "d", "h", "b", "e", "[]"])
            return (f"{{%{d()} for {names} in {items} {d()}%}}{self.body(depth + 1)}"
                    f"{{%{d()} else %}}E{{% endfor {d()}%}}")  # fmt: skip
        if pick < 0.85:
            return f"{{%{d()} set {choice(['v1', 'v2', 'a'])} = {e()} {d()}%}}"
        if pick < 0.92:
            return f"{{#{d()} comment {{{{ x }}}} {d()}#}}"
        return self.block(depth)

    def block(self, depth: int) -> str:
        pick, d, e, choice = self.random.random(), self.dash, self.expression, self.random.choice
        if pick < 0.4 or depth >= 2:
            return f"{{%{d()} raw {d()}%}}{choice(TEXT)}{{{{ raw }}}}{{% endraw %}}"
        if pick < 0.7:
            return (f"{{% macro m{depth}(p, q=2) %}}{self.body(depth + 1)}[{{{{ p }}}}{{{{ q }}}}]"
                    f"{{% endmacro %}}{{{{ m{depth}({e()}) }}}}{{{{ m{depth}(q={e()}) }}}}")  # fmt: skip
        if pick < 0.85:
            name = choice(["upper", "trim", "length", "title"])
            return f"{{% filter {name} %}}{self.body(depth + 1)}{{% endfilter %}}"
        return (f"{{% switch {e()} %}}{{% case 1 %}}one{{% case 's' %}}{{% case a %}}A"
                "{% default %}D{% endswitch %}")  # fmt: skip


def templates(seed: int, count: int = 800) -> list[str]:
    generator = Generator(seed)
    return [generator.body() for _ in range(count)]


SEEDS = (1, 2, 3)
TEMPLATES = {seed: templates(seed) for seed in SEEDS}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[int, list[Any]]:
    groups = [{"context": CONTEXT, "templates": TEMPLATES[seed]} for seed in SEEDS]
    results = render_all(groups, {}, tmp_path_factory.mktemp("random"))
    return dict(zip(SEEDS, results, strict=True))


@pytest.mark.parametrize("seed", SEEDS)
def test_random_templates_render_as_nunjucks_does(
    seed: int, reference: dict[int, list[Any]]
) -> None:
    differ = []
    for template, theirs in zip(TEMPLATES[seed], reference[seed], strict=True):
        try:
            mine = {"text": render(template, json.loads(json.dumps(CONTEXT)))}
        except ConfigError as exc:
            mine = {"error": str(exc)}
        if not ("error" in theirs and "error" in mine) and mine != theirs:
            differ.append(f"{template!r}\n    nunjucks: {theirs}\n    ours: {mine}")
    assert differ == []
    assert len({t for t in TEMPLATES[seed] if "{% macro" in t}) > 20  # the mix is wide
