from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.errors import NodeError
from engine.nodes.aggregate import AggregateConfig
from engine.runtime.runner import run_workflow
from tests.engine.nodes.data_fixtures import orders
from tests.engine.runtime.helpers import workflow

ALL_OPS = {
    "orders": {"op": "count"},
    "with_total": {"op": "count", "value": "{{ item.total }}"},
    "revenue": {"op": "sum", "value": "{{ item.total }}"},
    "avg_items": {"op": "avg", "value": "{{ item.items }}"},
    "smallest": {"op": "min", "value": "{{ item.total }}"},
    "largest": {"op": "max", "value": "{{ item.total }}"},
    "ids": {"op": "list", "value": "{{ item.id }}"},
    "first": {"op": "first", "value": "{{ item.id }}"},
    "last": {"op": "last", "value": "{{ item.status }}"},
    "countries": {"op": "concat", "value": "{{ item.country }}", "separator": "/"},
}


async def test_every_operation_without_groups(harness):
    result = await harness.run("aggregate", {"fields": ALL_OPS}, orders())
    assert result.outputs == {
        "out": {
            "orders": 6,
            "with_total": 5,
            "revenue": 587.74,
            "avg_items": 14 / 6,
            "smallest": 15.25,
            "largest": 310.0,
            "ids": ["A-1001", "A-1002", "A-1003", "A-1004", "A-1005", "A-1006"],
            "first": "A-1001",
            "last": "cancelled",
            "countries": "DE/FR/DE/TR/FR/DE",
        }
    }


async def test_grouped_in_first_appearance_order(harness):
    cfg = {
        "group_by": "{{ item.country }}",
        "fields": {"n": {"op": "count"}, "revenue": {"op": "sum", "value": "{{ item.total }}"}},
    }
    result = await harness.run("aggregate", cfg, orders())
    assert result.outputs == {
        "out": [
            {"group": "DE", "n": 3, "revenue": 430.5},
            {"group": "FR", "n": 2, "revenue": 57.25},
            {"group": "TR", "n": 1, "revenue": 99.99},
        ]
    }


async def test_object_group_spreads_its_keys(harness):
    cfg = {
        "group_by": "{{ {'country': item.country, 'paid': item.status == 'paid'} }}",
        "fields": {"ids": {"op": "list", "value": "{{ item.id }}"}},
    }
    result = await harness.run("aggregate", cfg, orders())
    assert result.outputs["out"] == [
        {"country": "DE", "paid": True, "ids": ["A-1001", "A-1003"]},
        {"country": "FR", "paid": False, "ids": ["A-1002"]},
        {"country": "TR", "paid": False, "ids": ["A-1004"]},
        {"country": "FR", "paid": True, "ids": ["A-1005"]},
        {"country": "DE", "paid": False, "ids": ["A-1006"]},
    ]


async def test_empty_list(harness):
    result = await harness.run("aggregate", {"fields": ALL_OPS}, [])
    assert result.outputs["out"] == {
        "orders": 0, "with_total": 0, "revenue": 0, "avg_items": None, "smallest": None, "largest": None,
        "ids": [], "first": None, "last": None, "countries": "",
    }  # fmt: skip
    grouped = await harness.run("aggregate", {"group_by": "{{ item.k }}", "fields": {"n": {"op": "count"}}}, [])
    assert grouped.outputs == {"out": []}


async def test_concat_of_lists_and_mixed_values(harness):
    items = [{"tags": ["a", "b"]}, {"tags": None}, {"tags": ["c"]}]
    result = await harness.run("aggregate", {"fields": {"tags": {"op": "concat", "value": "{{ item.tags }}"}}}, items)
    assert result.outputs == {"out": {"tags": ["a", "b", "c"]}}
    mixed = await harness.run("aggregate", {"fields": {"t": {"op": "concat", "value": "{{ item }}"}}}, ["x", 2, True, {"k": 1}])
    assert mixed.outputs == {"out": {"t": 'x, 2, true, {"k":1}'}}


async def test_sum_of_text_names_the_field(harness):
    with pytest.raises(NodeError, match=r"node 'n1', config.fields.total: `sum` needs numbers, got a string \('12'\)"):
        await harness.run("aggregate", {"fields": {"total": {"op": "sum", "value": "{{ item.t }}"}}}, [{"t": 1}, {"t": "12"}])


async def test_field_clashing_with_group_key(harness):
    cfg = {"group_by": "{{ {'n': item} }}", "fields": {"n": {"op": "count"}}}
    with pytest.raises(NodeError, match=r"config\.fields: n is also a group key"):
        await harness.run("aggregate", cfg, [1])


def test_schema():
    with pytest.raises(ValidationError, match="at least one field is required"):
        AggregateConfig.model_validate({"fields": {}})
    with pytest.raises(ValidationError, match="total: `sum` needs a `value` expression"):
        AggregateConfig.model_validate({"fields": {"total": {"op": "sum"}}})
    with pytest.raises(ValidationError, match="Input should be 'count', 'sum'"):
        AggregateConfig.model_validate({"fields": {"x": {"op": "median", "value": "{{ item }}"}}})
    with pytest.raises(ValidationError, match="value must be an expression"):
        AggregateConfig.model_validate({"fields": {"x": {"op": "sum", "value": "total"}}})


async def test_in_a_run_after_filter_and_sort():
    wf = workflow(
        [
            {"id": "t", "type": "manual_trigger"},
            {"id": "paid", "type": "filter", "config": {"condition": "{{ item.status == 'paid' }}"}},
            {"id": "by", "type": "aggregate", "config": {"group_by": "{{ item.country }}", "fields": {"revenue": {"op": "sum", "value": "{{ item.total }}"}}}},
            {"id": "top", "type": "sort", "config": {"key": "{{ item.revenue }}", "reverse": True}},
            {"id": "one", "type": "limit", "config": {"count": 1}},
        ],
        [("t", "out", "paid"), ("paid", "out", "by"), ("by", "out", "top"), ("top", "out", "one")],
    )
    rec = await run_workflow(wf, orders())
    assert rec.status == "completed", rec.main.error
    assert rec.main.outputs["one"] == [{"group": "DE", "revenue": 430.5}]
