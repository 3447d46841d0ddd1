from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.errors import NodeError
from engine.nodes import registry
from engine.nodes.loop import LoopConfig


async def test_returns_the_items(harness):
    result = await harness.run("loop", {"items": [1, {"a": 2}, "x"]}, None)
    assert result.outputs == {"items": [1, {"a": 2}, "x"]}


async def test_empty_list_is_fine(harness):
    assert (await harness.run("loop", {"items": []})).outputs == {"items": []}


@pytest.mark.parametrize(("items", "kind"), [({"a": 1}, "an object"), ("1,2", "a string"), (3, "a number"), (None, "null")])
async def test_non_list_items_name_the_field(harness, items, kind):
    with pytest.raises(NodeError, match=f"config.items: expected a list, got {kind}") as err:
        await harness.run("loop", {"items": items})
    assert not err.value.retryable


async def test_max_iterations(harness):
    assert (await harness.run("loop", {"items": [1, 2, 3], "max_iterations": 3})).outputs == {"items": [1, 2, 3]}
    with pytest.raises(NodeError, match=r"config.items: 4 items exceed max_iterations \(3\)"):
        await harness.run("loop", {"items": [1, 2, 3, 4], "max_iterations": 3})


def test_config_schema():
    assert LoopConfig.model_validate({"items": []}).max_iterations == 1000
    with pytest.raises(ValidationError, match="max_iterations\n  Input should be greater than or equal to 1"):
        LoopConfig.model_validate({"items": [], "max_iterations": 0})
    with pytest.raises(ValidationError, match="items\n  Field required"):
        LoopConfig.model_validate({})


def test_spec(harness):
    spec = registry.get_spec("loop")
    node = harness.node("loop", {"items": []})
    assert spec.kind == "loop" and spec.pure
    assert spec.input_ports(node) == ["in"] and spec.output_ports(node) == ["loop", "done"]
