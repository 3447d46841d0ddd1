"""Unsupported: a placeholder for an imported node that has no counterpart here.

It keeps the original type, version, parameters and credential names (never
secrets) so nothing of the source workflow is lost, shows on the canvas with
its own look, and makes `validate` fail naming it: a workflow with a
placeholder never runs by accident. Replace it with a node that does the work,
or remove it.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from engine.errors import NodeError
from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, NodeSpec


class UnsupportedConfig(NodeConfig):
    original_type: str = Field(description="The original node type, e.g. 'n8n-nodes-base.crypto'.")
    type_version: float | int | None = Field(None, description="The original typeVersion.")
    reason: str = Field("", description="Why it was not mapped.")
    parameters: dict[str, Any] = Field(default_factory=dict, description="The original parameters (read-only).")
    credentials: dict[str, Any] = Field(default_factory=dict, description="Credential names by kind (no secrets).")
    outputs: list[str] = Field(default_factory=lambda: ["out"], description="One port per original output.")


class UnsupportedSpec(NodeSpec):
    type = "unsupported"
    title = "Unsupported (imported)"
    category = "Data"
    description = "An imported node with no counterpart: keeps its original settings; replace or remove it."
    icon = "placeholder"
    config_model = UnsupportedConfig
    fields_not_rendered = ("parameters", "credentials", "reason")

    def base_output_ports(self, node: Any) -> list[str]:
        outs = node.config.get("outputs") if isinstance(node.config, dict) else None
        return [str(o) for o in outs if o != "error"] if isinstance(outs, list) and outs else ["out"]

    async def run(self, ctx: NodeContext, value: Any) -> NodeResult:
        raise NodeError(f"{ctx.config.original_type} is not supported here: replace this node", error_type="Unsupported")


def problem_message(config: dict[str, Any]) -> str:
    """What `validate` says about a placeholder."""
    version = config.get("type_version")
    where = str(config.get("original_type", "?")) + (f" v{version}" if version is not None else "")
    reason = config.get("reason") or "no counterpart"
    return f"unsupported node {where} ({reason}): replace it or remove it"


SPEC = registry.register(UnsupportedSpec())
