"""The controller refuses impossible edits with a reason and pushes one command per intent."""

from __future__ import annotations

from app.document.controller import EditController
from app.document.document import WorkflowDocument
from engine.model import Connection, Node, Workflow


def _controller() -> EditController:
    wf = Workflow(nodes=[
        Node("t", "manual_trigger", "Start"), Node("s", "set", "Set"), Node("i", "if", "If"),
        Node("w", "webhook_trigger", "Hook"),
    ])  # fmt: skip
    return EditController(WorkflowDocument(wf))


def test_connection_rules(qapp):
    c = _controller()
    reasons: list[str] = []
    c.refused.connect(reasons.append)
    assert c.connect("t", "out", "s", "in") is None
    assert "already connected" in c.connect("t", "out", "s", "in")
    assert "itself" in c.connect("s", "out", "s", "in")
    assert "trigger" in c.connect("s", "out", "w", "in")
    assert "no output 'out'" in c.connect("i", "out", "s", "in")
    assert c.connect("i", "true", "s", "in") is None
    assert "no input 'data'" in c.connect("i", "false", "s", "data")
    assert "no longer exists" in c.connect("gone", "out", "s", "in")
    assert len(reasons) == 6
    assert c.wf.connections == [Connection("t", "out", "s"), Connection("i", "true", "s")]


def test_add_node_names_and_rename_rules(qapp):
    c = _controller()
    a = c.add_node("set", (10, 20))
    b = c.add_node("set", (10, 20))
    assert c.wf.node(a).name == "Set fields" and c.wf.node(b).name == "Set fields 2"
    assert c.rename(b, "Set") is not None  # taken by node "s"
    assert c.rename(b, "  ") is not None
    assert c.rename(b, "Other") is None and c.wf.node(b).name == "Other"
    count = c.document.undo_stack.count()
    c.rename(b, "Other")  # no change, no command
    c.set_config(b, dict(c.wf.node(b).config))
    c.move({b: ((10, 20), (10, 20))})
    assert c.document.undo_stack.count() == count


def test_disable_many_is_one_step(qapp):
    c = _controller()
    c.set_disabled(["s", "i"], True)
    assert c.wf.node("s").disabled and c.wf.node("i").disabled
    assert c.document.undo_stack.count() == 1
    c.document.undo_stack.undo()
    assert not c.wf.node("s").disabled


def test_rename_updates_expression_references_in_one_step(qapp):
    wf = Workflow(nodes=[
        Node("g", "http_request", "Get items", config={"url": "http://127.0.0.1/x"}),
        Node("s", "set", "Use", config={"values": {"n": '{{ len(nodes["Get items"].body) }}', "m": "{{ nodes['Get items'] }}",
                                                   "keep": 'nodes["Get items"] outside braces', "other": '{{ nodes["Get items 2"] }}'}}),
    ])  # fmt: skip
    c = EditController(WorkflowDocument(wf))
    before = wf.clone()
    assert c.rename("g", "Fetch") is None
    values = wf.node("s").config["values"]
    assert values["n"] == '{{ len(nodes["Fetch"].body) }}'
    assert values["m"] == "{{ nodes['Fetch'] }}"
    assert values["keep"] == 'nodes["Get items"] outside braces'
    assert values["other"] == '{{ nodes["Get items 2"] }}'
    assert c.document.undo_stack.count() == 1
    c.document.undo_stack.undo()
    assert wf == before
