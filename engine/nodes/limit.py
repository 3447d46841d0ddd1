"""Limit: keeps the first (or last) `count` items of a list."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, SyncNodeSpec
from engine.nodes.items import item_list


class LimitConfig(NodeConfig):
    items: Any = Field(
        None, description="The list to cut (default: the node's input, i.e. '{{ input }}')."
    )
    count: int = Field(ge=0, description="How many items to keep at most.")
    from_: Literal["start", "end"] = Field(
        "start", alias="from", description="Keep the first items (`start`) or the last (`end`)."
    )


class LimitSpec(SyncNodeSpec):
    type = "limit"
    title = "Limit"
    category = "Data"
    description = "Keeps at most `count` items of a list, from its start or its end."
    icon = "limit"
    config_model = LimitConfig
    pure = True

    def run_now(self, ctx: NodeContext, value: Any) -> NodeResult:
        cfg: LimitConfig = ctx.config
        items = item_list(ctx, cfg.items, value)
        if cfg.count == 0:
            return NodeResult.out([])
        kept = items[: cfg.count] if cfg.from_ == "start" else items[-cfg.count :]
        return NodeResult.out(list(kept))


SPEC = registry.register(LimitSpec())
