"""Every undo command: redo changes the model, undo restores it exactly, redo again matches."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QUndoStack

from app.document import commands
from engine.model import Connection, Node, Note, Workflow


def _workflow() -> Workflow:
    nodes = [
        Node("a", "manual_trigger", "Start", (0, 0)),
        Node("b", "http_request", "Get", (240, 0), {"url": "http://127.0.0.1/x"}, retry="default"),
        Node("c", "if", "Check", (480, 0), {"condition": "{{ input.status == 200 }}"}, on_error="route"),
        Node("d", "set", "Yes", (720, -80), {"values": {"ok": True}}),
        Node("e", "set", "No", (720, 80), {"values": {"ok": False}}),
        Node("f", "set", "Oops", (720, 240)),
    ]
    conns = [
        Connection("a", "out", "b", "in"),
        Connection("b", "out", "c", "in"),
        Connection("c", "true", "d", "in"),
        Connection("c", "false", "e", "in"),
        Connection("c", "error", "f", "in"),
        Connection("d", "out", "e", "in"),
    ]
    notes = [Note("n1", "first", (0, 200)), Note("n2", "second", (300, 300), (150, 90))]
    return Workflow(id="wf", name="Demo", variables={"x": 1}, nodes=nodes, connections=conns, notes=notes)


def _make(name: str, wf: Workflow):
    """Build one command of each kind against `wf`."""
    node = Node("z", "set", "New", (10, 20), {"values": {"k": "v"}})
    builders = {
        "add_node": lambda: commands.AddNode(wf, node),
        "add_node_at_index": lambda: commands.AddNode(wf, node, 1),
        "remove_node_middle": lambda: commands.RemoveNode(wf, "c"),
        "remove_items": lambda: commands.RemoveItems(
            wf, ["b", "e"], [Connection("c", "true", "d", "in")], ["n1"]
        ),
        "move": lambda: commands.MoveNodes(wf, {"a": ((0, 0), (40, 60)), "d": ((720, -80), (700, -100))}, note_moves={"n2": ((300, 300), (320, 340))}),
        "connect": lambda: commands.Connect(wf, Connection("a", "out", "e", "in")),
        "connect_at_index": lambda: commands.Connect(wf, Connection("a", "out", "e", "in"), 2),
        "disconnect": lambda: commands.Disconnect(wf, Connection("c", "false", "e", "in")),
        "rename": lambda: commands.Rename(wf, "b", "Fetch"),
        "set_config": lambda: commands.SetConfig(wf, "b", {"url": "http://127.0.0.1/y", "method": "POST"}),
        "set_retry": lambda: commands.SetRetry(wf, "b", {"max_attempts": 5, "initial_delay_s": 0.5}),
        "set_retry_none": lambda: commands.SetRetry(wf, "b", None),
        "set_on_error_leaving_route": lambda: commands.SetOnError(wf, "c", "continue"),
        "set_on_error_to_route": lambda: commands.SetOnError(wf, "b", "route"),
        "set_disabled": lambda: commands.SetDisabled(wf, "d", True),
        "paste": lambda: commands.Paste(
            wf,
            [Node("p1", "set", "P1", (0, 500)), Node("p2", "set", "P2", (200, 500))],
            [Connection("p1", "out", "p2", "in")],
            [Note("pn", "pasted", (0, 600))],
        ),
        "add_note": lambda: commands.AddNote(wf, Note("n3", "hello", (5, 5))),
        "add_note_at_index": lambda: commands.AddNote(wf, Note("n3", "hello", (5, 5)), 0),
        "remove_note": lambda: commands.RemoveNote(wf, "n1"),
        "edit_note_text": lambda: commands.EditNote(wf, "n2", "text", "changed"),
        "edit_note_size": lambda: commands.EditNote(wf, "n2", "size", (300.0, 200.0)),
        "set_variables": lambda: commands.SetVariables(wf, {"x": 2, "y": [1, 2]}),
        "set_workflow_name": lambda: commands.SetWorkflowName(wf, "Renamed"),
    }
    return builders[name]()


ALL = [
    "add_node", "add_node_at_index", "remove_node_middle", "remove_items", "move", "connect",
    "connect_at_index", "disconnect", "rename", "set_config", "set_retry", "set_retry_none",
    "set_on_error_leaving_route", "set_on_error_to_route", "set_disabled", "paste", "add_note",
    "add_note_at_index", "remove_note", "edit_note_text", "edit_note_size", "set_variables",
    "set_workflow_name",
]


@pytest.mark.parametrize("name", ALL)
def test_undo_redo_round_trip(qapp, name):
    wf = _workflow()
    original = wf.clone()
    stack = QUndoStack()
    stack.push(_make(name, wf))
    after = wf.clone()
    assert after != original, "the command changed nothing"
    for _ in range(2):
        stack.undo()
        assert wf == original
        assert [c.key for c in wf.connections] == [c.key for c in original.connections]
        assert [n.id for n in wf.nodes] == [n.id for n in original.nodes]
        stack.redo()
        assert wf == after


def test_remove_node_removes_its_connections_first_and_restores_order(qapp):
    wf = _workflow()
    stack = QUndoStack()
    stack.push(commands.RemoveNode(wf, "c"))
    assert wf.get("c") is None
    assert all("c" not in (x.from_node, x.to_node) for x in wf.connections)
    assert [c.key for c in wf.connections] == [("a", "out", "b", "in"), ("d", "out", "e", "in")]
    stack.undo()
    assert [c.key for c in wf.connections] == [c.key for c in _workflow().connections]
    assert wf.index_of("c") == 2


def test_leaving_route_drops_error_connections(qapp):
    wf = _workflow()
    stack = QUndoStack()
    stack.push(commands.SetOnError(wf, "c", "fail"))
    assert not any(c.from_port == "error" for c in wf.connections)
    assert wf.node("c").on_error == "fail"


def test_nudges_merge_and_drags_do_not(qapp):
    wf = _workflow()
    stack = QUndoStack()
    key = ("nudge", frozenset({"a"}))
    stack.push(commands.MoveNodes(wf, {"a": ((0, 0), (10, 0))}, key))
    stack.push(commands.MoveNodes(wf, {"a": ((10, 0), (20, 0))}, key))
    assert stack.count() == 1
    assert wf.node("a").position == (20, 0)
    stack.push(commands.MoveNodes(wf, {"a": ((20, 0), (50, 50))}))
    stack.push(commands.MoveNodes(wf, {"a": ((50, 50), (60, 60))}))
    assert stack.count() == 3
    stack.undo()
    stack.undo()
    stack.undo()
    assert wf.node("a").position == (0, 0)


def test_config_typing_merges_per_field(qapp):
    wf = _workflow()
    stack = QUndoStack()
    for text in ("h", "ht", "htt"):
        stack.push(commands.SetConfig(wf, "b", {"url": text}, "url"))
    assert stack.count() == 1
    stack.push(commands.SetConfig(wf, "b", {"url": "htt", "method": "PUT"}, "method"))
    assert stack.count() == 2
    stack.undo()
    assert wf.node("b").config == {"url": "htt"}
    stack.undo()
    assert wf.node("b").config == {"url": "http://127.0.0.1/x"}


def test_merge_back_to_original_makes_command_obsolete(qapp):
    wf = _workflow()
    stack = QUndoStack()
    stack.push(commands.SetConfig(wf, "b", {"url": "x"}, "url"))
    stack.push(commands.SetConfig(wf, "b", {"url": "http://127.0.0.1/x"}, "url"))
    assert stack.count() == 0
    assert wf == _workflow()


def test_commands_emit_model_events(qapp):
    wf = _workflow()
    seen: list[str] = []
    wf.events.node_removed.connect(lambda n, i: seen.append(f"-node {n.id}@{i}"))
    wf.events.connection_removed.connect(lambda c, i: seen.append(f"-conn {c.from_node}>{c.to_node}@{i}"))
    QUndoStack().push(commands.RemoveNode(wf, "d"))
    assert seen == ["-conn c>d@2", "-conn d>e@4", "-node d@3"]
