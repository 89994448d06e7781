"""`derivedMetrics`: named scores computed from a column's running named-score sums after each of
its results, as promptfoo does. Expressions are the arithmetic of mathjs (`+ - * / ^ %`,
parentheses, `abs`, `min`, `max`, `sqrt`, `round`, `floor`, `ceil`, `log`, `exp`), evaluated
without `eval`: anything else is refused when the config loads."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from wsllm.errors import ConfigError

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Pow: operator.pow, ast.Mod: math.fmod,
}  # fmt: skip
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "abs": abs, "min": min, "max": max, "sqrt": math.sqrt, "round": round, "floor": math.floor,
    "ceil": math.ceil, "log": math.log, "exp": math.exp, "pow": math.pow,
}  # fmt: skip


class Expression:
    """A compiled expression; `evaluate` raises KeyError for a name not (yet) in the scope."""

    def __init__(self, source: str) -> None:
        try:
            tree = ast.parse(source.replace("^", "**"), mode="eval")
        except SyntaxError as exc:
            raise ConfigError(f"not an arithmetic expression: {exc.msg}") from exc
        _check(tree.body)
        self._tree = tree.body

    def evaluate(self, scope: Mapping[str, float]) -> float:
        """The value with the names of `scope`."""
        return float(_value(self._tree, scope))


def _check(node: ast.AST) -> None:
    allowed = (ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Call, ast.Load,
               ast.operator, ast.unaryop)  # fmt: skip
    for part in ast.walk(node):
        if not isinstance(part, allowed):
            raise ConfigError(f"{type(part).__name__} is not allowed in a derived metric")
        if isinstance(part, ast.Constant) and not isinstance(part.value, int | float):
            raise ConfigError("only numbers are allowed as constants in a derived metric")
        if isinstance(part, ast.Call) and not (
            isinstance(part.func, ast.Name) and part.func.id in _FUNCTIONS and not part.keywords
        ):
            raise ConfigError(f"unknown function (known: {', '.join(_FUNCTIONS)})")


def _value(node: ast.AST, scope: Mapping[str, float]) -> float:
    if isinstance(node, ast.Constant):
        return float(node.value)  # type: ignore[arg-type]  # numbers only, checked at load
    if isinstance(node, ast.Name):
        return float(scope[node.id])
    if isinstance(node, ast.UnaryOp):
        inner = _value(node.operand, scope)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        return float(_FUNCTIONS[node.func.id](*(_value(a, scope) for a in node.args)))
    assert isinstance(node, ast.BinOp)
    left, right = _value(node.left, scope), _value(node.right, scope)
    if isinstance(node.op, ast.Div):
        return _divide(left, right)
    operation = _BINARY.get(type(node.op))
    if operation is None:
        raise ConfigError(f"{type(node.op).__name__} is not allowed in a derived metric")
    return operation(left, right)


def _divide(left: float, right: float) -> float:
    if right == 0:  # mathjs, like JavaScript: x/0 is Infinity, 0/0 is NaN
        return math.nan if left == 0 else math.copysign(math.inf, left)
    return left / right


def derive(metrics: list[Any], sums: dict[str, float], count: int) -> dict[str, float]:
    """The derived metrics after one more result: each sees the sums, `__count`, and the
    metrics derived before it; one that cannot be computed yet keeps its last value (0)."""
    scope: dict[str, float] = {**sums, "__count": float(count)}
    found: dict[str, float] = {}
    for metric in metrics:
        try:
            value = float(metric.function(dict(scope), {}))
        except Exception:  # a name not yet seen in this column: promptfoo keeps the old value
            continue
        found[metric.name] = value
        scope[metric.name] = value
    return found


def run_derived(metrics: list[Any], results: list[Any]) -> dict[int, dict[str, float]]:
    """Each column's derived metrics after its last result (0 until they can be computed)."""
    if not metrics:
        return {}
    sums: dict[int, dict[str, float]] = {}
    counts: dict[int, int] = {}
    for result in results:
        column = sums.setdefault(result.column, {})
        counts[result.column] = counts.get(result.column, 0) + 1
        for name, score in (result.grading.named_scores if result.grading else {}).items():
            column[name] = column.get(name, 0.0) + score
    return {
        c: {m.name: 0.0 for m in metrics} | derive(metrics, column, counts[c])
        for c, column in sums.items()
    }
