"""Wait: pauses the branch for a while, then passes the input on.

The sleep is the runtime's interruptible one, so Pause and Cancel take effect
at once instead of after the delay.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, NodeSpec


class WaitConfig(NodeConfig):
    seconds: float = Field(1.0, ge=0, description="How long to wait, in seconds.")


class WaitSpec(NodeSpec):
    type = "wait"
    title = "Wait"
    category = "Flow"
    description = (
        "Waits the given number of seconds (pause/cancel interrupt it), then passes its input on."
    )
    icon = "hourglass"
    config_model = WaitConfig

    async def run(self, ctx: NodeContext, value: Any) -> NodeResult:
        await ctx.sleep(
            ctx.config.seconds
        )  # also for 0 s: a pending pause/cancel takes effect here
        return NodeResult.out(value)


SPEC = registry.register(WaitSpec())
