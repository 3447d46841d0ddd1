"""Aggregate: sums, counts, lists… over a list, optionally per group.

Without `group_by` the output is one object {field name: result}. With `group_by`
it is a list with one object per group, in the order groups first appear: the
group value under `group`, or, when the group value is an object (e.g.
'{{ {"country": item.country, "year": item.year} }}'), its keys spread into the
result, followed by the fields.

Operations (nulls are skipped by all but `list`, `first` and `last`):
count (items, or non-null values when `value` is set), sum, avg, min, max (JSON
order, see `engine.nodes.items.order_key`), list, first, last, concat (lists are
joined into one list, anything else into text with `separator`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.errors import NodeError
from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, SyncNodeSpec
from engine.nodes.items import PerItem, canonical, check_per_item, item_list, json_type, order_key

Op = Literal["count", "sum", "avg", "min", "max", "list", "first", "last", "concat"]


class AggregateField(BaseModel):
    model_config = ConfigDict(extra="forbid")

    op: Op = Field(description="count, sum, avg, min, max, list, first, last or concat.")
    value: str | None = Field(
        None,
        description="Expression over `item` giving the value to aggregate, e.g. '{{ item.total }}'. "
        "Needed by every operation but `count`.",
    )
    separator: str = Field(", ", description="Text put between values by `concat`.")

    @field_validator("value")
    @classmethod
    def _per_item(cls, v: str | None) -> str | None:
        return check_per_item(v, "value")


class AggregateConfig(NodeConfig):
    items: Any = Field(
        None, description="The list to aggregate (default: the node's input, i.e. '{{ input }}')."
    )
    group_by: str | None = Field(
        None,
        description="Expression over `item` giving its group, e.g. '{{ item.country }}'. "
        "Default: one group of all items.",
    )
    fields: dict[str, AggregateField] = Field(
        description="Output name -> {op, value}, e.g. {\"total\": {\"op\": \"sum\", \"value\": "
        "\"{{ item.amount }}\"}}."
    )

    @field_validator("group_by")
    @classmethod
    def _per_item(cls, v: str | None) -> str | None:
        return check_per_item(v, "group_by")

    @field_validator("fields")
    @classmethod
    def _values_set(cls, v: dict[str, AggregateField]) -> dict[str, AggregateField]:
        if not v:
            raise ValueError("at least one field is required")
        for name, f in v.items():
            if f.op != "count" and f.value is None:
                raise ValueError(f"{name}: `{f.op}` needs a `value` expression")
        return v


def _numbers(ctx: NodeContext, name: str, op: str, values: list[Any]) -> list[int | float]:
    out = []
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise NodeError(
                f"node {ctx.node.id!r}, config.fields.{name}: `{op}` needs numbers, got {json_type(v)} ({v!r:.60})"
            )
        out.append(v)
    return out


def _concat(values: list[Any], separator: str) -> Any:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, list) for v in present):
        return [x for v in present for x in v]
    return separator.join(v if isinstance(v, str) else canonical(v) for v in present)


def _reduce(ctx: NodeContext, name: str, spec: AggregateField, values: list[Any]) -> Any:
    op = spec.op
    if op == "count":
        return len(values) if spec.value is None else sum(v is not None for v in values)
    if op == "list":
        return list(values)
    if op == "first":
        return values[0] if values else None
    if op == "last":
        return values[-1] if values else None
    if op == "concat":
        return _concat(values, spec.separator)
    if op in ("min", "max"):
        present = [v for v in values if v is not None]
        if not present:
            return None
        return (min if op == "min" else max)(present, key=order_key)
    nums = _numbers(ctx, name, op, values)
    if op == "sum":
        return sum(nums)
    return sum(nums) / len(nums) if nums else None  # avg


class AggregateSpec(SyncNodeSpec):
    type = "aggregate"
    title = "Aggregate"
    category = "Data"
    description = (
        "Counts, sums, averages, lists… over a list, as one object or one object per group."
    )
    icon = "aggregate"
    config_model = AggregateConfig
    pure = True
    fields_not_rendered = ("group_by", "fields")
    item_fields = ("group_by", "fields")

    def run_now(self, ctx: NodeContext, value: Any) -> NodeResult:
        cfg: AggregateConfig = ctx.config
        items = item_list(ctx, cfg.items, value)
        exprs = {n: PerItem(ctx, f"fields.{n}.value", f.value) for n, f in cfg.fields.items() if f.value}
        group_of = PerItem(ctx, "group_by", cfg.group_by) if cfg.group_by else None
        groups: dict[str, tuple[Any, dict[str, list[Any]]]] = {}
        for index, item in enumerate(items):
            group = group_of(item, index) if group_of else None
            _, columns = groups.setdefault(canonical(group), (group, {n: [] for n in cfg.fields}))
            for n in cfg.fields:
                columns[n].append(exprs[n](item, index) if n in exprs else item)
        if group_of is None:
            columns = groups[canonical(None)][1] if groups else {n: [] for n in cfg.fields}
            return NodeResult.out(self._row(ctx, cfg, columns))
        return NodeResult.out([self._grouped(ctx, cfg, g, cols) for g, cols in groups.values()])

    def _row(self, ctx: NodeContext, cfg: AggregateConfig, columns: dict[str, list[Any]]) -> dict[str, Any]:
        return {n: _reduce(ctx, n, f, columns[n]) for n, f in cfg.fields.items()}

    def _grouped(self, ctx: NodeContext, cfg: AggregateConfig, group: Any, columns: dict[str, list[Any]]) -> dict[str, Any]:
        head = dict(group) if isinstance(group, dict) else {"group": group}
        clash = sorted(set(head) & set(cfg.fields))
        if clash:
            raise NodeError(
                f"node {ctx.node.id!r}, config.fields: {', '.join(clash)} is also a group key; rename the field"
            )
        return {**head, **self._row(ctx, cfg, columns)}


SPEC = registry.register(AggregateSpec())
