"""Wait: pauses the branch for a while, then passes the input on.

The sleep is the runtime's interruptible one, so Pause and Cancel take effect
at once instead of after the delay. The deadline is kept in the node's resume
state: a wait paused and resumed ends when it was due (at once if that time has
passed), rather than starting its whole delay again.
"""

from __future__ import annotations

import time
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
        until = ctx.state.setdefault("until", time.time() + ctx.config.seconds)
        # also for 0 s: a pending pause/cancel takes effect here
        await ctx.sleep(max(0.0, until - time.time()))
        return NodeResult.out(value)


SPEC = registry.register(WaitSpec())
