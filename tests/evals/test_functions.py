"""User functions in every form promptfoo accepts, in JavaScript and Python; and templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsllm.errors import ConfigError
from wsllm.evals.functions import (
    ASSERT_PARAMS,
    STREAM_PARAMS,
    FunctionCompiler,
    build_function_body,
)
from wsllm.evals.jsengine import JsEngine, JsError
from wsllm.evals.templates import render
from wsllm.evals.validate import Where

FRAME = '{"type": "message", "message": "hi"}'


@pytest.mark.parametrize(
    "source",
    [
        "(accumulator, event, context) => { const m = JSON.parse(event.data); return [{output: m.message}, true]; }",
        "(acc, e) => [{output: JSON.parse(e.data).message}, true]",
        "function (acc, e) { return [{output: JSON.parse(e.data).message}, true]; }",
        "const m = JSON.parse(data.data);\nreturn [{output: m.message}, true];",
        "[{output: JSON.parse(data.data).message}, true]",
    ],
)
def test_stream_response_forms(source: str, tmp_path: Path) -> None:
    compiler = FunctionCompiler(tmp_path)
    function = compiler.target_function(source, STREAM_PARAMS, Where("c.yaml", "f"))
    js = compiler.js
    call = js.begin_stream({"vars": {}})
    assert js.stream_step(function.js_index, call, FRAME) == '{"output":"hi"}'


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
    ],
)
def test_stream_response_from_files(code: str, reference: str, tmp_path: Path) -> None:
    (tmp_path / reference[7:].split(":")[0]).write_text(code)
    compiler = FunctionCompiler(tmp_path)
    function = compiler.target_function(reference, STREAM_PARAMS, Where("c.yaml", "f"))
    call = compiler.js.begin_stream({})
    assert compiler.js.stream_step(function.js_index, call, FRAME) is not None


def test_a_file_without_the_named_function_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "f.js").write_text("module.exports = {};")
    with pytest.raises(ConfigError, match="expected a JavaScript function, got a undefined"):
        FunctionCompiler(tmp_path).target_function(
            "file://f.js:nope", STREAM_PARAMS, Where("c.yaml", "f")
        )


def test_stream_response_must_return_a_pair(tmp_path: Path) -> None:
    compiler = FunctionCompiler(tmp_path)
    function = compiler.target_function("(a, e) => 'oops'", STREAM_PARAMS, Where("c", "f"))
    call = compiler.js.begin_stream({})
    with pytest.raises(JsError, match=r"must return \[response, done\]"):
        compiler.js.stream_step(function.js_index, call, FRAME)


def test_an_endless_loop_is_stopped() -> None:
    js = JsEngine(time_limit_s=0.2)
    index = js.compile("(output) => { while (true) {} }", ASSERT_PARAMS, "f", Path())
    with pytest.raises(JsError, match="interrupted"):
        js.call(index, "x")


def test_process_env_is_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSLLM_FN_TEST", "yes")
    js = JsEngine()
    index = js.compile("return process.env.WSLLM_FN_TEST", ASSERT_PARAMS, "f", Path())
    assert js.call(index, "x", {}) == "yes"


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
