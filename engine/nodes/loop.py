"""Loop over items: a for-each whose body is driven by the runtime.

`run` only checks and returns the item list; the runtime then sends each item
on `loop` (the body connects back to this node's `in`, with `loop.index` and
`loop.item` available to expressions) and finally the list of body results on
`done`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from engine.errors import NodeError
from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, SyncNodeSpec
from engine.nodes.items import json_type


class LoopConfig(NodeConfig):
    items: Any = Field(
        description="The list to iterate over, usually an expression like '{{ input.body.items }}'."
    )
    max_iterations: int = Field(
        1000, ge=1, description="Safety limit: a list longer than this fails the node."
    )


class LoopSpec(SyncNodeSpec):
    type = "loop"
    title = "Loop over items"
    category = "Flow"
    description = (
        "Runs the body (connected to `loop`) once per item, then outputs the list of body "
        "results on `done`."
    )
    icon = "repeat"
    config_model = LoopConfig
    pure = True
    kind = "loop"

    def base_output_ports(self, node: Any) -> list[str]:
        return ["loop", "done"]

    def run_now(self, ctx: NodeContext, value: Any) -> NodeResult:
        cfg: LoopConfig = ctx.config
        items = cfg.items
        if not isinstance(items, list):
            raise NodeError(
                f"config.items: expected a list, got {json_type(items)}"
                + (
                    " (an expression that renders to text? use a whole-field {{ }})"
                    if isinstance(items, str)
                    else ""
                )
            )
        if len(items) > cfg.max_iterations:
            raise NodeError(
                f"config.items: {len(items)} items exceed max_iterations ({cfg.max_iterations})"
            )
        return NodeResult({"items": list(items)})


SPEC = registry.register(LoopSpec())
