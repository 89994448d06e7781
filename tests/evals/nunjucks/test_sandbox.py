"""A template reaches data, never Python: attribute names, dunders and the classic Nunjucks
escapes through `constructor` all come to undefined, so reading them prints nothing and calling
them is an error."""

from __future__ import annotations

import pytest

from wsllm.errors import ConfigError
from wsllm.evals.templates import render

VARIABLES = {"text": "abc", "items": [1, 2], "obj": {"a": 1}, "number": 3}
READS = [
    "{{ ''.__class__ }}",
    "{{ text.__class__.__mro__ }}",
    "{{ items.__class__.__base__ }}",
    "{{ obj.__class__ }}",
    "{{ obj.__dict__ }}",
    "{{ obj.keys }}",
    "{{ obj.items }}",
    "{{ obj.get }}",
    "{{ obj['__class__'] }}",
    "{{ number.__class__ }}",
    "{{ number.real }}",
    "{{ text.format }}",
    "{{ text.encode }}",
    "{{ range.__globals__ }}",
    "{{ range.__code__ }}",
    "{{ range.constructor }}",
    "{{ cycler.__init__ }}",
    "{{ joiner().__closure__ }}",
    "{{ env.__class__ }}",
    "{{ env.copy }}",
    "{{ loop.__class__ }}",
    "{{ text.constructor }}",
    "{{ self }}{{ __builtins__ }}{{ globals }}{{ os }}{{ import }}",
    "{% for i in [1] %}{{ loop.__dict__ }}{% endfor %}",
    "{% macro m() %}{% endmacro %}{{ m.__globals__ }}{{ m.state }}{{ m.body }}",
    "{{ r/x/.pattern }}{{ r/x/.__class__ }}",
    "{{ (text | safe).__class__ }}",
]
CALLS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ range.constructor('return process')() }}",
    "{{ text.constructor.constructor('return this')() }}",
    "{{ obj.get('a') }}",
    "{{ obj.keys() }}",
    "{{ text.format(1) }}",
    "{{ cycler.__init__.__globals__['os'].system('true') }}",
    "{{ __import__('os') }}",
    "{{ getattr(text, 'upper')() }}",
    "{% macro m() %}{% endmacro %}{{ m.invoke([], none) }}",
]


@pytest.mark.parametrize("template", READS)
def test_python_internals_read_as_undefined(template: str) -> None:
    assert render(template, VARIABLES) == ""


@pytest.mark.parametrize("template", CALLS)
def test_calling_into_python_is_an_error(template: str) -> None:
    with pytest.raises(ConfigError, match="template failed to render: Unable to call"):
        render(template, VARIABLES)


def test_data_that_looks_like_python_is_just_data() -> None:
    variables = {"obj": {"__class__": "just a key", "items": [1, 2], "get": "G"}}
    assert render("{{ obj.__class__ }}|{{ obj.items | join }}|{{ obj.get }}", variables) == (
        "just a key|12|G"
    )
