"""Filter: keeps the items of a list for which a condition over `item` holds.

Kept items leave on `out` (always, possibly an empty list, so what follows sees
the result); dropped items leave on `discarded` only when at least one item was
dropped, so a branch that handles rejects does not run for nothing (its nodes
count as skipped).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, SyncNodeSpec
from engine.nodes.items import PerItem, check_per_item, item_list


class FilterConfig(NodeConfig):
    items: Any = Field(
        None, description="The list to filter (default: the node's input, i.e. '{{ input }}')."
    )
    condition: str = Field(
        description="Expression over `item` (and `index`), e.g. '{{ item.total > 100 }}'. "
        "Read with Python truthiness, like the If node."
    )

    @field_validator("condition")
    @classmethod
    def _per_item(cls, v: str) -> str:
        return check_per_item(v, "condition")


class FilterSpec(SyncNodeSpec):
    type = "filter"
    title = "Filter"
    category = "Data"
    description = (
        "Keeps the items of a list for which a condition over `item` holds (on `out`); "
        "the others go to `discarded`."
    )
    icon = "filter"
    config_model = FilterConfig
    pure = True
    fields_not_rendered = ("condition",)
    item_fields = ("condition",)

    def base_output_ports(self, node: Any) -> list[str]:
        return ["out", "discarded"]

    def run_now(self, ctx: NodeContext, value: Any) -> NodeResult:
        cfg: FilterConfig = ctx.config
        condition = PerItem(ctx, "condition", cfg.condition)
        kept: list[Any] = []
        dropped: list[Any] = []
        for index, item in enumerate(item_list(ctx, cfg.items, value)):
            (kept if condition(item, index) else dropped).append(item)
        outputs: dict[str, Any] = {"out": kept}
        if dropped:
            outputs["discarded"] = dropped
        return NodeResult(outputs)


SPEC = registry.register(FilterSpec())
