"""Sub-workflow call: runs another workflow as a child thread and outputs its result.

The runtime loads the child (`load_workflow`) and runs it on a stack of its own
(`run_sub_workflow`); the child's final output becomes this node's output.
The node counts as having side effects because the child may have them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationInfo, model_validator

from engine.errors import EngineError, NodeError
from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, NodeSpec
from engine.nodes.common import deferred_keys


class SubWorkflowConfig(NodeConfig):
    file: str | None = Field(
        None, description="Path of the workflow file to run, relative to this workflow's file."
    )
    workflow_id: str | None = Field(
        None, description="Id of a saved workflow to run (instead of `file`)."
    )
    inputs: Any = Field(
        None,
        description="The value the child's trigger receives (any JSON). When the key is left "
        "out the node's input is passed.",
    )

    @model_validator(mode="after")
    def _exactly_one(self, info: ValidationInfo) -> SubWorkflowConfig:
        if deferred_keys(info) & {"file", "workflow_id"}:
            return self  # an expression: checked once rendered
        if (self.file is None) == (self.workflow_id is None):
            raise ValueError("set exactly one of `file` or `workflow_id`")
        return self


class SubWorkflowSpec(NodeSpec):
    type = "sub_workflow"
    title = "Sub-workflow"
    category = "Flow"
    description = (
        "Runs another workflow (by file or id) with the given inputs and outputs its result."
    )
    icon = "subflow"
    config_model = SubWorkflowConfig
    side_effects = True
    kind = "sub_workflow"

    async def run(self, ctx: NodeContext, value: Any) -> NodeResult:
        cfg: SubWorkflowConfig = ctx.config
        # ids travel with an "id:" prefix so the runtime can tell them from paths
        ref = cfg.file if cfg.file is not None else f"id:{cfg.workflow_id}"
        try:
            workflow = ctx.services.load_workflow(ref)
        except NodeError:
            raise
        except (EngineError, OSError, ValueError, KeyError) as exc:
            field = "file" if cfg.file is not None else "workflow_id"
            raise NodeError(f"config.{field}: cannot load sub-workflow {ref!r}: {exc}") from exc
        inputs = cfg.inputs if "inputs" in cfg.model_fields_set else value
        ctx.log.info("calling sub-workflow %r", getattr(workflow, "name", ref))
        return NodeResult.out(await ctx.services.run_sub_workflow(ctx, workflow, inputs))


SPEC = registry.register(SubWorkflowSpec())
