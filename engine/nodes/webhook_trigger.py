"""Webhook trigger: starts a run for each HTTP request `processengine serve` receives.

`serve` listens at ``/webhook/<path>`` for `method` and hands the request to
this node as ``{"headers", "query", "body"}``; the node outputs it so the rest
of the workflow can read ``input.body`` and friends.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, SyncNodeSpec

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_PATH_RE = re.compile(r"^[A-Za-z0-9._~\-]+(/[A-Za-z0-9._~\-]+)*$")


class WebhookTriggerConfig(NodeConfig):
    path: str = Field(
        description="URL path the webhook listens on, below /webhook/ (e.g. 'orders/new'). "
        "Letters, digits, '.', '_', '~', '-' and '/' between segments."
    )
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field(
        "POST", description="HTTP method the webhook accepts."
    )

    @field_validator("path", mode="before")
    @classmethod
    def _clean_path(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        v = v.strip().strip("/")
        if v.startswith("webhook/"):
            v = v[len("webhook/") :]
        if not _PATH_RE.match(v):
            raise ValueError(
                f"invalid webhook path {v!r}: use letters, digits, '.', '_', '~', '-' "
                "and '/' between non-empty segments"
            )
        return v

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v


def normalize_payload(value: Any) -> dict[str, Any]:
    """Give the payload the documented shape: missing keys get empty defaults.

    A manual run of a webhook workflow passes `{}` (or arbitrary inputs); a
    non-object value becomes the body so nothing given is lost.
    """
    if value is None:
        value = {}
    if not isinstance(value, dict):
        value = {"body": value}
    return {"headers": {}, "query": {}, "body": None, **value}


class WebhookTriggerSpec(SyncNodeSpec):
    type = "webhook_trigger"
    title = "Webhook trigger"
    category = "Triggers"
    description = (
        "Starts the workflow for each HTTP request to /webhook/<path> (processengine serve); "
        "outputs {headers, query, body}."
    )
    icon = "webhook"
    config_model = WebhookTriggerConfig
    is_trigger = True
    pure = True
    fields_not_rendered = ("path", "method")

    def run_now(self, ctx: NodeContext, value: Any) -> NodeResult:
        return NodeResult.out(normalize_payload(value))


SPEC = registry.register(WebhookTriggerSpec())
