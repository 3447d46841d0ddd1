from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.nodes import registry
from engine.nodes.if_node import IfConfig


@pytest.mark.parametrize(
    ("condition", "port"),
    [(True, "true"), (False, "false"), (1, "true"), (0, "false"), ("", "false"),
     ("no", "true"), (None, "false"), ([], "false"), ({"a": 1}, "true")],
)
async def test_routes_input_by_truthiness(harness, condition, port):
    value = {"n": 1}
    result = await harness.run("if", {"condition": condition}, value)
    assert result.outputs == {port: value}


def test_condition_is_required():
    with pytest.raises(ValidationError, match="condition\n  Field required"):
        IfConfig.model_validate({})


def test_ports(harness):
    spec = registry.get_spec("if")
    assert spec.output_ports(harness.node("if", {"condition": True})) == ["true", "false"]
    routed = harness.node("if", {"condition": True}, on_error="route")
    assert spec.output_ports(routed) == ["true", "false", "error"]
    assert spec.pure and not spec.has_side_effects(routed)
