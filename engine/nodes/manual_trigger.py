"""Manual trigger: the start of a workflow run by hand (toolbar Run, `processengine run`)."""

from __future__ import annotations

from typing import Any

from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, SyncNodeSpec


class ManualTriggerConfig(NodeConfig):
    """No settings: the run's inputs are the payload."""


class ManualTriggerSpec(SyncNodeSpec):
    type = "manual_trigger"
    title = "Manual trigger"
    category = "Triggers"
    description = (
        "Starts the workflow when you press Run; outputs the run's inputs ({} by default)."
    )
    icon = "play"
    config_model = ManualTriggerConfig
    is_trigger = True
    pure = True

    def run_now(self, ctx: NodeContext, value: Any) -> NodeResult:
        return NodeResult.out({} if value is None else value)


SPEC = registry.register(ManualTriggerSpec())
