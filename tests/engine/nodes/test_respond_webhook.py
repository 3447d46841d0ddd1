from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.nodes import registry
from engine.nodes.respond_webhook import RespondWebhookConfig


async def test_defaults_send_the_input_with_200(harness):
    value = {"ok": True}
    result = await harness.run("respond_webhook", {}, value)
    assert harness.responses == [(200, {"ok": True}, None)]
    assert result.outputs == {"out": value}


async def test_explicit_status_body_headers(harness):
    cfg = {"status": 201, "body": {"id": 5}, "headers": {"X-Id": 5, "X-New": True}}
    result = await harness.run("respond_webhook", cfg, "the input")
    assert harness.responses == [(201, {"id": 5}, {"X-Id": "5", "X-New": "true"})]
    assert result.outputs == {"out": "the input"}


async def test_explicit_null_body_is_not_replaced_by_input(harness):
    await harness.run("respond_webhook", {"status": 204, "body": None}, {"x": 1})
    assert harness.responses == [(204, None, None)]


@pytest.mark.parametrize("status", [99, 600, "abc"])
def test_bad_status(status):
    with pytest.raises(ValidationError) as err:
        RespondWebhookConfig.model_validate({"status": status})
    assert err.value.errors()[0]["loc"] == ("status",)


def test_unknown_key_rejected():
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        RespondWebhookConfig.model_validate({"code": 200})


def test_spec_has_side_effects(harness):
    spec = registry.get_spec("respond_webhook")
    node = harness.node("respond_webhook", {})
    assert spec.has_side_effects(node) and not spec.pure
    assert spec.input_ports(node) == ["in"] and spec.output_ports(node) == ["out"]
