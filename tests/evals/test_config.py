"""Loading configs: promptfoo's format, files of tests, and errors that say where and what."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.evals.helpers import load, write_config
from wsllm.errors import ConfigError
from wsllm.evals.config.loading import find_config, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "websockets-streaming"

TARGET = """
providers:
  - id: ws://localhost:3300/ws-stream
    config:
      messageTemplate: '{"input": {{prompt | dump}}}'
"""


def test_the_seed_example_loads() -> None:
    config = load_config(EXAMPLE / "promptfooconfig.yaml")
    assert [p.raw for p in config.prompts] == ["{{question}}"]
    [target] = config.targets
    assert target.url == "ws://localhost:3300/ws-stream"
    assert target.timeout_ms == 300_000
    assert target.stream_response is not None
    fold = target.stream_response.start({})
    assert fold.step('{"type": "message", "message": "hi"}') == (True, {"output": "hi"})
    assert len(config.tests) == 4
    assert config.tests[0].asserts[0].type == "icontains"


def test_the_default_config_is_found_in_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no promptfooconfig\.yaml"):
        find_config(tmp_path)
    path = write_config(tmp_path, "prompts: [x]\n" + TARGET)
    assert find_config(tmp_path) == path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prompts: [x]\nprovider: []\n", "promptfooconfig.yaml: provider: unknown key (did you mean 'providers'?)"),
        ("prompts: [x]\n", "promptfooconfig.yaml: providers: missing"),
        ("prompts: x\nproviders: [{id: 'ws://h/x', config: {}}]\n",
         "promptfooconfig.yaml: providers[0].config.messageTemplate: missing"),
        ("prompts: x\nproviders: ['openai:gpt-4']\n", "providers[0].id: 'openai:gpt-4' is not a WebSocket target"),
        ("prompts: [x]\n" + TARGET + "tests: 5\n", "promptfooconfig.yaml: tests: expected a list, got an integer"),
        ("prompts: [x]\n" + TARGET + "tests: [{vars: {a: 1}, asert: []}]\n",
         "tests[0].asert: unknown key (did you mean 'assert'?)"),
        ("prompts: [x]\n" + TARGET + "tests: [{assert: [{type: contain, value: a}]}]\n",
         "tests[0].assert[0].type: unknown assertion type 'contain'"),
        ("prompts: [x]\n" + TARGET + "tests: [{assert: [{type: latency}]}]\n",
         "tests[0].assert[0].threshold: a latency assertion needs a threshold"),
        ("prompts: [x]\n" + TARGET + "tests: [{assert: [{type: contains}]}]\n",
         "tests[0].assert[0].value: a contains assertion needs a value"),
        ("prompts: [x]\n" + TARGET + "tests: [{assert: [{type: regex, value: '(('}]}]\n",
         "tests[0].assert[0].value: invalid regular expression"),
        ("prompts: [x]\n" + TARGET + "tests: [{assert: [{type: javascript, value: 'output ==='}]}]\n",
         "tests[0].assert[0].value: JavaScript does not compile"),
        ("prompts: [x]\n" + TARGET + "tests: [{assert: [{type: python, value: 'output ==='}]}]\n",
         "tests[0].assert[0].value: Python does not compile"),
        ("prompts: [x]\n" + TARGET + "tests: file://missing.csv\n", "tests: no such file"),
        ("prompts: ['{{ unclosed']\n" + TARGET, "prompts[0]: template syntax error"),
        ("prompts: [x]\n" + TARGET + "evaluateOptions: {maxConcurrency: 0}\n",
         "evaluateOptions.maxConcurrency: expected a number of at least 1"),
        ("prompts: [x]\n" + TARGET + "evaluateOptions: {maxConcurency: 2}\n",
         "evaluateOptions.maxConcurency: unknown key (did you mean 'maxConcurrency'?)"),
        ("prompts: [x]\nproviders:\n  - id: ws://h/x\n    config:\n      messageTemplate: '{{ x'\n",
         "providers[0].config.messageTemplate: template syntax error"),
        ("prompts: [x]\nproviders:\n  - id: ws://h/x\n    config:\n      messageTemplate: m\n"
         "      streamResponse: '(a, e) => { return [a, '\n", "providers[0].config.streamResponse: JavaScript does not compile"),
        ("prompts: [x]\nproviders:\n  - id: ws://h/x\n    config:\n      messageTemplate: m\n"
         "      streamResponse: file://nope.js\n", "providers[0].config.streamResponse: cannot read"),
        ("prompts: [x]\nproviders:\n  - id: ws://h/x\n    config:\n      messageTemplate: m\n"
         "      timeout: 5\n", "providers[0].config.timeout: unknown key (did you mean 'timeoutMs'?)"),
        ("prompts: [x\n", "promptfooconfig.yaml: line 2, column 1: invalid YAML"),
        ("- just\n- a list\n", "promptfooconfig.yaml: expected a mapping, got a list"),
    ],
)  # fmt: skip
def test_config_errors_name_the_file_the_key_and_the_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert expected in error_of(tmp_path, text)


def test_tests_from_csv_with_expected_columns(tmp_path: Path) -> None:
    (tmp_path / "tests.csv").write_text(
        "question,__expected1,__expected2,__description,__metadata:topic\n"
        'What is 2+2?,contains: 4,"not-icontains: five",arithmetic,maths\n'
        "Say hi,fn: output.length > 2,,greeting,social\n"
        "Exact,hello world,,,\n"
    )
    config = load(tmp_path, "prompts: ['{{question}}']\n" + TARGET + "tests: file://tests.csv\n")
    first, second, third = config.tests
    assert first.vars == {"question": "What is 2+2?"}
    assert [(a.type, a.inverse, a.value) for a in first.asserts] == [
        ("contains", False, "4"),
        ("icontains", True, "five"),
    ]
    assert first.description == "arithmetic"
    assert first.metadata == {"topic": "maths"}
    assert second.asserts[0].type == "javascript"
    assert (third.asserts[0].type, third.asserts[0].value) == ("equals", "hello world")


def test_tests_from_yaml_json_and_jsonl_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("- vars: {q: one}\n- vars: {q: two}\n")
    (tmp_path / "b.json").write_text(json.dumps([{"vars": {"q": "three"}}]))
    (tmp_path / "c.jsonl").write_text('{"vars": {"q": "four"}}\n\n{"vars": {"q": "five"}}\n')
    text = (
        "prompts: ['{{q}}']\n"
        + TARGET
        + "tests:\n  - file://a.yaml\n  - file://b.json\n  - file://c.jsonl\n"
    )
    assert [t.vars["q"] for t in load(tmp_path, text).tests] == [
        "one",
        "two",
        "three",
        "four",
        "five",
    ]


def test_default_test_merges_into_every_test(tmp_path: Path) -> None:
    text = (
        "prompts: ['{{q}}']\n"
        + TARGET
        + (
            "defaultTest:\n  vars: {tone: calm, q: default}\n  assert: [{type: contains, value: a}]\n"
            "tests:\n  - vars: {q: mine}\n    assert: [{type: contains, value: b}]\n"
        )
    )
    [test] = load(tmp_path, text).tests
    assert test.vars == {"tone": "calm", "q": "mine"}
    assert [a.value for a in test.asserts] == ["a", "b"]


def test_lists_of_strings_expand_into_one_test_each_and_other_lists_stay_whole(
    tmp_path: Path,
) -> None:
    text = (
        "prompts: ['{{q}} {{n}}']\n"
        + TARGET
        + "tests:\n  - vars: {q: [x, y], w: ['1', '2'], n: [1, 2], o: [{k: 1}, {k: 2}]}\n"
    )
    tests = load(tmp_path, text).tests
    assert [(t.vars["q"], t.vars["w"]) for t in tests] == [
        ("x", "1"), ("x", "2"), ("y", "1"), ("y", "2"),
    ]  # fmt: skip
    assert all(t.vars["n"] == [1, 2] and t.vars["o"] == [{"k": 1}, {"k": 2}] for t in tests)
    assert {t.group for t in tests} == {0}


def test_prompts_from_a_file_split_on_dashes(tmp_path: Path) -> None:
    (tmp_path / "prompts.txt").write_text("First {{q}}\n---\nSecond {{q}}\n")
    config = load(tmp_path, "prompts: file://prompts.txt\n" + TARGET)
    assert [p.raw for p in config.prompts] == ["First {{q}}", "Second {{q}}"]


def test_file_vars_are_checked_at_load_and_kept_as_written(tmp_path: Path) -> None:
    (tmp_path / "long.txt").write_text("a long document")
    config = load(
        tmp_path, "prompts: ['{{doc}}']\n" + TARGET + "tests: [{vars: {doc: file://long.txt}}]\n"
    )
    assert config.tests[0].vars["doc"] == "file://long.txt"  # read when the prompt renders
    assert "no such file" in error_of(
        tmp_path, "prompts: ['{{doc}}']\n" + TARGET + "tests: [{vars: {doc: file://nope.txt}}]\n"
    )


def test_env_reaches_the_configs_functions_and_leaves_the_process_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WSLLM_TEST_TOKEN", raising=False)
    text = "prompts: [x]\n" + TARGET + "env: {WSLLM_TEST_TOKEN: abc}\n"
    text += "tests:\n  - assert: [{type: javascript, value: 'process.env.WSLLM_TEST_TOKEN'}]\n"
    config = load(tmp_path, text)
    assert config.env == {"WSLLM_TEST_TOKEN": "abc"}
    check = config.tests[0].asserts[0].function
    assert check is not None
    assert check("x", {}) == "abc"  # the config's functions see it
    import os

    assert "WSLLM_TEST_TOKEN" not in os.environ  # loading a config leaves the process alone


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prompts: [{raw: 'x {{q}}'}]\n" + TARGET,
         "prompts[0]: a prompt object needs `raw` and `label`"),
        ("prompts: [x]\n" + TARGET + "tests: [{vars: {q: a}, providers: [nope]}]\n",
         "tests[0].providers: names target 'nope', which does not exist"),
        ("prompts: [x]\n" + TARGET + "tests: [{vars: {q: a}, prompts: [nope]}]\n",
         "tests[0].prompts: names prompt 'nope', which does not exist"),
        ("prompts: [x]\nproviders:\n  - id: ws://h/x\n    prompts: [nope]\n    config: {messageTemplate: m}\n",
         "target 'ws://h/x' names prompt 'nope', which does not exist"),
        ("prompts: [x]\n" + TARGET + "derivedMetrics: [{name: d, value: 'import os'}]\n",
         "derivedMetrics[0].value: not an arithmetic expression"),
        ("prompts: [x]\n" + TARGET + "extensions: [hooks.js]\n",
         "extensions[0]: an extension is file://path/to/file.js:function"),
        ("prompts: [x]\n" + TARGET + "tests: [{vars: {q: a}, options: {transformVars: '\"nope\"'}}]\n",
         "tests[0].options.transformVars: transformVars must return an object of vars"),
        ("prompts: [x]\n" + TARGET + "tests: [{options: {transfrom: x}}]\n",
         "tests[0].options.transfrom: unknown key (did you mean 'transform'?)"),
        ("prompts: [x]\n" + TARGET + "tests: [{assert: [{type: word-count, value: many}]}]\n",
         "tests[0].assert[0].value: word-count needs a number"),
        ("prompts: [x]\n" + TARGET + "tests: [{assert: [{type: not-select-best, value: a}]}]\n",
         "tests[0].assert[0].type: select-best compares outputs; it has no `not-` form"),
        ("prompts: [x]\n" + TARGET + "tests: [{assert: [{type: contains, value: file://v.md}]}]\n",
         "tests[0].assert[0].value: no such file"),
        ("prompts: [x]\nproviders: file://targets.yaml\n", "providers: no such file"),
        ("prompts: [file://p.prompt]\n" + TARGET, "prompts[0]: no such file"),
    ],
)  # fmt: skip
def test_config_shapes_promptfoo_rejects_are_rejected_with_the_key_path(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert expected in error_of(tmp_path, text)


def test_a_targets_file_entry_needs_an_id(tmp_path: Path) -> None:
    (tmp_path / "targets.yaml").write_text("- label: a\n  config: {messageTemplate: m}\n")
    assert "targets.yaml: [0]: a target in a targets file needs an `id`" in error_of(
        tmp_path, "prompts: [x]\nproviders: file://targets.yaml\n"
    )
