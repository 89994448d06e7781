"""User functions in every form promptfoo accepts, in JavaScript and Python, bounded in time;
and templates."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from wsllm.errors import ConfigError, ScriptError
from wsllm.evals.functions.compiler import ASSERT_PARAMS, FunctionCompiler, build_function_body
from wsllm.evals.functions.jsengine import JsEngine
from wsllm.evals.templates import render
from wsllm.evals.validate import Where

FRAME = '{"type": "message", "message": "hi"}'
HERE = Where("c.yaml", "f")


def compiler(
    folder: Path, env: dict[str, str] | None = None, limit: float = 10.0
) -> FunctionCompiler:
    return FunctionCompiler(folder, env or {}, limit)


@pytest.mark.parametrize(
    "source",
    [
        "(accumulator, event, context) => { const m = JSON.parse(event.data); return [{output: m.message}, true]; }",
        "(acc, e) => [{output: JSON.parse(e.data).message}, true]",
        "function (acc, e) { return [{output: JSON.parse(e.data).message}, true]; }",
        "const m = JSON.parse(data.data);\nreturn [{output: m.message}, true];",
        "[{output: JSON.parse(data.data).message}, true]",
        "python:\nreturn {'output': json.loads(event['data'])['message']}, True",
    ],
)
def test_stream_response_forms(source: str, tmp_path: Path) -> None:
    fold = compiler(tmp_path).stream_function(source, HERE).start({"vars": {}})
    assert fold.step(FRAME) == (True, {"output": "hi"})


@pytest.mark.parametrize(
    ("code", "reference"),
    [
        ("module.exports = (a, e) => [{output: 'cjs'}, true];", "file://f.js"),
        ("module.exports.fold = (a, e) => [{output: 'named'}, true];", "file://f.js:fold"),
        ("export default function (a, e) { return [{output: 'esm'}, true]; }", "file://f.mjs"),
        (
            "export function fold(a, e) { return [{output: 'esm-named'}, true]; }",
            "file://f.mjs:fold",
        ),
        (
            "def stream_response(acc, event, context):\n    return {'output': 'py'}, True\n",
            "file://f.py",
        ),
        (
            "def fold(acc, event, context):\n    return {'output': 'py-named'}, True\n",
            "file://f.py:fold",
        ),
    ],
)
def test_stream_response_from_files(code: str, reference: str, tmp_path: Path) -> None:
    (tmp_path / reference[7:].split(":")[0]).write_text(code)
    fold = compiler(tmp_path).stream_function(reference, HERE).start({})
    done, response = fold.step(FRAME)
    assert done
    assert response["output"]


def test_a_fold_keeps_its_accumulator_between_frames(tmp_path: Path) -> None:
    source = "(acc, e) => { const n = (acc.n || 0) + 1; return [{n, output: 'x'}, n === 3]; }"
    fold = compiler(tmp_path).stream_function(source, HERE).start({})
    assert [fold.step(FRAME)[0] for _ in range(3)] == [False, False, True]


def test_a_file_without_the_named_function_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "f.js").write_text("module.exports = {};")
    with pytest.raises(ConfigError, match="expected a JavaScript function, got a undefined"):
        compiler(tmp_path).stream_function("file://f.js:nope", HERE)


def test_stream_response_must_return_a_pair(tmp_path: Path) -> None:
    fold = compiler(tmp_path).stream_function("(a, e) => 'oops'", HERE).start({})
    with pytest.raises(ScriptError, match=r"must return \[response, done\]"):
        fold.step(FRAME)


def test_an_endless_javascript_loop_is_stopped() -> None:
    js = JsEngine({}, time_limit_s=0.2)
    index = js.compile("(output) => { while (true) {} }", ASSERT_PARAMS, "f", Path())
    with pytest.raises(ScriptError, match="interrupted"):
        js.call(index, "x")


def test_an_endless_python_function_is_stopped_at_its_time_limit(tmp_path: Path) -> None:
    check = compiler(tmp_path, limit=0.3).python_assertion("while True:\n    pass", HERE)
    started = time.monotonic()
    with pytest.raises(ScriptError, match=r"took longer than 0.3 s"):
        check("x", {})
    assert time.monotonic() - started < 3


def test_a_python_memory_error_says_what_it_is(tmp_path: Path) -> None:
    check = compiler(tmp_path).python_assertion("size = 1\nraise MemoryError()", HERE)
    with pytest.raises(ScriptError, match=r"ran out of memory \(MemoryError\)"):
        check("x", {})


def test_javascript_sees_the_configs_env_and_not_the_processs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WSLLM_SECRET_OF_THE_SHELL", "leaked")
    check = compiler(tmp_path, env={"GREETING": "hello"}).javascript_assertion(
        "[process.env.GREETING, process.env.WSLLM_SECRET_OF_THE_SHELL || 'unseen']", HERE
    )
    assert check("x", {}) == ["hello", "unseen"]


def test_one_line_bodies_return_their_last_expression() -> None:
    assert build_function_body("output.length > 3;") == "return output.length > 3"
    assert (
        build_function_body("const n = output.length; n > 3")
        == "const n = output.length; return n > 3"
    )


def test_templates_speak_nunjucks() -> None:
    text = 'Say "héllo" to the 🌍'
    assert (
        render('{"input": {{prompt | dump}}}', {"prompt": text})
        == '{"input": "Say \\"héllo\\" to the 🌍"}'
    )
    assert render("{{ missing }}|{{ name | upper }}", {"name": "ws"}) == "|WS"
    assert render("{{ items | join(', ') }}", {"items": ["a", "b"]}) == "a, b"
    assert render("{{ obj | dump }}", {"obj": {"a": [1, None]}}) == '{"a":[1,null]}'


def test_templates_are_sandboxed() -> None:
    with pytest.raises(ConfigError):
        render("{{ ''.__class__.__mro__[1].__subclasses__() }}", {})


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("{{ nothing() }}", "Unable to call `nothing`, which is undefined or falsey"),
        ("{{ range(10**9)|list }}", "range.. would make an array of 1,000,000,000 items"),
        (
            "{% for i in range(99999) %}{{ 'x' | center(999) }}{% endfor %}",
            "passed 8,388,608 characters",
        ),
    ],
)
def test_a_template_that_fails_or_runs_away_is_a_clear_error(template: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        render(template, {})
