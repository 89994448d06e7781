"""Assertions with promptfoo's semantics, on outputs and stream metrics, without sockets."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.evals.helpers import load
from wsllm.client.recorder import StreamMetrics
from wsllm.evals.grading.aggregate import grade_test
from wsllm.evals.grading.context import GradingContext
from wsllm.evals.results import GradingResult

HEAD = """
prompts: ['{{q}}']
providers:
  - id: ws://localhost:1/ws
    config: {messageTemplate: '{{prompt}}'}
tests:
"""

METRICS = StreamMetrics(first_delta_ms=120.0, total_ms=900.0, frames=10, max_gap_ms=300.0, bytes=10)


def verdict(
    tmp_path: Path, output: Any, asserts: list[dict[str, Any]], **test: Any
) -> GradingResult:
    spec = {"vars": {"q": "question", "name": "Ada"}, "assert": asserts, **test}
    config = load(tmp_path, HEAD + yaml.safe_dump([spec]))
    [case] = config.tests
    return asyncio.run(grade_test(case, GradingContext(output, case, "question", METRICS)))


CASES = [
    ({"type": "equals", "value": "Hello Ada"}, "Hello Ada", True),
    ({"type": "equals", "value": "Hello {{name}}"}, "Hello Ada", True),
    ({"type": "equals", "value": {"a": 1}}, '{"a": 1}', True),
    ({"type": "not-equals", "value": "Hello"}, "Hello Ada", True),
    ({"type": "contains", "value": "Ada"}, "Hello Ada", True),
    ({"type": "contains", "value": "ada"}, "Hello Ada", False),
    ({"type": "icontains", "value": "ada"}, "Hello Ada", True),
    ({"type": "not-contains", "value": "Bob"}, "Hello Ada", True),
    ({"type": "contains-any", "value": ["Bob", "Ada"]}, "Hello Ada", True),
    ({"type": "contains-any", "value": '"Bob, Jr", Carol'}, "Hi Bob, Jr", True),
    ({"type": "contains-all", "value": "Hello, Ada"}, "Hello Ada", True),
    ({"type": "contains-all", "value": ["Hello", "Bob"]}, "Hello Ada", False),
    ({"type": "icontains-any", "value": "BOB, ADA"}, "Hello Ada", True),
    ({"type": "icontains-all", "value": ["HELLO", "ada"]}, "Hello Ada", True),
    ({"type": "regex", "value": r"^Hello \w+$"}, "Hello Ada", True),
    ({"type": "not-regex", "value": r"\d"}, "Hello Ada", True),
    ({"type": "starts-with", "value": "Hello"}, "Hello Ada", True),
    ({"type": "is-json"}, '{"a": 1}', True),
    ({"type": "is-json"}, "{a: 1}", False),
    ({"type": "not-is-json"}, "plain", True),
    ({"type": "is-json", "value": {"type": "object", "required": ["a"]}}, '{"b": 1}', False),
    ({"type": "contains-json"}, 'Here: {"a": [1, 2]} done', True),
    (
        {"type": "contains-json", "value": "type: object\nrequired: [name]"},
        'x {"name": "n"} y',
        True,
    ),
    ({"type": "contains-json", "value": {"required": ["name"]}}, 'x {"id": 1} y', False),
    ({"type": "levenshtein", "value": "Hello Adam"}, "Hello Ada", True),
    ({"type": "levenshtein", "value": "Goodbye", "threshold": 2}, "Hello", False),
    ({"type": "rouge-n", "value": "the cat sat on the mat"}, "the cat sat on a mat", True),
    ({"type": "rouge-n", "value": "completely different words"}, "the cat sat", False),
    ({"type": "latency", "threshold": 1000}, "x", True),
    ({"type": "latency", "threshold": 500}, "x", False),
    ({"type": "ttft", "threshold": 150}, "x", True),
    ({"type": "ttft", "threshold": 100}, "x", False),
    ({"type": "max-gap", "threshold": 250}, "x", False),
    ({"type": "max-gap", "threshold": 400}, "x", True),
    ({"type": "javascript", "value": "output.length > 3"}, "Hello", True),
    ({"type": "javascript", "value": "output.includes(context.vars.name)"}, "Hello Ada", True),
    ({"type": "javascript", "value": "context.stream.firstDeltaMs < 200"}, "x", True),
    ({"type": "javascript", "value": "const n = output.length;\nreturn n > 100;"}, "Hello", False),
    ({"type": "not-javascript", "value": "output === 'x'"}, "y", True),
    ({"type": "python", "value": "len(output) > 3"}, "Hello", True),
    (
        {"type": "python", "value": "words = output.split()\nreturn len(words) == 2"},
        "Hello Ada",
        True,
    ),
    ({"type": "python", "value": "context['vars']['name'] in output"}, "Hi Bob", False),
]


@pytest.mark.parametrize(("assertion", "output", "passes"), CASES)
def test_each_assertion(
    tmp_path: Path, assertion: dict[str, Any], output: str, passes: bool
) -> None:
    result = verdict(tmp_path, output, [assertion])
    assert result.passed is passes, result.reason
    assert result.score == (1.0 if passes else 0.0) or assertion["type"] == "rouge-n"


def test_failure_reasons_say_what_was_expected(tmp_path: Path) -> None:
    assert (
        verdict(tmp_path, "Hi", [{"type": "contains", "value": "Ada"}]).reason
        == 'Expected output to contain "Ada"'
    )
    assert (
        verdict(tmp_path, "Ada", [{"type": "not-contains", "value": "Ada"}]).reason
        == 'Expected output to not contain "Ada"'
    )
    assert (
        "Latency 900ms is greater than threshold 500ms"
        in verdict(tmp_path, "x", [{"type": "latency", "threshold": 500}]).reason
    )
    assert (
        "TTFT (time to first delta) 120ms"
        in verdict(tmp_path, "x", [{"type": "ttft", "threshold": 100}]).reason
    )


def test_outputs_with_braces_do_not_break_reasons(tmp_path: Path) -> None:
    result = verdict(tmp_path, "{not_} {0} {x}", [{"type": "equals", "value": "other"}])
    assert result.reason == 'Expected output "{not_} {0} {x}" to equal "other"'


def test_weights_and_threshold(tmp_path: Path) -> None:
    asserts = [
        {"type": "contains", "value": "Ada", "weight": 3},
        {"type": "contains", "value": "Bob", "weight": 1},
    ]
    failing = verdict(tmp_path, "Hello Ada", asserts)
    assert (failing.passed, failing.score) == (False, 0.75)
    passing = verdict(tmp_path, "Hello Ada", asserts, threshold=0.7)
    assert passing.passed
    assert passing.reason == "Aggregate score 0.75 ≥ 0.7 threshold"


def test_weight_zero_never_fails_a_test(tmp_path: Path) -> None:
    result = verdict(tmp_path, "x", [{"type": "contains", "value": "nope", "weight": 0}])
    assert result.passed


def test_named_metrics_add_up(tmp_path: Path) -> None:
    asserts = [
        {"type": "contains", "value": "Ada", "metric": "names"},
        {"type": "contains", "value": "Hello", "metric": "names"},
        {"type": "contains", "value": "zzz", "metric": "other"},
    ]
    assert verdict(tmp_path, "Hello Ada", asserts).named_scores == {"names": 2.0, "other": 0.0}


def test_assert_set_scores_on_its_own_threshold(tmp_path: Path) -> None:
    members = [{"type": "contains", "value": "Ada"}, {"type": "contains", "value": "Bob"}]
    assert not verdict(tmp_path, "Hello Ada", [{"type": "assert-set", "assert": members}]).passed
    result = verdict(
        tmp_path, "Hello Ada", [{"type": "assert-set", "threshold": 0.5, "assert": members}]
    )
    assert result.passed
    assert result.components[0].components[1].passed is False


def test_script_results_can_be_scores_and_objects(tmp_path: Path) -> None:
    score = verdict(tmp_path, "x", [{"type": "javascript", "value": "0.4", "threshold": 0.5}])
    assert (score.passed, score.score) == (False, 0.4)
    graded = verdict(
        tmp_path,
        "x",
        [{"type": "javascript", "value": "({pass: true, score: 0.9, reason: 'fine'})"}],
    )
    assert (graded.passed, graded.score) == (True, 0.9)
    python = verdict(
        tmp_path,
        "x",
        [{"type": "python", "value": "{'pass': False, 'score': 0.2, 'reason': 'meh'}"}],
    )
    assert (python.passed, python.reason) == (False, "meh")


def test_a_script_that_throws_fails_with_the_reason(tmp_path: Path) -> None:
    js = verdict(tmp_path, "x", [{"type": "javascript", "value": "output.nope.deeper"}])
    assert not js.passed
    assert "TypeError" in js.reason
    py = verdict(tmp_path, "x", [{"type": "python", "value": "1 / 0"}])
    assert not py.passed
    assert "division by zero" in py.reason


def test_python_assertion_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "check.py").write_text(
        "def get_assert(output, context):\n    return {'pass': 'Ada' in output, 'score': 1, 'reason': 'ok'}\n"
        "def strict(output, context):\n    return output == 'exact'\n"
    )
    assert verdict(tmp_path, "Hi Ada", [{"type": "python", "value": "file://check.py"}]).passed
    assert not verdict(
        tmp_path, "Hi Ada", [{"type": "python", "value": "file://check.py:strict"}]
    ).passed


def test_javascript_assertion_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "check.js").write_text(
        "module.exports = (output, context) => output.startsWith('Hi');\n"
    )
    assert verdict(tmp_path, "Hi Ada", [{"type": "javascript", "value": "file://check.js"}]).passed


def test_no_assertions_pass(tmp_path: Path) -> None:
    result = verdict(tmp_path, "x", [])
    assert (result.passed, result.reason) == (True, "No assertions")
