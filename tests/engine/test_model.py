"""The workflow model: every edit emits exactly one event that says what and where, so the
scene can observe it and undo can restore the exact order; clones share nothing."""

from __future__ import annotations

from typing import Any

import pytest

from engine.model import Connection, Node, Note, Workflow


class Events:
    """Every event of a workflow, in order, as (name, args)."""

    def __init__(self, wf: Workflow) -> None:
        self.seen: list[tuple[str, tuple[Any, ...]]] = []
        for name in type(wf.events).__slots__:
            getattr(wf.events, name).connect(lambda *args, _n=name: self.seen.append((_n, args)))


def three() -> Workflow:
    return Workflow(
        id="w1",
        name="W",
        nodes=[Node("a", "manual_trigger", "A"), Node("b", "set", "B"), Node("c", "set", "C")],
        connections=[Connection("a", "out", "b"), Connection("b", "out", "c")],
    )


def test_each_edit_emits_one_event_with_its_index() -> None:
    wf = three()
    ev = Events(wf)
    d = Node("d", "set", "D")
    wf.add_node(d, 1)
    assert ev.seen == [("node_added", (d, 1))]
    assert [n.id for n in wf.nodes] == ["a", "d", "b", "c"]
    ev.seen.clear()
    assert wf.remove_node("d") == (d, 1)
    assert ev.seen == [("node_removed", (d, 1))]
    ev.seen.clear()
    conn = Connection("a", "out", "c")
    wf.add_connection(conn, 0)
    assert wf.remove_connection(conn) == 0
    assert ev.seen == [("connection_added", (conn, 0)), ("connection_removed", (conn, 0))]


def test_attribute_edits_return_the_old_value_and_name_the_attribute() -> None:
    wf = three()
    ev = Events(wf)
    assert wf.set_node_attr("b", "name", "Bee") == "B"
    assert wf.node("b").name == "Bee" and wf.node_by_name("Bee") is wf.node("b")
    assert wf.set_attr("variables", {"x": 1}) == {}
    assert ev.seen == [("node_changed", (wf.node("b"), "name")), ("workflow_changed", ("variables",))]
    with pytest.raises(AttributeError):
        wf.set_node_attr("b", "id", "zzz")  # ids never change: connections refer to them
    with pytest.raises(AttributeError):
        wf.set_attr("id", "other")
    assert len(ev.seen) == 2  # a refused edit emits nothing


def test_notes_are_ordered_and_observed_like_nodes() -> None:
    wf = three()
    ev = Events(wf)
    n1, n2 = Note("n1", "first"), Note("n2", "second")
    wf.add_note(n1)
    wf.add_note(n2, 0)
    assert [n.id for n in wf.notes] == ["n2", "n1"]
    assert wf.set_note_attr("n1", "text", "changed") == "first"
    assert wf.remove_note("n2") == (n2, 0)
    assert [name for name, _ in ev.seen] == ["note_added", "note_added", "note_changed", "note_removed"]


def test_duplicate_ids_are_refused_and_names_are_made_unique() -> None:
    wf = three()
    with pytest.raises(ValueError, match="duplicate node id 'a'"):
        wf.add_node(Node("a", "set", "Again"))
    assert wf.unique_name("Z") == "Z"
    assert wf.unique_name("B") == "B 2"
    wf.add_node(Node("b2", "set", "B 2"))
    assert wf.unique_name("B") == "B 3"


def test_a_clone_is_deep_and_has_no_subscribers() -> None:
    wf = three()
    wf.variables = {"list": [1, 2]}
    wf.node("b").config = {"values": {"k": [1]}}
    ev = Events(wf)
    copy = wf.clone()
    assert copy == wf and copy is not wf
    copy.variables["list"].append(3)
    copy.node("b").config["values"]["k"].append(2)
    copy.add_node(Node("z", "set", "Z"))
    assert wf.variables == {"list": [1, 2]} and wf.node("b").config == {"values": {"k": [1]}}
    assert wf.get("z") is None and ev.seen == []
    assert copy != wf


def test_equality_sees_order_and_every_field() -> None:
    a, b = three(), three()
    assert a == b
    b.connections.reverse()  # fan-out and merge order follow connection order
    assert a != b
    c = three()
    c.node("c").on_error = "route"
    assert a != c


def test_equality_is_structural_and_covers_workflow_settings() -> None:
    a, b = three(), three()
    b.max_node_visits = a.max_node_visits + 1
    assert a != b
    c = three()
    c.concurrency = 2
    assert a != c
    d = three()
    d.node("b").pin = {"x": 1}
    assert a != d and d.clone() == d  # a pin is part of the node, and copied with it


def test_the_id_index_follows_every_edit() -> None:
    """`by_id` is the model's own index (the run plan reads it instead of building a copy)."""
    wf = Workflow(nodes=[Node(id="a", type="set", name="A"), Node(id="b", type="set", name="B")])
    wf.add_node(Node(id="c", type="set", name="C"), index=0)
    wf.remove_node("a")
    assert dict(wf.by_id) == {n.id: n for n in wf.nodes}
    assert set(wf.by_id) == {"b", "c"}
