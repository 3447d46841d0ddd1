from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from engine import fileformat
from engine.errors import NodeError
from engine.model import Connection, Node, Workflow
from engine.nodes import registry
from engine.nodes.sub_workflow import SubWorkflowConfig

CHILD_ID = "5f0c1d2e-0000-4000-8000-00000000c41d"


@pytest.fixture
def child_file(tmp_path):
    wf = Workflow(
        id=CHILD_ID,
        name="Doubler",
        nodes=[
            Node("start", "manual_trigger", "Start"),
            Node("calc", "set", "Calc", config={"values": {"doubled": "{{ input.n * 2 }}", "seen": "{{ input }}"}}),
        ],
        connections=[Connection("start", "out", "calc", "in")],
    )
    path = tmp_path / "child.pe.json"
    fileformat.save(wf, path)
    return path


async def test_runs_child_file_with_the_input(harness, child_file):
    result = await harness.run("sub_workflow", {"file": "child.pe.json"}, {"n": 3})
    assert result.outputs == {"out": {"doubled": 6, "seen": {"n": 3}}}
    assert harness.sub_runs == [("Doubler", {"n": 3})]


async def test_explicit_inputs_win_over_the_input(harness, child_file):
    result = await harness.run("sub_workflow", {"file": "child.pe.json", "inputs": {"n": 10}}, {"n": 3})
    assert result.outputs["out"]["doubled"] == 20
    assert harness.sub_runs == [("Doubler", {"n": 10})]


async def test_by_workflow_id(harness, child_file):
    result = await harness.run("sub_workflow", {"workflow_id": CHILD_ID}, {"n": 1})
    assert result.outputs["out"]["doubled"] == 2


async def test_missing_file_names_the_field(harness):
    with pytest.raises(NodeError, match=r"config.file: cannot load sub-workflow 'nope.pe.json'") as err:
        await harness.run("sub_workflow", {"file": "nope.pe.json"}, {})
    assert not err.value.retryable
    assert harness.sub_runs == []


async def test_invalid_child_lists_its_problems(harness, tmp_path):
    (tmp_path / "bad.pe.json").write_text(json.dumps({"format": "processengine/1", "id": "x", "nodes": [
        {"id": "a", "type": "no_such_type", "name": "A"}]}))
    with pytest.raises(NodeError) as err:
        await harness.run("sub_workflow", {"file": "bad.pe.json"}, {})
    assert "config.file" in err.value.message and "no_such_type" in err.value.message


@pytest.mark.parametrize("config", [{}, {"file": "a", "workflow_id": "b"}])
def test_exactly_one_reference(config):
    with pytest.raises(ValidationError, match="set exactly one of `file` or `workflow_id`"):
        SubWorkflowConfig.model_validate(config)


def test_spec(harness):
    spec = registry.get_spec("sub_workflow")
    node = harness.node("sub_workflow", {"file": "x"})
    assert spec.kind == "sub_workflow" and spec.has_side_effects(node) and not spec.pure
    assert spec.output_ports(node) == ["out"]
