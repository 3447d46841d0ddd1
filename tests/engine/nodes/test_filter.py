from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.errors import ExpressionError, NodeError
from engine.model import Node
from engine.nodes import registry
from engine.nodes.filter import FilterConfig
from engine.runtime.runner import run_workflow
from tests.engine.nodes.data_fixtures import orders
from tests.engine.runtime.helpers import workflow


async def test_keeps_matching_items_and_discards_the_rest(harness):
    result = await harness.run("filter", {"condition": "{{ item.status == 'paid' and item.total > 100 }}"}, orders())
    assert [o["id"] for o in result.outputs["out"]] == ["A-1001", "A-1003"]
    assert [o["id"] for o in result.outputs["discarded"]] == ["A-1002", "A-1004", "A-1005", "A-1006"]
    assert list(result.outputs) == ["out", "discarded"]


async def test_index_is_the_position_from_zero(harness):
    result = await harness.run("filter", {"condition": "{{ index % 2 == 0 }}"}, orders())
    assert [o["id"] for o in result.outputs["out"]] == ["A-1001", "A-1003", "A-1005"]


async def test_items_field_and_input_names(harness):
    value = {"body": {"rows": [3, 8, 1, 12]}, "min": 5}
    result = await harness.run("filter", {"items": value["body"]["rows"], "condition": "{{ item >= input.min }}"}, value)
    assert result.outputs == {"out": [8, 12], "discarded": [3, 1]}


async def test_nothing_dropped_sends_nothing_on_discarded(harness):
    result = await harness.run("filter", {"condition": "{{ item.items >= 0 }}"}, orders())
    assert result.outputs == {"out": orders()}


async def test_all_dropped_still_sends_an_empty_list_on_out(harness):
    result = await harness.run("filter", {"condition": "{{ item.total is None }}"}, [{"total": 1}])
    assert result.outputs == {"out": [], "discarded": [{"total": 1}]}


async def test_truthiness_like_if_and_text_template(harness):
    result = await harness.run("filter", {"condition": "{{ item.note }}"}, [{"note": ""}, {"note": "x"}, {"note": None}, {"note": []}])
    assert result.outputs["out"] == [{"note": "x"}]
    text = await harness.run("filter", {"condition": "id-{{ item }}"}, [1, 2])
    assert text.outputs == {"out": [1, 2]}  # mixed text is never empty


async def test_not_a_list_names_node_and_field(harness):
    with pytest.raises(NodeError, match=r"node 'n1', the input \(config.items is not set\): expected a list, got an object"):
        await harness.run("filter", {"condition": "{{ item }}"}, {"a": 1})
    with pytest.raises(NodeError, match=r"node 'n1', config.items: expected a list, got a string \(an expression that renders"):
        await harness.run("filter", {"items": "1,2", "condition": "{{ item }}"}, None)


async def test_bad_item_names_node_field_and_index(harness):
    with pytest.raises(ExpressionError) as err:
        await harness.run("filter", {"condition": "{{ item.total > 100 }}"}, [{"total": 200}, {"sum": 1}])
    assert err.value.node_id == "n1" and err.value.field == "config.condition"
    assert err.value.message.startswith("item 1: ")
    assert "'total'" in str(err.value)


def test_condition_must_be_an_expression():
    with pytest.raises(ValidationError, match="condition must be an expression over `item`"):
        FilterConfig.model_validate({"condition": "item.total > 3"})
    with pytest.raises(ValidationError, match="Field required"):
        FilterConfig.model_validate({})


def test_ports_include_discarded_and_error_when_routed():
    spec = registry.get_spec("filter")
    node = Node(id="f", type="filter", name="f", config={"condition": "{{ item }}"}, on_error="route")
    assert spec.output_ports(node) == ["out", "discarded", "error"]
    assert spec.pure and not spec.side_effects and spec.fields_not_rendered == ("condition",)


async def test_in_a_run_discarded_branch_runs_and_is_skipped_when_empty():
    wf = workflow(
        [
            {"id": "t", "type": "manual_trigger"},
            {"id": "f", "type": "filter", "config": {"items": "{{ input.orders }}", "condition": "{{ item.status == 'paid' }}"}},
            {"id": "kept", "type": "set", "config": {"values": {"n": "{{ len(input) }}"}}},
            {"id": "dropped", "type": "set", "config": {"values": {"ids": "{{ [o.id for o in input] }}"}}},
        ],
        [("t", "out", "f"), ("f", "out", "kept"), ("f", "discarded", "dropped")],
    )
    rec = await run_workflow(wf, {"orders": orders()})
    assert rec.status == "completed"
    th = rec.main
    assert th.outputs["kept"] == {"n": 3}
    assert th.outputs["dropped"] == {"ids": ["A-1002", "A-1004", "A-1006"]}
    assert [o["id"] for o in th.outputs["f"]] == ["A-1001", "A-1003", "A-1005"]
    rec = await run_workflow(wf, {"orders": [o for o in orders() if o["status"] == "paid"]})
    assert rec.main.outputs["kept"] == {"n": 3}
    assert rec.main.node_status["dropped"] == "skipped"


async def test_per_item_fields_see_vars_nodes_and_input_too():
    wf = workflow(
        [
            {"id": "t", "type": "manual_trigger", "name": "Start"},
            {"id": "f", "type": "filter", "config": {"items": "{{ input.orders }}", "condition": "{{ index < len(input.orders) - 1 and item.total >= vars.min and item.country == nodes['Start'].country }}"}},
        ],
        [("t", "out", "f")],
        variables={"min": 100},
    )
    rec = await run_workflow(wf, {"country": "DE", "orders": orders()})
    assert rec.status == "completed", rec.main.error
    assert [o["id"] for o in rec.main.outputs["f"]] == ["A-1001", "A-1003"]
    failed = await run_workflow(wf, {"country": "DE", "orders": [{"total": 100}, {}]})
    assert failed.status == "failed"
    assert failed.main.error["message"] == (
        "node 'f', field 'config.condition': item 0: item has no key 'country'; available keys: 'total'"
        " in {{ index < len(input.orders) - 1 and item.total >= vars.min and item.country == nodes['Start'].country }}"
    )


def test_graph_validation_knows_the_discarded_port():
    from engine.graph import validate

    nodes = [
        {"id": "t", "type": "manual_trigger"},
        {"id": "f", "type": "filter", "config": {"condition": "{{ item }}"}},
        {"id": "a", "type": "no_op"},
    ]
    assert validate(workflow(nodes, [("t", "out", "f"), ("f", "discarded", "a")])) == []
    problem = validate(workflow(nodes, [("t", "out", "f"), ("f", "rejected", "a")]))[0]
    assert (problem.field, problem.message) == ("connections[1].from_port", "node has no output port 'rejected' (ports: out, discarded)")
