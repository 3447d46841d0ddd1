"""Clipboard text is the file format; pasting renames and re-ids, keeping inner connections."""

from __future__ import annotations

import pytest

from app.document import clipboard
from engine import fileformat
from engine.errors import WorkflowInvalid
from engine.model import Connection, Node, Note, Workflow


def _wf() -> Workflow:
    return Workflow(
        nodes=[Node("a", "manual_trigger", "Start", (0, 0)), Node("b", "set", "Set", (200, 0)), Node("c", "set", "Set 2", (400, 0))],
        connections=[Connection("a", "out", "b"), Connection("b", "out", "c")],
        notes=[Note("n", "hi", (0, 100))],
    )


def test_copy_keeps_only_inner_connections(qapp):
    text = clipboard.copy_text(_wf(), ["b", "c"], ["n"])
    fragment = fileformat.loads(text)
    assert [n.id for n in fragment.nodes] == ["b", "c"]
    assert fragment.connections == [Connection("b", "out", "c")]
    assert [n.text for n in fragment.notes] == ["hi"]


def test_prepare_paste_new_ids_unique_names_offset(qapp):
    target = _wf()
    fragment = clipboard.parse_fragment(clipboard.copy_text(target, ["b", "c"]))
    nodes, conns, notes = clipboard.prepare_paste(target, fragment, (10, 20))
    assert [n.name for n in nodes] == ["Set 3", "Set 4"]
    assert not {n.id for n in nodes} & {"a", "b", "c"}
    assert conns == [Connection(nodes[0].id, "out", nodes[1].id, "in")]
    assert nodes[0].position == (210, 20)
    assert notes == []


def test_mime_round_trip_and_foreign_text(qapp):
    text = clipboard.copy_text(_wf(), ["a"])
    assert clipboard.from_mime(clipboard.to_mime(text)) == text
    from PySide6.QtCore import QMimeData

    other = QMimeData()
    other.setText("just words")
    assert clipboard.from_mime(other) is None
    with pytest.raises(WorkflowInvalid):
        clipboard.parse_fragment('{"format": "processengine/7", "id": "x"}')
