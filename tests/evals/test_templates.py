"""The template API the eval uses: compile once, render with JavaScript's values, a config's own
filters and `env`; every failure is that test's ConfigError, naming the line."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from wsllm.errors import ConfigError
from wsllm.evals import templates
from wsllm.evals.templates import MAX_CHARS, compile_template, render


def test_text_without_a_tag_is_returned_as_is_without_compiling() -> None:
    before = compile_template.cache_info().currsize
    text = "Plain prompt: no tags, 100% literal } here"
    assert render(text, {}) is text
    assert compile_template.cache_info().currsize == before


def test_a_template_compiles_once() -> None:
    source = "Hello {{ name }} #once"
    assert compile_template(source) is compile_template(source)
    assert render(source, {"name": "Bo"}) == "Hello Bo #once"
    assert render(source, {"name": "Al"}) == "Hello Al #once"


def test_the_message_template_and_prompt_of_the_seed() -> None:
    prompt = 'Say "héllo"\nto the 🌍'
    assert render('{"input": {{prompt | dump}}}', {"prompt": prompt}) == (
        '{"input": "Say \\"héllo\\"\\nto the 🌍"}'
    )
    assert render("{{question}}", {"question": "What is 2+2?"}) == "What is 2+2?"
    assert render("{{ question }}\n", {"question": "q"}) == "q\n"  # the last newline stays


@pytest.mark.parametrize(
    ("template", "variables", "expected"),
    [
        ("{{ missing }}|{{ none_value }}|{{ missing.deeper.still }}", {"none_value": None}, "||"),
        ("{{ flag }} {{ loop_done }}", {"flag": True, "loop_done": False}, "true false"),
        (
            "{{ n }} {{ 0.1 + 0.2 }} {{ big }}",
            {"n": 3.0, "big": 2**64},
            "3 0.30000000000000004 18446744073709552000",
        ),
        (
            "{{ items }} {{ obj }} {{ [] }}",
            {"items": [1, [2, 3]], "obj": {"a": 1}},
            "1,2,3 [object Object] ",
        ),
        ("{% if [] %}T{% endif %}{% if {} %}T{% endif %}{% if 0 %}F{% endif %}", {}, "TT"),
        ("{{ 'a' + 1 }} {{ 'x' ~ nothing }} {{ 7 // 2 }} {{ -7 % 3 }}", {}, "a1 xundefined 3 -1"),
        (
            "{% for k, v in obj %}{{ k }}={{ v }};{% endfor %}",
            {"obj": {"b": 1, "2": 2}},
            "2=2;b=1;",
        ),
        ("{% set x = 1 %}{% for i in [1, 2] %}{% set x = i %}{% endfor %}{{ x }}", {}, "2"),
        ("{{ s.toUpperCase() }} {{ s.split(' ') | length }}", {"s": "a b"}, "A B 2"),
    ],
)
def test_values_behave_as_in_javascript(
    template: str, variables: dict[str, Any], expected: str
) -> None:
    assert render(template, variables) == expected


def test_deep_nesting_within_reason_works() -> None:
    assert render("{{ " + "(" * 40 + "1 + 1" + ")" * 40 + " }}", {}) == "2"


@pytest.mark.parametrize(
    ("template", "line", "says"),
    [
        ("ok\nok\n{{ name | }}", 3, "expected symbol"),
        ("{% if x %}\nno end", 2, "expected elif, else, or endif"),
        ("{{ 'a' }}\n{% unknown %}", 2, "unknown block tag: unknown"),
        ("{# never closed", 1, "expected end of comment"),
        ("{% include 'other.njk' %}", 1, "not supported: templates load no files"),
        ("{{ " + "(" * 500 + "1" + ")" * 500 + " }}", 1, "it nests too deeply"),
    ],
)
def test_a_syntax_error_names_its_line(template: str, line: int, says: str) -> None:
    with pytest.raises(ConfigError, match=rf"^template syntax error on line {line}: .*{says}"):
        compile_template(template)
    with pytest.raises(ConfigError, match="template syntax error"):
        render(template, {})


@pytest.mark.parametrize(
    ("template", "says"),
    [
        (
            "one\n{{ nothing() }}",
            r"Unable to call `nothing`, which is undefined or falsey \(line 2\)",
        ),
        ("{{ 'x' in nothing }}", 'Cannot use "in" operator to search for "x"'),
        ("\n\n{{ name | nofilter }}", r"filter not found: nofilter \(line 3\)"),
        ("{{ 5 | upper }}", "the upper filter needs a string"),
        ("{{ 'oops' | load }}", "the load filter could not parse JSON"),
        ("{{ x is nosuchtest }}", "test not found: nosuchtest"),
        ("{% set l = [] %}{{ items.push(1) }}", "copy it first"),
    ],
)
def test_a_render_error_is_the_tests_error(template: str, says: str) -> None:
    with pytest.raises(ConfigError, match=rf"^template failed to render: .*{says}"):
        render(template, {"name": "n", "items": [1]})


def test_a_configs_filters_are_called_with_python_arguments() -> None:
    seen: list[Any] = []

    def shout(value: Any, end: str = "!", times: int = 1) -> str:
        seen.append(value)
        return str(value).upper() + end * times

    filters = {"shout": shout, "upper": lambda value: f"<{value}>"}
    assert render(
        "{{ x | shout }}|{{ x | shout('?', times=3) }}", {"x": "hi"}, filters=filters
    ) == ("HI!|HI???")
    assert render("{{ missing | shout }}", {}, filters=filters) == "NONE!"
    assert seen[-1] is None  # undefined reaches Python as None
    assert render("{{ 'a' | upper }}", {}, filters=filters) == "<a>"  # a config's filter wins
    assert render("{{ 'a' | upper }}", {}) == "A"
    with pytest.raises(ConfigError, match="filter not found: shout"):
        render("{{ x | shout }}", {"x": 1})


def test_a_configs_filter_that_fails_is_a_clear_error() -> None:
    filters = {"divide": lambda value: value / 0}
    with pytest.raises(ConfigError, match="template failed to render: ZeroDivisionError"):
        render("{{ 1 | divide }}", {}, filters=filters)


def test_a_configs_filter_that_never_returns_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templates, "TIME_LIMIT_S", 0.3)

    def forever(value: Any) -> Any:
        while True:
            value = (value or 0) + 1

    with pytest.raises(ConfigError, match=r"template failed to render: it took longer than 0.3 s"):
        render("{{ 1 | forever }}", {}, filters={"forever": forever})


def test_a_loop_that_runs_away_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templates, "TIME_LIMIT_S", 0.3)
    template = "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
    with pytest.raises(ConfigError, match=r"took longer than 0\.3 s"):
        render(template, {})
    recursive = "{% macro f(n) %}{{ f(n + 1) }}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"
    with pytest.raises(ConfigError, match="template failed to render"):
        render(recursive, {})


@pytest.mark.parametrize(
    ("template", "says"),
    [
        (
            "{% for i in range(99999) %}{{ 'x' | center(999) }}{% endfor %}",
            f"passed {MAX_CHARS:,} characters",
        ),
        (
            "{% set s = 'ab' %}{% for i in range(40) %}{% set s = s ~ s %}{% endfor %}",
            "a string would pass",
        ),
        ("{{ 'x'.repeat(10 ** 9) }}", "a string would pass"),
        ("{{ 'x' | center(10 ** 9) }}", "a string would pass"),
        ("{{ 'ab' | replace('', 'x'.padEnd(4000000)) }}", "a string would pass"),
        ("{{ range(10 ** 9) | length }}", "range.. would make an array of 1,000,000,000 items"),
        (
            "{% set l = [1] %}{% for i in range(30) %}{% set l = l.concat(l) %}{% endfor %}",
            "concat would make an array",
        ),
        ("{{ 'x' | indent(10 ** 8) }}{{ 'a\nb' | indent(10 ** 8) }}", "a string would pass"),
    ],
)
def test_a_template_that_grows_without_end_is_stopped(template: str, says: str) -> None:
    with pytest.raises(ConfigError, match=f"template failed to render: .*{says}"):
        render(template, {})


def test_env_is_the_process_environment_unless_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSLLM_TEMPLATE_PROBE", "from-process")
    assert render("{{ env.WSLLM_TEMPLATE_PROBE }}", {}) == "from-process"
    assert (
        render("{{ env.WSLLM_TEMPLATE_PROBE }}", {}, env={"WSLLM_TEMPLATE_PROBE": "given"})
        == "given"
    )
    assert (
        render("{{ env.WSLLM_TEMPLATE_PROBE }}", {"env": {"WSLLM_TEMPLATE_PROBE": "var"}}) == "var"
    )
    assert render("[{{ env.NOT_SET_ANYWHERE }}]", {}, env={}) == "[]"
    assert os.environ["WSLLM_TEMPLATE_PROBE"] == "from-process"


def test_globals_and_promptfoos_load_filter() -> None:
    assert render("{{ range(3) | join }}{{ range(1, 7, 2) | join(',') }}", {}) == "0121,3,5"
    cycle = "{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}"
    assert render(cycle, {}) == "aba"
    assert (
        render("{% set j = joiner('+') %}{% for i in [1, 2] %}{{ j() }}{{ i }}{% endfor %}", {})
        == "1+2"
    )
    assert render("{{ (text | load).items[1] }}", {"text": '{"items": [1, 2.0]}'}) == "2"


def test_a_template_renders_off_the_main_thread() -> None:
    found: list[str] = []
    worker = threading.Thread(
        target=lambda: found.append(render("{% for i in [1, 2] %}{{ i }}{% endfor %}", {}))
    )
    worker.start()
    worker.join()
    assert found == ["12"]


def test_the_tests_variables_are_not_changed() -> None:
    variables = {"items": [3, 1, 2], "obj": {"a": 1}}
    render("{{ items | sort | join }}{{ items | reverse | join }}{% set obj = 1 %}", variables)
    assert variables == {"items": [3, 1, 2], "obj": {"a": 1}}
