"""The tags: `{% if %}`, `{% for %}`, `{% set %}`, `{% macro %}`, `{% call %}`, `{% filter %}`,
`{% switch %}`, `{% block %}` and `{% raw %}`/`{% verbatim %}`, parsed as Nunjucks parses them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from wsllm.evals.nunjucks import nodes as n
from wsllm.evals.nunjucks.numbers import WHITESPACE

if TYPE_CHECKING:
    from wsllm.evals.nunjucks.parser import Parser

_SPACE = "[" + re.escape(WHITESPACE) + "]*"


def _raw_pattern(tag: str) -> re.Pattern[str]:
    return re.compile(f"([\\s\\S]*?){{%{_SPACE}({tag}|end{tag}){_SPACE}%}}")


_RAW = {"raw": _raw_pattern("raw"), "verbatim": _raw_pattern("verbatim")}


def parse_if(parser: Parser) -> n.Node:
    token = parser.next_token()
    assert token is not None
    cond = parser.parse_expression()
    parser.end_of_block(token.value)
    body = parser.parse_until("elif", "elseif", "else", "endif")
    following = parser.peek()
    tag = following.value if following is not None else None
    if tag in ("elif", "elseif"):
        return n.If(token.line + 1, cond, body, [parse_if(parser)])
    if tag == "else":
        parser.end_of_block()
        otherwise = parser.parse_until("endif")
        parser.end_of_block()
        return n.If(token.line + 1, cond, body, otherwise)
    if tag == "endif":
        parser.end_of_block()
        return n.If(token.line + 1, cond, body)
    return parser.fail("expected elif, else, or endif, got end of file")


def parse_for(parser: Parser) -> n.Node:
    token = parser.next_token()
    assert token is not None
    end = {"for": "endfor", "asyncEach": "endeach", "asyncAll": "endall"}[token.value]
    names = [_loop_name(parser)]
    while parser.skip("comma"):
        names.append(_loop_name(parser))
    if not parser.skip_symbol("in"):
        parser.fail('expected "in" keyword for loop', token)
    iterable = parser.parse_expression()
    parser.end_of_block(token.value)
    body = parser.parse_until(end, "else")
    otherwise = None
    if parser.skip_symbol("else"):
        parser.end_of_block("else")
        otherwise = parser.parse_until(end)
    parser.end_of_block()
    return n.For(token.line + 1, names, iterable, body, otherwise)


def _loop_name(parser: Parser) -> str:
    target = parser.parse_primary()
    if not isinstance(target, n.Symbol):
        parser.fail("variable name expected for loop")
    return target.name


def parse_set(parser: Parser) -> n.Node:
    token = parser.next_token()
    assert token is not None
    names: list[str] = []
    while True:
        target = parser.parse_primary()
        if not isinstance(target, n.Symbol):
            parser.fail("set: expected a variable name", token)
        names.append(target.name)
        if not parser.skip("comma"):
            break
    if parser.skip_value("operator", "="):
        value = parser.parse_expression()
        parser.end_of_block(token.value)
        return n.Set(token.line + 1, names, value)
    if not parser.skip("block-end"):
        parser.fail("expected = or block end in set tag", token)
    body = parser.parse_until("endset")
    parser.end_of_block()
    return n.Set(token.line + 1, names, n.Capture(token.line + 1, body))


def parse_macro(parser: Parser) -> n.Node:
    token = parser.next_token()
    assert token is not None
    name = parser.parse_primary(postfix=False)
    if not isinstance(name, n.Symbol):
        parser.fail("macro: expected a name", token)
    params, defaults = _parameters(parser, token.line + 1)
    parser.end_of_block(token.value)
    body = parser.parse_until("endmacro")
    parser.end_of_block()
    return n.MacroDefinition(
        token.line + 1, n.Macro(token.line + 1, name.name, params, defaults, body)
    )


def _parameters(
    parser: Parser, line: int, tolerant: bool = False
) -> tuple[list[str], list[tuple[str, n.Node]]]:
    args, kwargs = parser.parse_signature(tolerant)
    params: list[str] = []
    for arg in args:
        if not isinstance(arg, n.Symbol):
            parser.fail("macro arguments must be names")
        params.append(arg.name)
    defaults: list[tuple[str, n.Node]] = []
    for key, value in kwargs:
        if not isinstance(key, n.Symbol | n.Literal) or not isinstance(_key_name(key), str):
            parser.fail("macro keyword arguments must be names")
        defaults.append((str(_key_name(key)), value))
    return params, defaults


def _key_name(key: n.Node) -> object:
    return key.name if isinstance(key, n.Symbol) else getattr(key, "value", None)


def parse_call(parser: Parser) -> n.Node:
    token = parser.next_token()
    assert token is not None
    line = token.line + 1
    params, defaults = _parameters(parser, line, tolerant=True)
    call = parser.parse_primary()
    if not isinstance(call, n.Call):
        parser.fail("call: expected a macro call", token)
    parser.end_of_block(token.value)
    body = parser.parse_until("endcall")
    parser.end_of_block()
    caller = n.Macro(line, "caller", params, defaults, body)
    call.kwargs.append((n.Symbol(line, "caller"), caller))
    return n.Output(line, [call])


def parse_filter_block(parser: Parser) -> n.Node:
    token = parser.next_token()
    assert token is not None
    name = parser.parse_filter_name()
    args, kwargs = parser.parse_signature() if parser.peek_type() == "left-paren" else ([], [])
    parser.end_of_block(token.value)
    body = n.Capture(token.line + 1, parser.parse_until("endfilter"))
    parser.end_of_block()
    return n.Output(token.line + 1, [n.FilterCall(token.line + 1, name, [body, *args], kwargs)])


def parse_switch(parser: Parser) -> n.Node:
    """As Nunjucks reads it: a `default` met before any `case` is read as a case whose value
    is a variable named `default`."""
    token = parser.next_token()
    assert token is not None
    subject = parser.parse_expression()
    parser.end_of_block("switch")
    parser.parse_until("case", "default", "endswitch")
    cases: list[tuple[n.Node, list[n.Node]]] = []
    while True:
        parser.skip_symbol("case")
        cond = parser.parse_expression()
        parser.end_of_block("switch")
        cases.append((cond, parser.parse_until("case", "default", "endswitch")))
        following = parser.peek()
        if following is None or following.value != "case":
            break
    default = None
    if following is not None and following.value == "default":
        parser.end_of_block()
        default = parser.parse_until("endswitch")
        parser.end_of_block()
    elif following is not None and following.value == "endswitch":
        parser.end_of_block()
    else:
        parser.fail('expected "case", "default" or "endswitch", got end of file')
    return n.Switch(token.line + 1, subject, cases, default)


def parse_block(parser: Parser) -> n.Node:
    token = parser.next_token()
    assert token is not None
    name = parser.parse_primary()
    if not isinstance(name, n.Symbol):
        parser.fail("block: expected a name", token)
    parser.end_of_block(token.value)
    body = parser.parse_until("endblock")
    parser.skip_symbol("endblock")
    parser.skip_symbol(name.name)
    following = parser.peek()
    if following is None:
        parser.fail("expected endblock, got end of file")
    parser.end_of_block(str(following.value))
    return n.Block(token.line + 1, name.name, body)


def parse_raw(parser: Parser) -> n.Node:
    """Text up to the matching `{% endraw %}`, untouched (nested raw tags are counted)."""
    token = parser.peek()
    assert token is not None
    tag = token.value
    parser.end_of_block()
    pattern = _RAW[tag]
    level = 1
    text: list[str] = []
    while (found := parser.lexer.match_raw(pattern)) and level > 0:
        level += 1 if found.group(2) == tag else -1
        if level == 0:
            text.append(found.group(1))
            parser.lexer.move_to(found.start() + len(found.group(1)))
        else:
            text.append(found.group(0))
    return n.Output(token.line + 1, ["".join(text)])


RULES: dict[str, Callable[[Parser], n.Node]] = {
    "raw": parse_raw, "verbatim": parse_raw, "if": parse_if, "ifAsync": parse_if,
    "for": parse_for, "asyncEach": parse_for, "asyncAll": parse_for, "set": parse_set,
    "macro": parse_macro, "call": parse_call, "filter": parse_filter_block,
    "switch": parse_switch, "block": parse_block,
}  # fmt: skip
