"""Set fields: outputs new values (each usually an expression), optionally over the input."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, SyncNodeSpec


class SetConfig(NodeConfig):
    values: dict[str, Any] = Field(
        default_factory=dict,
        description="Key -> value (any JSON, or an expression such as '{{ input.id }}').",
    )
    keep_input: bool = Field(
        False,
        description="Merge the values over the input object (a shallow merge) instead of "
        "outputting the values alone. Ignored when the input is not an object.",
    )


class SetSpec(SyncNodeSpec):
    type = "set"
    title = "Set fields"
    category = "Data"
    description = "Outputs an object of new values, merged over the input when `keep_input` is on."
    icon = "edit"
    config_model = SetConfig
    pure = True

    def run_now(self, ctx: NodeContext, value: Any) -> NodeResult:
        cfg: SetConfig = ctx.config
        if cfg.keep_input and isinstance(value, dict):
            return NodeResult({"out": {**value, **cfg.values}})
        return NodeResult({"out": dict(cfg.values)})  # a copy: a config without expressions is shared by runs


SPEC = registry.register(SetSpec())
