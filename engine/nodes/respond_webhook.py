"""Respond to webhook: sets the HTTP response `processengine serve` sends back.

The response is the execution's (the runtime keeps the last one set); the node
passes its input on unchanged so a workflow can keep working after answering.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, NodeSpec
from engine.nodes.common import stringify_headers


class RespondWebhookConfig(NodeConfig):
    status: int = Field(200, ge=100, le=599, description="HTTP status code of the response.")
    body: Any = Field(
        None,
        description="Response body, any JSON value (an object or list is sent as JSON, a "
        "string as text). When the key is left out the node's input is sent.",
    )
    headers: dict[str, str] | None = Field(None, description="Extra response headers.")

    @field_validator("headers", mode="before")
    @classmethod
    def _stringify(cls, v: Any) -> Any:
        return stringify_headers(v)


class RespondWebhookSpec(NodeSpec):
    type = "respond_webhook"
    title = "Respond to webhook"
    category = "Network"
    description = (
        "Sets the status, body and headers of the HTTP response to the request that "
        "started this run (processengine serve); passes its input on."
    )
    icon = "reply"
    config_model = RespondWebhookConfig
    side_effects = True

    async def run(self, ctx: NodeContext, value: Any) -> NodeResult:
        cfg: RespondWebhookConfig = ctx.config
        body = cfg.body if "body" in cfg.model_fields_set else value
        ctx.services.respond(cfg.status, body, dict(cfg.headers) if cfg.headers else None)
        ctx.log.info("webhook response set: status %s", cfg.status)
        return NodeResult.out(value)


SPEC = registry.register(RespondWebhookSpec())
