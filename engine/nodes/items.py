"""Helpers for the list nodes (filter, sort, limit, remove_duplicates, aggregate).

Why this module: those nodes evaluate one config field once per item, with the
names `item` (the element) and `index` (its position, from 0) added to the usual
expression names. The runtime leaves such fields as text (`fields_not_rendered`)
and the node evaluates them here through `NodeContext.evaluate`, so the same
sandboxed evaluator, limits and names apply as everywhere else. An error names the
node, the config field and the item index. Registers no node type.
"""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

from engine import expressions
from engine.errors import ExpressionError, NodeError
from engine.nodes.base import NodeContext


def json_type(v: Any) -> str:
    """'null', 'a boolean', 'a number', 'a string', 'a list', 'an object' for messages."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def item_list(ctx: NodeContext, items: Any, value: Any, field: str = "items") -> list[Any]:
    """The list to work on: the rendered `items`, or the node's input when `items` is unset."""
    got = value if items is None else items
    if isinstance(got, list):
        return got
    where = f"config.{field}" if items is not None else "the input (config.items is not set)"
    hint = ""
    if isinstance(got, str) and items is not None:
        hint = " (an expression that renders to text? make the whole field one {{ }})"
    elif isinstance(got, dict):
        hint = " (point config.items at the list inside it, e.g. '{{ input.body.items }}')"
    raise NodeError(f"node {ctx.node.id!r}, {where}: expected a list, got {json_type(got)}{hint}")


# the field's own type (`str` or `str | None`) passes through the validator unchanged
_Text = TypeVar("_Text", str, str | None)


def check_per_item(v: _Text, field: str) -> _Text:
    """Schema check for a per-item field: it must hold at least one `{{ }}` (else it is constant)."""
    if v is None:
        return v
    if not isinstance(v, str) or "{{" not in v:
        raise ValueError(f"{field} must be an expression over `item`, e.g. '{{{{ item.name }}}}'")
    return v


class PerItem:
    """One config field (text holding `{{ }}`) evaluated once per item.

    A field that is exactly one `{{ }}` keeps the value's type; otherwise each
    expression is put into the text, as in any other field.
    """

    def __init__(self, ctx: NodeContext, field: str, template: str) -> None:
        self.ctx = ctx
        self.field = field
        spans = expressions.find_expressions(template)
        whole = len(spans) == 1 and not template[: spans[0][0]].strip() and not template[spans[0][1] :].strip()
        self._whole: str | None = spans[0][2] if whole else None
        parts: list[tuple[str, bool]] = []  # (literal text | expression, is_expression)
        last = 0
        for start, end, inner in spans:
            if start > last:
                parts.append((template[last:start], False))
            parts.append((f"str({inner})", True))
            last = end
        if last < len(template):
            parts.append((template[last:], False))
        self._parts = parts

    def __call__(self, item: Any, index: int) -> Any:
        names = {"item": item, "index": index}
        try:
            if self._whole is not None:
                return self.ctx.evaluate(self._whole, names)
            return "".join(self.ctx.evaluate(p, names) if is_expr else p for p, is_expr in self._parts)
        except ExpressionError as exc:
            raise ExpressionError(
                f"item {index}: {exc.message}",
                expression=exc.expression,
                node_id=self.ctx.node.id,
                field=f"config.{self.field}",
            ) from None


# --------------------------------------------------------------------------- ordering


_RANK = {type(None): 0, bool: 1, int: 2, float: 2, str: 3, list: 4, dict: 5}


def order_key(v: Any) -> tuple[Any, ...]:
    """A total order over JSON values: null < booleans < numbers < strings < lists < objects.

    Values of one type compare naturally (lists element by element, objects by their
    canonical JSON text), so a mixed list sorts without a TypeError.
    """
    rank = _RANK.get(type(v), 6)
    if rank == 4:
        return (rank, tuple(order_key(x) for x in v))
    if rank == 5:
        return (rank, canonical(v))
    if rank == 2 and isinstance(v, float) and math.isnan(v):
        return (rank, -math.inf)
    return (rank, v)


def canonical(v: Any) -> str:
    """The JSON text used to compare values for equality (sorted keys; 1.0 == 1)."""
    return json.dumps(_normalise(v), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _normalise(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, list):
        return [_normalise(x) for x in v]
    if isinstance(v, dict):
        return {k: _normalise(x) for k, x in v.items()}
    return v
