"""No operation: passes its input on unchanged (a named junction or placeholder)."""

from __future__ import annotations

from typing import Any

from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, SyncNodeSpec


class NoOpSpec(SyncNodeSpec):
    type = "no_op"
    title = "No operation"
    category = "Flow"
    description = "Passes its input on unchanged: a named junction, or a placeholder."
    icon = "no_op"
    config_model = NodeConfig
    pure = True

    def run_now(self, ctx: NodeContext, value: Any) -> NodeResult:
        return NodeResult.out(value)


SPEC = registry.register(NoOpSpec())
