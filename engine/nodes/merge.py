"""Merge: waits until every connected input has arrived, then outputs them as one list.

The runtime collects the values (in the order the incoming connections are
listed in the file) and calls `run` once with that list.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from engine.errors import NodeError
from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, SyncNodeSpec


class MergeConfig(NodeConfig):
    mode: Literal["wait_all"] = Field(
        "wait_all", description="wait_all: wait for a value on every incoming connection."
    )


class MergeSpec(SyncNodeSpec):
    type = "merge"
    title = "Merge"
    category = "Flow"
    description = (
        "Waits for all incoming branches and outputs the list of their values, in connection order."
    )
    icon = "merge"
    config_model = MergeConfig
    pure = True
    kind = "merge"

    def run_now(self, ctx: NodeContext, value: Any) -> NodeResult:
        if not isinstance(value, list):
            raise NodeError(
                f"merge expects the list of arrived values from the runtime, got {type(value).__name__}"
            )
        return NodeResult.out(list(value))


SPEC = registry.register(MergeSpec())
