"""Sort: orders a list by a key over `item` (stable; mixed types never fail).

Values of different JSON types are ordered null < booleans < numbers < strings <
lists < objects (`engine.nodes.items.order_key`), so a list with a missing-as-null
field sorts instead of failing. Equal keys keep their input order, also reversed.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, SyncNodeSpec
from engine.nodes.items import PerItem, check_per_item, item_list, order_key


class SortConfig(NodeConfig):
    items: Any = Field(
        None, description="The list to sort (default: the node's input, i.e. '{{ input }}')."
    )
    key: str | None = Field(
        None,
        description="Expression over `item` (and `index`) giving the sort key, e.g. "
        "'{{ item.created_at }}' or '{{ [item.last, item.first] }}'. Default: the item itself.",
    )
    reverse: bool = Field(False, description="Largest first.")

    @field_validator("key")
    @classmethod
    def _per_item(cls, v: str | None) -> str | None:
        return check_per_item(v, "key")


class SortSpec(SyncNodeSpec):
    type = "sort"
    title = "Sort"
    category = "Data"
    description = "Sorts a list by a key over `item` (stable), optionally largest first."
    icon = "sort"
    config_model = SortConfig
    pure = True
    fields_not_rendered = ("key",)
    item_fields = ("key",)

    def run_now(self, ctx: NodeContext, value: Any) -> NodeResult:
        cfg: SortConfig = ctx.config
        items = item_list(ctx, cfg.items, value)
        if cfg.key is None:
            keys = [order_key(item) for item in items]
        else:
            key = PerItem(ctx, "key", cfg.key)
            keys = [order_key(key(item, index)) for index, item in enumerate(items)]
        order = sorted(range(len(items)), key=keys.__getitem__, reverse=cfg.reverse)
        return NodeResult.out([items[i] for i in order])


SPEC = registry.register(SortSpec())
