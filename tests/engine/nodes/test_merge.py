from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.errors import NodeError
from engine.nodes import registry
from engine.nodes.merge import MergeConfig


async def test_outputs_arrived_values_in_order(harness):
    result = await harness.run("merge", {}, [{"a": 1}, None, [2]])
    assert result.outputs == {"out": [{"a": 1}, None, [2]]}


async def test_non_list_is_a_runtime_contract_error(harness):
    with pytest.raises(NodeError, match="list of arrived values"):
        await harness.run("merge", {"mode": "wait_all"}, {"a": 1})


def test_mode():
    assert MergeConfig.model_validate({}).mode == "wait_all"
    with pytest.raises(ValidationError, match="mode\n  Input should be 'wait_all'"):
        MergeConfig.model_validate({"mode": "first"})


def test_spec(harness):
    spec = registry.get_spec("merge")
    assert spec.kind == "merge" and spec.pure
    assert spec.output_ports(harness.node("merge", {})) == ["out"]
