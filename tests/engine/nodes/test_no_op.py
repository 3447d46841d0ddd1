from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.nodes import registry
from tests.engine.nodes.data_fixtures import orders


async def test_passes_its_input_unchanged(harness):
    value = {"orders": orders(), "page": 2}
    result = await harness.run("no_op", {}, value)
    assert result.outputs == {"out": value}
    assert result.outputs["out"] is value


def test_schema_takes_no_keys():
    spec = registry.get_spec("no_op")
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        spec.config_model.model_validate({"x": 1})
    assert spec.pure and spec.category == "Flow"
