from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.errors import ExpressionError
from engine.nodes import registry
from engine.nodes.sort import SortConfig
from tests.engine.nodes.data_fixtures import orders


def ids(result):
    return [o["id"] for o in result.outputs["out"]]


async def test_by_number_nulls_first(harness):
    result = await harness.run("sort", {"key": "{{ item.total }}"}, orders())
    assert ids(result) == ["A-1006", "A-1005", "A-1002", "A-1004", "A-1001", "A-1003"]


async def test_reverse_keeps_equal_keys_in_input_order(harness):
    result = await harness.run("sort", {"key": "{{ item.country }}", "reverse": True}, orders())
    assert ids(result) == ["A-1004", "A-1002", "A-1005", "A-1001", "A-1003", "A-1006"]


async def test_composite_key_and_string_methods(harness):
    result = await harness.run("sort", {"key": "{{ [item.country, item.customer.lower()] }}"}, orders())
    assert ids(result) == ["A-1001", "A-1003", "A-1006", "A-1002", "A-1005", "A-1004"]


async def test_no_key_sorts_the_items_and_mixed_types_never_fail(harness):
    result = await harness.run("sort", {}, ["pear", 3, None, True, 1.5, [1], {"a": 1}, "apple", False])
    assert result.outputs == {"out": [None, False, True, 1.5, 3, "apple", "pear", [1], {"a": 1}]}


async def test_items_field_and_input_not_mutated(harness):
    value = {"rows": [{"n": 2}, {"n": 1}]}
    result = await harness.run("sort", {"items": value["rows"], "key": "{{ item.n }}"}, value)
    assert result.outputs == {"out": [{"n": 1}, {"n": 2}]}
    assert value == {"rows": [{"n": 2}, {"n": 1}]}


async def test_key_error_names_the_item(harness):
    with pytest.raises(ExpressionError) as err:
        await harness.run("sort", {"key": "{{ item.when }}"}, [{"when": 1}, {"when": 2}, {}])
    assert (err.value.field, err.value.message[:8]) == ("config.key", "item 2: ")


def test_schema():
    assert SortConfig.model_validate({}).key is None
    with pytest.raises(ValidationError, match="key must be an expression over `item`"):
        SortConfig.model_validate({"key": "total"})
    spec = registry.get_spec("sort")
    assert spec.pure and spec.fields_not_rendered == ("key",)
