"""Filter and mask expressions from the runner file, evaluated safely on awkward arrays.

The reference tool ran ``eval`` on these strings. Here they are parsed with :mod:`ast` and only
a small grammar is allowed: names and attributes (fields), numbers, comparisons (chained too),
``& | ^ ~``, ``and or not`` (as element-wise), arithmetic and ``abs``. Anything else, or a
field that does not exist, raises :class:`ExpressionError` naming the expression.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

from include.core.errors import ConfigError

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_FUNCS: dict[str, Callable[[Any], Any]] = {"abs": abs}


class ExpressionError(ConfigError):
    """An expression is not valid or refers to an unknown field."""

    def __init__(self, expression: str, problem: str, where: str = "") -> None:
        label = f"{where} " if where else ""
        super().__init__(f"{label}expression {expression!r}: {problem}")
        self.expression = expression


def parse(expression: str, where: str = "") -> ast.Expression:
    """Parse and check the grammar of ``expression`` (no evaluation)."""
    if not isinstance(expression, str) or not expression.strip():
        raise ExpressionError(str(expression), "must be a non-empty string", where)
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(expression, f"syntax error ({exc.msg})", where) from exc
    for node in ast.walk(tree):
        allowed = (
            ast.Expression,
            ast.BoolOp,
            ast.BinOp,
            ast.UnaryOp,
            ast.Compare,
            ast.Name,
            ast.Attribute,
            ast.Constant,
            ast.Call,
            ast.Load,
            ast.And,
            ast.Or,
            ast.Not,
            ast.Invert,
            ast.USub,
            ast.UAdd,
            *_BINOPS,
            *_CMPOPS,
        )
        if not isinstance(node, allowed):
            raise ExpressionError(expression, f"{type(node).__name__} is not allowed", where)
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float | bool):
            raise ExpressionError(expression, f"constant {node.value!r} is not a number", where)
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in _FUNCS and len(node.args) == 1 and not node.keywords
        ):
            raise ExpressionError(expression, f"only {', '.join(_FUNCS)}(x) calls are allowed", where)
    return tree


def identifiers(expression: str) -> set[str]:
    """Every name and attribute the expression mentions (used to decide which branches to read)."""
    found = set()
    for node in ast.walk(parse(expression)):
        if isinstance(node, ast.Name) and node.id not in _FUNCS:
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
    return found


def _fields(value: Any) -> list[str]:
    fields = getattr(value, "fields", None)
    if fields is None and isinstance(value, Mapping):
        fields = list(value)
    return list(fields or [])


def _field(value: Any, name: str, expression: str, where: str) -> Any:
    fields = _fields(value)
    if name not in fields:
        known = ", ".join(sorted(fields)[:40])
        raise ExpressionError(expression, f"unknown field {name!r} (known: {known})", where)
    return value[name]


def evaluate(expression: str, scope: Any, where: str = "") -> Any:
    """Evaluate ``expression``; bare names are looked up as fields of ``scope``."""
    tree = parse(expression, where)

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return _field(scope, node.id, expression, where)
        if isinstance(node, ast.Attribute):
            return _field(ev(node.value), node.attr, expression, where)
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp):
            operand = ev(node.operand)
            if isinstance(node.op, ast.Invert | ast.Not):
                return ~operand
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BoolOp):
            values = [ev(v) for v in node.values]
            combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
            result = values[0]
            for value in values[1:]:
                result = combine(result, value)
            return result
        if isinstance(node, ast.Compare):
            left, result = ev(node.left), None
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = ev(comparator)
                part = _CMPOPS[type(op)](left, right)
                result = part if result is None else result & part
                left = right
            return result
        if isinstance(node, ast.Call):
            return _FUNCS[node.func.id](ev(node.args[0]))  # type: ignore[attr-defined]
        raise ExpressionError(expression, f"{type(node).__name__} is not allowed", where)  # pragma: no cover

    return ev(tree)
