from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.nodes import registry
from engine.nodes.set_node import SetConfig


async def test_outputs_new_values_only_by_default(harness):
    result = await harness.run("set", {"values": {"a": 1, "b": [2]}}, {"a": 0, "keep": "me"})
    assert result.outputs == {"out": {"a": 1, "b": [2]}}


async def test_keep_input_merges_over_input(harness):
    result = await harness.run("set", {"values": {"a": 1}, "keep_input": True}, {"a": 0, "keep": "me"})
    assert result.outputs == {"out": {"a": 1, "keep": "me"}}


async def test_keep_input_with_non_object_input_outputs_values(harness):
    result = await harness.run("set", {"values": {"a": 1}, "keep_input": True}, [1, 2])
    assert result.outputs == {"out": {"a": 1}}


async def test_input_is_not_mutated(harness):
    value = {"a": 0}
    await harness.run("set", {"values": {"a": 1}, "keep_input": True}, value)
    assert value == {"a": 0}


def test_schema():
    cfg = SetConfig.model_validate({})
    assert cfg.values == {} and cfg.keep_input is False
    with pytest.raises(ValidationError, match="values\n  Input should be a valid dictionary"):
        SetConfig.model_validate({"values": [1]})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        SetConfig.model_validate({"value": {}})


def test_spec():
    spec = registry.get_spec("set")
    assert spec.pure and spec.category == "Data" and spec.default_retry == "none"
