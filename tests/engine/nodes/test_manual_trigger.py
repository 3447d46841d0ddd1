from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.nodes import registry
from engine.nodes.manual_trigger import ManualTriggerConfig


async def test_manual_run_outputs_empty_object(harness):
    result = await harness.run("manual_trigger", {})
    assert result.outputs == {"out": {}}


async def test_outputs_given_payload_unchanged(harness):
    payload = {"order": {"id": 7, "lines": [1, 2]}}
    result = await harness.run("manual_trigger", {}, payload)
    assert result.outputs == {"out": payload}


def test_rejects_any_config_key():
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        ManualTriggerConfig.model_validate({"payload": 1})


def test_spec_is_a_trigger_without_input_port(harness):
    spec = registry.get_spec("manual_trigger")
    node = harness.node("manual_trigger", {})
    assert spec.is_trigger and spec.category == "Triggers"
    assert spec.input_ports(node) == []
    assert spec.output_ports(node) == ["out"]
    assert spec.default_retry == "none" and spec.kind == "plain"
    assert not spec.has_side_effects(node)
