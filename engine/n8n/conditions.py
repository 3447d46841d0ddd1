"""n8n conditions (If v1 / v2, Switch v3 rules, Filter) -> one Python boolean expression.

If v1 lists conditions by data type (`boolean`, `number`, `string`) with
`value1` / `operation` / `value2` and `combineOperation` all|any; v2 and later
(and Switch v3, Filter v2) use `conditions.conditions` with `leftValue`,
`rightValue`, `operator {type, operation}` and a `combinator` and|or. Both
become one expression such as `input.status == 'done' and len(input.items) > 0`.
"""

from __future__ import annotations

import contextlib
from typing import Any

from engine.n8n.translate import MapContext

__all__ = ["v1_condition", "v2_condition"]

_BINARY = {  # n8n operation -> Python template over {a} and {b}
    "equals": "{a} == {b}", "equal": "{a} == {b}", "notEquals": "{a} != {b}", "notEqual": "{a} != {b}",
    "gt": "{a} > {b}", "larger": "{a} > {b}", "after": "{a} > {b}",
    "lt": "{a} < {b}", "smaller": "{a} < {b}", "before": "{a} < {b}",
    "gte": "{a} >= {b}", "largerEqual": "{a} >= {b}", "afterOrEquals": "{a} >= {b}",
    "lte": "{a} <= {b}", "smallerEqual": "{a} <= {b}", "beforeOrEquals": "{a} <= {b}",
    "contains": "{b} in {a}", "notContains": "{b} not in {a}",
    "startsWith": "{a}.startswith({b})", "notStartsWith": "not {a}.startswith({b})",
    "endsWith": "{a}.endswith({b})", "notEndsWith": "not {a}.endswith({b})",
    "lengthEquals": "len({a}) == {b}", "lengthNotEquals": "len({a}) != {b}",
    "lengthGt": "len({a}) > {b}", "lengthLt": "len({a}) < {b}",
    "lengthGte": "len({a}) >= {b}", "lengthLte": "len({a}) <= {b}",
}  # fmt: skip

_UNARY = {
    "exists": "{a} is not None", "notExists": "{a} is None",
    "empty": "not {a}", "isEmpty": "not {a}", "notEmpty": "bool({a})", "isNotEmpty": "bool({a})",
    "true": "{a} is True", "false": "{a} is False",
}  # fmt: skip


class ConditionUnmapped(Exception):
    """A condition this importer cannot express (regex, unknown operation...)."""


def _operand(ctx: MapContext, value: Any, field: str, kind: str) -> str:
    if kind == "number" and isinstance(value, str) and not value.startswith("="):
        with contextlib.suppress(ValueError):
            value = float(value) if "." in value else int(value)
    got = ctx.inline(value, field)
    if got is None:
        raise ConditionUnmapped(f"{field}: expression not translated")
    return got


def _group(source: str) -> str:
    """Parentheses around a compound operand, so `x or y` compared to True stays one operand."""
    import ast

    try:
        node = ast.parse(source, mode="eval").body
    except SyntaxError:
        return f"({source})"
    simple = (ast.Name, ast.Attribute, ast.Subscript, ast.Constant, ast.Call, ast.List, ast.Dict)
    return source if isinstance(node, simple) else f"({source})"


def _one(ctx: MapContext, a: str, op: str, b: str | None, case_sensitive: bool, kind: str) -> str:
    a, b = _group(a), (None if b is None else _group(b))
    if op in _UNARY:
        return "(" + _UNARY[op].format(a=a) + ")"
    if op not in _BINARY or b is None:
        raise ConditionUnmapped(f"operation {op!r} has no counterpart")
    if kind == "string" and not case_sensitive:
        a, b = f"str({a}).lower()", f"str({b}).lower()"
    return "(" + _BINARY[op].format(a=a, b=b) + ")"


def _join(parts: list[str], combinator: str) -> str:
    if not parts:
        return "True"
    glue = " or " if combinator in ("or", "any") else " and "
    return parts[0] if len(parts) == 1 else glue.join(parts)


def v1_condition(ctx: MapContext, params: dict[str, Any], field: str = "parameters.conditions") -> str:
    """If v1: conditions grouped by data type; `combineOperation` all|any."""
    groups = params.get("conditions") or {}
    parts = []
    for kind in ("boolean", "number", "string", "dateTime"):
        for i, c in enumerate(groups.get(kind) or []):
            where = f"{field}.{kind}[{i}]"
            op = c.get("operation") or ("equal" if kind in ("boolean", "number", "string") else "after")
            a = _operand(ctx, c.get("value1", ""), f"{where}.value1", kind)
            b = None if op in _UNARY else _operand(ctx, c.get("value2", _v1_default(kind)), f"{where}.value2", kind)
            parts.append(_one(ctx, a, op, b, True, kind))
    return _join(parts, params.get("combineOperation", "all"))


def _v1_default(kind: str) -> Any:
    return {"boolean": False, "number": 0}.get(kind, "")


def v2_condition(ctx: MapContext, conditions: dict[str, Any], field: str = "parameters.conditions", *, loose: bool = False) -> str:
    """If v2+, Switch v3 rule, Filter v2: `conditions.conditions` + `combinator`.

    With loose type validation n8n converts the operands to the operator's type first
    (`"5" > 3` holds); the translation does the same with float() / str()."""
    options = conditions.get("options") or {}
    case_sensitive = options.get("caseSensitive", True)
    loose = loose or options.get("typeValidation") == "loose"
    parts = []
    for i, c in enumerate(conditions.get("conditions") or []):
        where = f"{field}.conditions[{i}]"
        operator = c.get("operator") or {}
        kind = operator.get("type", "string")
        op = operator.get("operation", "equals")
        a = _operand(ctx, c.get("leftValue", ""), f"{where}.leftValue", kind)
        unary = op in _UNARY or operator.get("singleValue")
        b = None if unary else _operand(ctx, c.get("rightValue", ""), f"{where}.rightValue", kind)
        if loose and kind in _CONVERT and op not in _UNARY:
            a, b = f"{_CONVERT[kind]}({a})", (None if b is None else f"{_CONVERT[kind]}({b})")
        parts.append(_one(ctx, a, op, b, case_sensitive, kind))
    return _join(parts, conditions.get("combinator", "and"))


_CONVERT = {"number": "float", "string": "str"}
