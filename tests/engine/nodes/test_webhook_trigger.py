from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.nodes import registry
from engine.nodes.webhook_trigger import WebhookTriggerConfig


def test_defaults_and_normalisation():
    cfg = WebhookTriggerConfig.model_validate({"path": "/orders/new/", "method": "put"})
    assert (cfg.path, cfg.method) == ("orders/new", "PUT")
    assert WebhookTriggerConfig.model_validate({"path": "hook"}).method == "POST"


@pytest.mark.parametrize("path", ["", "/", "a//b", "has space", "q?x=1"])
def test_bad_paths_are_rejected_with_the_path_named(path):
    with pytest.raises(ValidationError) as err:
        WebhookTriggerConfig.model_validate({"path": path})
    assert err.value.errors()[0]["loc"] == ("path",)
    assert "invalid webhook path" in str(err.value)


def test_path_is_required_and_method_checked():
    with pytest.raises(ValidationError, match="path\n  Field required"):
        WebhookTriggerConfig.model_validate({})
    with pytest.raises(ValidationError, match="method"):
        WebhookTriggerConfig.model_validate({"path": "x", "method": "TRACE"})


async def test_outputs_the_request_payload(harness):
    payload = {"headers": {"x-a": "1"}, "query": {"q": "2"}, "body": {"id": 3}}
    result = await harness.run("webhook_trigger", {"path": "hook"}, payload)
    assert result.outputs == {"out": payload}


async def test_manual_run_gets_the_documented_shape(harness):
    result = await harness.run("webhook_trigger", {"path": "hook"}, {})
    assert result.outputs["out"] == {"headers": {}, "query": {}, "body": None}
    result = await harness.run("webhook_trigger", {"path": "hook"}, [1, 2])
    assert result.outputs["out"] == {"headers": {}, "query": {}, "body": [1, 2]}


def test_spec(harness):
    spec = registry.get_spec("webhook_trigger")
    node = harness.node("webhook_trigger", {"path": "x"})
    assert spec.is_trigger and spec.input_ports(node) == [] and spec.output_ports(node) == ["out"]
    assert set(spec.fields_not_rendered) == {"path", "method"}
