"""The quick path of expression evaluation: small, call-free expressions read straight
off their syntax tree, without the sandboxed evaluator.

Why: the evaluator (engine.expression_sandbox) re-checks every step - types, sizes,
costs, a deadline - and costs ~1.5 µs for `input.n + 1`; most expressions in a
workflow are that small. `quick` handles the trees `engine.expressions` marks as
quick when it vets them: at most `STEPS` evaluator steps (so the evaluator itself
would never look at the clock), only names, keys, literals, arithmetic, comparisons,
`and/or/not` and `x if c else y` - no calls, comprehensions, slices, `**` or built
lists and dicts. It gives the evaluator's value, or `MISSING` wherever the evaluator
would have anything to check or say (an error, a large number, a long text, a
value that is not JSON): the evaluator then runs the expression from the start,
so every error and every refusal is the evaluator's own. Only the default limits
are ever read quickly; the bounds below keep every value far inside them.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from engine.expression_sandbox import SCALARS

__all__ = ["BINARY", "COMPARE", "KINDS", "MISSING", "STEPS", "quick"]

MISSING: Any = object()
STEPS = 31  # the evaluator checks the clock at its 32nd step: never within a quick tree
_INT = 1 << 62  # integers read or computed: no operator can come near `max_int_bits`
_TEXT = 10_000  # characters `+` may join: 31 steps build far under `max_total_size`
_IN_TEXT = 100_000  # sizes `in` may search: far under `max_call_cost`
_IN_ITEMS = 100_000
_IN_PROBE = 100
_AS_IS = frozenset({str, int, bool, type(None), dict, list})

KINDS = frozenset(
    {
        ast.Constant, ast.Name, ast.Load, ast.Attribute, ast.Subscript, ast.BinOp, ast.UnaryOp,
        ast.BoolOp, ast.Compare, ast.IfExp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv,
        ast.Mod, ast.USub, ast.UAdd, ast.Not, ast.And, ast.Or, ast.Eq, ast.NotEq, ast.Lt,
        ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
    }
)  # fmt: skip


def _plain(value: Any) -> Any:
    """`value` if the evaluator takes it as it is (a JSON value), else MISSING."""
    kind = type(value)
    if kind in _AS_IS or (kind is float and math.isfinite(value)):
        return value
    return MISSING


def quick(node: Any, names: Mapping[str, Any]) -> Any:
    """The value of a quick tree over `names`, or MISSING (the evaluator decides)."""
    kind = type(node)
    if kind is ast.Constant:
        return node.value
    if kind is ast.Name:
        try:
            return _plain(names[node.id])
        except KeyError:
            return MISSING
    if kind is ast.BinOp:  # a literal operand read in line: `input.n + 1`
        a, b = node.left, node.right
        a = a.value if type(a) is ast.Constant else quick(a, names)
        if a is MISSING:
            return a
        b = b.value if type(b) is ast.Constant else quick(b, names)
        return b if b is MISSING else _BINARY[type(node.op)](a, b)
    if kind is ast.Attribute:
        obj = quick(node.value, names)
        return _plain(obj.get(node.attr, MISSING)) if type(obj) is dict else MISSING
    if kind is ast.Subscript:
        return _item(quick(node.value, names), quick(node.slice, names))
    if kind is ast.Compare:
        return _compare(node, names)
    if kind is ast.BoolOp:
        return _boolean(node, names)
    if kind is ast.IfExp:
        test = quick(node.test, names)
        if test is MISSING:
            return test
        return quick(node.body if test else node.orelse, names)
    if kind is ast.UnaryOp:
        a = quick(node.operand, names)
        if a is MISSING or type(node.op) is ast.Not:
            return a if a is MISSING else not a
        return (-a if type(node.op) is ast.USub else +a) if _number(a) else MISSING
    return MISSING


def _item(obj: Any, key: Any) -> Any:
    """`obj[key]` as the evaluator reads it (a dict by key, a list or string by index)."""
    if obj is MISSING or key is MISSING:
        return MISSING
    kind = type(obj)
    if kind is dict:
        try:
            return _plain(obj.get(key, MISSING))
        except TypeError:  # a key that cannot be a dict key: the evaluator words it
            return MISSING
    if (kind is list or kind is str) and type(key) in (int, bool) and -len(obj) <= key < len(obj):
        return _plain(obj[key])
    return MISSING


def _boolean(node: ast.BoolOp, names: Mapping[str, Any]) -> Any:
    value: Any = False
    if type(node.op) is ast.And:
        for item in node.values:
            value = quick(item, names)
            if value is MISSING or not value:
                return value
        return value
    for item in node.values:
        value = quick(item, names)
        if value is MISSING or value:
            return value
    return value


def _compare(node: ast.Compare, names: Mapping[str, Any]) -> Any:
    right = quick(node.left, names)
    if right is MISSING:
        return right
    result: Any = True
    for op, comparator in zip(node.ops, node.comparators, strict=True):
        if not result:
            break
        left = right
        right = quick(comparator, names)
        if right is MISSING:
            return right
        result = _COMPARE[type(op)](left, right)
        if result is MISSING:
            return result
    return result


def _number(x: Any) -> bool:
    kind = type(x)
    return kind is float or kind is bool or (kind is int and -_INT < x < _INT)


def _finite(x: Any) -> Any:
    return x if type(x) is not float or math.isfinite(x) else MISSING


def _arith(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def op(a: Any, b: Any) -> Any:
        if type(a) is int and type(b) is int and -_INT < a < _INT and -_INT < b < _INT:
            try:  # the common case: two integers, their result an integer
                return fn(a, b)
            except ArithmeticError:
                return MISSING
        if not (_number(a) and _number(b)):
            return MISSING
        try:
            return _finite(fn(a, b))
        except ArithmeticError:  # division by zero, a float too large
            return MISSING

    return op


def _add(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int and -_INT < a < _INT and -_INT < b < _INT:
        return a + b  # the most common step of all, in line
    if type(a) is str and type(b) is str:
        return a + b if len(a) + len(b) <= _TEXT else MISSING
    return _arith_add(a, b)


def _ordered(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def compare(a: Any, b: Any) -> Any:
        if type(a) not in SCALARS and type(b) not in SCALARS:  # priced by the evaluator
            return MISSING
        try:
            return fn(a, b)
        except Exception:  # `1 < "a"`: the evaluator words it
            return MISSING

    return compare


def _in(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta not in SCALARS:
        return MISSING
    if tb is dict:
        return a in b
    if tb is str:
        return a in b if ta is str and len(a) <= _IN_TEXT and len(b) <= _IN_TEXT else MISSING
    if tb is list and len(b) <= _IN_ITEMS and (ta is not str or len(a) <= _IN_PROBE):
        return a in b
    return MISSING


def _not_in(a: Any, b: Any) -> Any:
    found = _in(a, b)
    return found if found is MISSING else not found


_arith_add = _arith(operator.add)
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: _add, ast.Sub: _arith(operator.sub), ast.Mult: _arith(operator.mul),
    ast.Div: _arith(operator.truediv), ast.FloorDiv: _arith(operator.floordiv), ast.Mod: _arith(operator.mod),
}  # fmt: skip
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: _ordered(operator.eq), ast.NotEq: _ordered(operator.ne), ast.Lt: _ordered(operator.lt),
    ast.LtE: _ordered(operator.le), ast.Gt: _ordered(operator.gt), ast.GtE: _ordered(operator.ge),
    ast.In: _in, ast.NotIn: _not_in, ast.Is: operator.is_, ast.IsNot: operator.is_not,
}  # fmt: skip
BINARY, COMPARE = _BINARY, _COMPARE  # each operator's step, by its node type (`expression_front` folds with them)
