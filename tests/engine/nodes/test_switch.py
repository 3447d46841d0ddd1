from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.nodes import registry
from engine.nodes.switch import SwitchConfig, json_equal

CASES = {"small": 1, "big": 100, "named": "x", "also_one": 1}


@pytest.mark.parametrize(
    ("value", "port"),
    [(1, "small"), (1.0, "small"), (100, "big"), ("x", "named"), ("1", "default"),
     (True, "default"), (None, "default"), (7, "default")],
)
async def test_first_matching_case_wins(harness, value, port):
    result = await harness.run("switch", {"value": value, "cases": CASES}, {"payload": 1})
    assert result.outputs == {port: {"payload": 1}}


async def test_structured_values_match(harness):
    cases = {"pair": [1, {"a": True}], "flag": True}
    result = await harness.run("switch", {"value": [1, {"a": True}], "cases": cases}, "in")
    assert result.outputs == {"pair": "in"}
    result = await harness.run("switch", {"value": True, "cases": cases}, "in")
    assert result.outputs == {"flag": "in"}


def test_json_equal():
    assert json_equal(1, 1.0) and json_equal({"a": [1]}, {"a": [1.0]})
    assert not json_equal(True, 1) and not json_equal(0, False) and not json_equal("1", 1)
    assert not json_equal([1, 2], [1]) and not json_equal({"a": 1}, {"b": 1})


def test_ports_follow_case_order_plus_default(harness):
    spec = registry.get_spec("switch")
    node = harness.node("switch", {"value": 1, "cases": {"b": 1, "a": 2}})
    assert spec.output_ports(node) == ["b", "a", "default"]
    node.on_error = "route"
    assert spec.output_ports(node) == ["b", "a", "default", "error"]
    assert spec.output_ports(harness.node("switch", {"value": 1})) == ["default"]


@pytest.mark.parametrize("name", ["default", "error", " "])
def test_reserved_or_empty_case_names_rejected(name):
    with pytest.raises(ValidationError) as err:
        SwitchConfig.model_validate({"value": 1, "cases": {name: 1}})
    assert err.value.errors()[0]["loc"] == ("cases",)


def test_cases_must_be_an_object():
    with pytest.raises(ValidationError, match="cases\n  Input should be a valid dictionary"):
        SwitchConfig.model_validate({"value": 1, "cases": [1, 2]})
