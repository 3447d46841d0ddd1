from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.nodes.remove_duplicates import RemoveDuplicatesConfig
from tests.engine.nodes.data_fixtures import orders


async def test_by_key_keeps_the_first(harness):
    result = await harness.run("remove_duplicates", {"key": "{{ item.customer.lower() }}"}, orders())
    assert [o["id"] for o in result.outputs["out"]] == ["A-1001", "A-1002", "A-1004", "A-1006"]


async def test_whole_item_ignores_key_order_and_number_form(harness):
    items = [{"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1.0}, {"a": True, "b": [1, 2]}, 1, 1.0, True, "1", None, None]
    result = await harness.run("remove_duplicates", {}, items)
    assert result.outputs == {"out": [{"a": 1, "b": [1, 2]}, {"a": True, "b": [1, 2]}, 1, True, "1", None]}


async def test_composite_key(harness):
    result = await harness.run("remove_duplicates", {"key": "{{ [item.country, item.status] }}"}, orders())
    assert [o["id"] for o in result.outputs["out"]] == ["A-1001", "A-1002", "A-1004", "A-1005", "A-1006"]


def test_schema():
    assert RemoveDuplicatesConfig.model_validate({}).key is None
    with pytest.raises(ValidationError, match="key must be an expression"):
        RemoveDuplicatesConfig.model_validate({"key": "id"})
