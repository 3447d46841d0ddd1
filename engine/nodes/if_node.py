"""If: sends its input on `true` or `false` depending on a condition."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, SyncNodeSpec


class IfConfig(NodeConfig):
    condition: Any = Field(
        description="Usually one expression, e.g. '{{ input.status == 200 }}'. The rendered "
        "value is read with Python truthiness: false, 0, '', null, [] and {} are false; any "
        "other value (also the text 'false') is true."
    )


class IfSpec(SyncNodeSpec):
    type = "if"
    title = "If"
    category = "Flow"
    description = "Routes its input to `true` or `false` by a condition."
    icon = "branch"
    config_model = IfConfig
    pure = True

    def base_output_ports(self, node: Any) -> list[str]:
        return ["true", "false"]

    def run_now(self, ctx: NodeContext, value: Any) -> NodeResult:
        return NodeResult.out(value, "true" if bool(ctx.config.condition) else "false")


SPEC = registry.register(IfSpec())
