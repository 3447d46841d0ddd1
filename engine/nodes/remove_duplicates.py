"""Remove duplicates: keeps the first item of every distinct key, in input order.

Keys are compared as canonical JSON (object key order does not matter, 1.0 equals
1, `true` does not equal 1), so two objects with the same fields are duplicates.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, SyncNodeSpec
from engine.nodes.items import PerItem, canonical, check_per_item, item_list


class RemoveDuplicatesConfig(NodeConfig):
    items: Any = Field(
        None, description="The list to clean (default: the node's input, i.e. '{{ input }}')."
    )
    key: str | None = Field(
        None,
        description="Expression over `item` naming what makes two items the same, e.g. "
        "'{{ item.email.lower() }}'. Default: the whole item.",
    )

    @field_validator("key")
    @classmethod
    def _per_item(cls, v: str | None) -> str | None:
        return check_per_item(v, "key")


class RemoveDuplicatesSpec(SyncNodeSpec):
    type = "remove_duplicates"
    title = "Remove duplicates"
    category = "Data"
    description = "Keeps the first item of each distinct key (default: the whole item)."
    icon = "dedupe"
    config_model = RemoveDuplicatesConfig
    pure = True
    fields_not_rendered = ("key",)
    item_fields = ("key",)

    def run_now(self, ctx: NodeContext, value: Any) -> NodeResult:
        cfg: RemoveDuplicatesConfig = ctx.config
        items = item_list(ctx, cfg.items, value)
        key = PerItem(ctx, "key", cfg.key) if cfg.key is not None else None
        seen: set[str] = set()
        kept: list[Any] = []
        for index, item in enumerate(items):
            k = canonical(item if key is None else key(item, index))
            if k not in seen:
                seen.add(k)
                kept.append(item)
        return NodeResult.out(kept)


SPEC = registry.register(RemoveDuplicatesSpec())
