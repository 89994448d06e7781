"""Every template of the corpus renders as Nunjucks renders it: the same text, or an error
where Nunjucks has one. Nunjucks runs once, under node, for the whole corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.evals.nunjucks.corpus import ENV, GROUPS, Group
from tests.evals.nunjucks.reference import render_all
from wsllm.errors import ConfigError
from wsllm.evals.nunjucks.utf16 import printable
from wsllm.evals.templates import render

NAMES = ("probes", "literals", "loops", "operators", "ours")
CASES = [
    pytest.param(group, index, id=f"{name}-{index}")
    for name, group in zip(NAMES, GROUPS, strict=True)
    for index in range(len(group.templates))
]

# Where we differ on purpose. Nunjucks prints a function as its JavaScript source code, and
# hands templates every JavaScript method; we print functions as `function () { [native code] }`
# and offer a short list of methods.
PRINTS_FUNCTION_SOURCE = {"{{ range }}", "{{ nums.map }}|{{ obj.toString }}"}
# Nunjucks' push changes the test's own variables; ours refuses, and says to copy first.
CHANGES_VARIABLES = {"{{ nums.push(4) }}"}


@pytest.fixture(scope="module")
def nunjucks_results(tmp_path_factory: pytest.TempPathFactory) -> dict[int, list[Any]]:
    groups = [{"context": g.context, "templates": g.templates} for g in GROUPS]
    results = render_all(groups, ENV, tmp_path_factory.mktemp("nunjucks"))
    return {id(group): results[i] for i, group in enumerate(GROUPS)}


def ours(template: str, context: dict[str, Any]) -> dict[str, str]:
    variables = json.loads(json.dumps(context))  # the same JSON node reads
    try:
        return {"text": render(template, variables, env=ENV)}
    except ConfigError as exc:
        return {"error": str(exc)}


@pytest.mark.parametrize(("group", "index"), CASES)
def test_renders_as_nunjucks_does(
    group: Group, index: int, nunjucks_results: dict[int, list[Any]]
) -> None:
    template = group.templates[index]
    theirs = nunjucks_results[id(group)][index]
    mine = ours(template, group.context)
    if template in PRINTS_FUNCTION_SOURCE:
        assert "function" in theirs["text"]
        assert "text" in mine
    elif template in CHANGES_VARIABLES:
        assert "copy it first" in mine["error"]
    elif "error" in theirs:
        assert "error" in mine, f"Nunjucks fails ({theirs['error']}), we render {mine}"
    else:
        # A lone surrogate (from cutting a string between the halves of a pair) is written
        # as U+FFFD, as Node writes it when the text leaves as UTF-8.
        assert mine == {"text": printable(theirs["text"])}


def test_the_corpus_is_broad() -> None:
    assert sum(len(g.templates) for g in GROUPS) >= 400
    assert Path(__file__).with_name("render_nunjucks.cjs").exists()
