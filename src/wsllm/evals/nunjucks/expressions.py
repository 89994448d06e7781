"""Expressions compiled to closures over the render state.

Nunjucks prints each operator node as JavaScript without parentheses, so JavaScript's own
precedence regroups chains of operators: `not a == b` is `(!a) == b`, `"x" ~ 1 + 2` is "x12"
and `a + b - c` is `(a + b) - c`. `_regroup` rebuilds that reading before compiling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from wsllm.errors import ConfigError
from wsllm.evals.nunjucks import nodes as n
from wsllm.evals.nunjucks import operators as op
from wsllm.evals.nunjucks.callables import call
from wsllm.evals.nunjucks.filters import FILTERS
from wsllm.evals.nunjucks.jsregex import JsRegExp
from wsllm.evals.nunjucks.members import member
from wsllm.evals.nunjucks.predicates import run_test
from wsllm.evals.nunjucks.runtime import Body, Expression, Frame, MacroFunction, RenderState
from wsllm.evals.nunjucks.values import UNDEFINED, JsArray, KwArgs, to_str, truthy


class Bodies(Protocol):
    """What the statement compiler lends to expressions: bodies for captures and callers."""

    def capture(self, body: list[n.Node]) -> Body: ...

    def macro(self, macro: n.Macro) -> tuple[list[tuple[str, Expression]], Body]: ...

    def note_filter(self, name: str) -> None: ...

    def note_slow(self) -> None: ...


def syntax_error(node: n.Node, message: str) -> ConfigError:
    return ConfigError(f"template syntax error on line {node.line}: {message}")


def compile_expression(node: n.Node, bodies: Bodies) -> Expression:
    """A closure computing the value of `node`."""
    if isinstance(node, n.Binary) and node.operator not in ("//", "**"):
        return _regrouped(node, bodies)
    if isinstance(node, n.Compare | n.Unary):
        return _regrouped(node, bodies)
    compile_kind = _COMPILERS.get(type(node))
    if compile_kind is None:
        raise syntax_error(node, f"unexpected {type(node).__name__}")
    return compile_kind(node, bodies)


def _literal(node: n.Literal, bodies: Bodies) -> Expression:
    value = node.value
    if isinstance(value, JsRegExp):
        bodies.note_slow()  # a pattern may backtrack for a long time
    return lambda rt: value


def _symbol(node: n.Symbol, bodies: Bodies) -> Expression:
    name = node.name

    def lookup(rt: RenderState) -> Any:
        frame: Frame | None = rt.frame
        while frame is not None:
            value = frame.vars.get(name, UNDEFINED)
            if value is not UNDEFINED:
                return value
            frame = frame.parent
        return rt.context_lookup(name)

    return lookup


def _group(node: n.Group, bodies: Bodies) -> Expression:
    if not node.items:
        raise syntax_error(node, "unexpected token: )")
    items = [compile_expression(item, bodies) for item in node.items]
    if len(items) == 1:
        return items[0]

    def comma(rt: RenderState) -> Any:
        value = UNDEFINED
        for item in items:
            value = item(rt)
        return value

    return comma


def _array(node: n.ArrayLiteral, bodies: Bodies) -> Expression:
    items = [compile_expression(item, bodies) for item in node.items]
    return lambda rt: JsArray([item(rt) for item in items])


def key_name(key: n.Node) -> str:
    """A dict literal's or keyword argument's key: a name or a string."""
    if isinstance(key, n.Symbol):
        return key.name
    if isinstance(key, n.Literal) and type(key.value) is str:
        return key.value
    raise syntax_error(key, "Dict keys must be strings or names")


def _dict(node: n.DictLiteral, bodies: Bodies) -> Expression:
    pairs = [(key_name(k), compile_expression(v, bodies)) for k, v in node.pairs]
    return lambda rt: {key: value(rt) for key, value in pairs}


def _lookup(node: n.Lookup, bodies: Bodies) -> Expression:
    target = compile_expression(node.target, bodies)
    if isinstance(node.key, n.Literal):
        key = node.key.value
        return lambda rt: member(target(rt), key)
    index = compile_expression(node.key, bodies)
    return lambda rt: member(target(rt), index(rt))


def _node_name(node: n.Node) -> str:
    """How Nunjucks names a callee in its errors: `user["greet"]`, `the return value of (f)`."""
    if isinstance(node, n.Symbol):
        return node.name
    if isinstance(node, n.Call):
        return f"the return value of ({_node_name(node.callee)})"
    if isinstance(node, n.Lookup):
        return f'{_node_name(node.target)}["{_node_name(node.key)}"]'
    if isinstance(node, n.Literal):
        return to_str(node.value)
    return "--expression--"


def _keywords(pairs: list[tuple[n.Node, n.Node]], bodies: Bodies) -> list[tuple[str, Expression]]:
    return [(key_name(k), compile_expression(v, bodies)) for k, v in pairs]


def _call(node: n.Call, bodies: Bodies) -> Expression:
    bodies.note_slow()  # a method such as repeat() or match() may take long on long text
    callee = compile_expression(node.callee, bodies)
    args = [compile_expression(arg, bodies) for arg in node.args]
    kwargs = _keywords(node.kwargs, bodies)
    name, line = _node_name(node.callee), node.line

    def run(rt: RenderState) -> Any:
        rt.line = line
        function = callee(rt)
        values = [arg(rt) for arg in args]
        named = {key: value(rt) for key, value in kwargs} if kwargs else None
        return call(function, name, values, named)

    return run


def _filter(node: n.FilterCall, bodies: Bodies) -> Expression:
    name = node.name
    bodies.note_filter(name)
    args = [compile_expression(arg, bodies) for arg in node.args]
    kwargs = _keywords(node.kwargs, bodies)
    builtin = FILTERS.get(name)

    def run(rt: RenderState) -> Any:
        custom = rt.filters.get(name) if rt.filters else None
        if custom is None and builtin is None:
            raise ConfigError(f"filter not found: {name}")
        values = [arg(rt) for arg in args]
        named = {key: value(rt) for key, value in kwargs} if kwargs else None
        if custom is not None:
            values = [None if v is UNDEFINED else v for v in values]
            return custom(*values, **(named or {}))
        assert builtin is not None
        return builtin.apply(values, named)

    return run


def _inline_if(node: n.InlineIf, bodies: Bodies) -> Expression:
    cond = compile_expression(node.cond, bodies)
    body = compile_expression(node.body, bodies)
    otherwise = compile_expression(node.otherwise, bodies) if node.otherwise else None
    if otherwise is None:
        return lambda rt: body(rt) if truthy(cond(rt)) else ""
    return lambda rt: body(rt) if truthy(cond(rt)) else otherwise(rt)


def _in(node: n.In, bodies: Bodies) -> Expression:
    left = compile_expression(node.left, bodies)
    right = compile_expression(node.right, bodies)
    return lambda rt: op.contains(left(rt), right(rt))


def _is(node: n.Is, bodies: Bodies) -> Expression:
    """`left is name` or `left is name(arg)`; as in Nunjucks, a test that is not a plain name
    or call looks up the test "undefined"."""
    test = node.test
    arguments: list[n.Node] = []
    keywords = False
    if isinstance(test, n.Call):
        name = _test_name(test.callee)
        keywords = bool(test.kwargs) and not test.args
        arguments = test.args + [n.DictLiteral(test.line, test.kwargs)] * bool(test.kwargs)
    else:
        name = _test_name(test)
    if len(arguments) > 1:
        raise syntax_error(node, "a test takes one argument")
    left = compile_expression(node.left, bodies)
    argument = compile_expression(arguments[0], bodies) if arguments else None

    def run(rt: RenderState) -> bool:
        value = argument(rt) if argument else UNDEFINED
        return run_test(name, left(rt), KwArgs(value) if keywords else value)

    return run


def _test_name(node: n.Node) -> str:
    if isinstance(node, n.Symbol):
        return node.name
    return to_str(node.value) if isinstance(node, n.Literal) else "undefined"


def _capture(node: n.Capture, bodies: Bodies) -> Expression:
    body = bodies.capture(node.body)

    def run(rt: RenderState) -> str:
        out: list[str] = []
        body(rt, out)
        return "".join(out)

    return run


def _caller(node: n.Macro, bodies: Bodies) -> Expression:
    defaults, body = bodies.macro(node)
    params = node.params
    return lambda rt: MacroFunction(rt, params, defaults, body, keeps_frame=True)


def _binary_atom(node: n.Binary, bodies: Bodies) -> Expression:
    left = compile_expression(node.left, bodies)
    right = compile_expression(node.right, bodies)
    apply = op.floor_divide if node.operator == "//" else op.power
    return lambda rt: apply(left(rt), right(rt))


_COMPILERS: dict[type, Callable[[Any, Bodies], Expression]] = {
    n.Literal: _literal, n.Symbol: _symbol, n.Group: _group, n.ArrayLiteral: _array,
    n.DictLiteral: _dict, n.Lookup: _lookup, n.Call: _call, n.FilterCall: _filter,
    n.InlineIf: _inline_if, n.In: _in, n.Is: _is, n.Capture: _capture, n.Macro: _caller,
    n.Binary: _binary_atom,
}  # fmt: skip


# Operator chains, regrouped by JavaScript's precedence.

_PRECEDENCE = {
    "||": 1, "&&": 2, "==": 3, "!=": 3, "===": 3, "!==": 3,
    "<": 4, ">": 4, "<=": 4, ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6,
}  # fmt: skip
_FLAT = {"+", "-", "*", "/", "%", "~", "and", "or"}
_SPELLING = {"and": "&&", "or": "||", "not": "!"}
Item = tuple[str, Any]


def _flatten(node: n.Node, out: list[Item]) -> None:
    """The operator chain as Nunjucks writes it out: operands, infix and prefix operators."""
    if isinstance(node, n.Binary) and node.operator in _FLAT:
        _flatten(node.left, out)
        if node.operator == "~":  # compiled as `left + "" + right`
            out.extend((("infix", "+"), ("operand", n.Literal(node.line, "")), ("infix", "+")))
        else:
            out.append(("infix", _SPELLING.get(node.operator, node.operator)))
        _flatten(node.right, out)
    elif isinstance(node, n.Compare):
        _flatten(node.first, out)
        for operator, operand in node.rest:
            out.append(("infix", operator))
            _flatten(operand, out)
    elif isinstance(node, n.Unary):
        out.append(("prefix", _SPELLING.get(node.operator, node.operator)))
        _flatten(node.target, out)
    else:
        out.append(("operand", node))


def _regroup(items: list[Item], position: int, floor: int, line: int) -> tuple[Any, int]:
    """Precedence climbing over the flat chain: (tree, next position)."""
    left, position = _prefixed(items, position, line)
    while position < len(items) and _PRECEDENCE[items[position][1]] >= floor:
        operator = items[position][1]
        right, position = _regroup(items, position + 1, _PRECEDENCE[operator] + 1, line)
        left = ("infix", operator, left, right)
    return left, position


def _prefixed(items: list[Item], position: int, line: int) -> tuple[Any, int]:
    kind, value = items[position]
    if kind != "prefix":
        return ("operand", value), position + 1
    following = items[position + 1]
    if value in "+-" and following == ("prefix", value):
        raise ConfigError(
            f"template syntax error on line {line}: "
            "Invalid left-hand side expression in prefix operation"
        )
    operand, position = _prefixed(items, position + 1, line)
    return ("prefix", value, operand), position


def _regrouped(node: n.Node, bodies: Bodies) -> Expression:
    items: list[Item] = []
    _flatten(node, items)
    tree, _ = _regroup(items, 0, 1, node.line)
    return _compile_tree(tree, bodies)


_INFIX: dict[str, Callable[[Any, Any], Any]] = {
    "+": op.add, "-": op.subtract, "*": op.multiply, "/": op.divide, "%": op.remainder,
    "==": op.loose_equal, "!=": lambda a, b: not op.loose_equal(a, b),
    "===": op.strict_equal, "!==": lambda a, b: not op.strict_equal(a, b),
    "<": op.less, ">": lambda a, b: op.less(b, a), "<=": op.less_or_equal,
    ">=": lambda a, b: op.less_or_equal(b, a),
}  # fmt: skip
_PREFIX: dict[str, Callable[[Any], Any]] = {
    "!": lambda v: not truthy(v), "-": op.negate, "+": op.plus,
}  # fmt: skip


def _compile_tree(tree: Any, bodies: Bodies) -> Expression:
    if tree[0] == "operand":
        return compile_expression(tree[1], bodies)
    if tree[0] == "prefix":
        operand, apply_prefix = _compile_tree(tree[2], bodies), _PREFIX[tree[1]]
        return lambda rt: apply_prefix(operand(rt))
    operator = tree[1]
    left, right = _compile_tree(tree[2], bodies), _compile_tree(tree[3], bodies)
    if operator == "&&":
        return lambda rt: right(rt) if truthy(value := left(rt)) else value
    if operator == "||":
        return lambda rt: value if truthy(value := left(rt)) else right(rt)
    apply = _INFIX[operator]
    return lambda rt: apply(left(rt), right(rt))
