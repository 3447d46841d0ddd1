"""Autosave writes a recovery file only while dirty; leftovers are found on the next start."""

from __future__ import annotations

from app.document import commands
from app.document.document import WorkflowDocument
from app.document.recovery import Autosaver, discard_recovery, pending_recoveries
from engine import fileformat
from engine.model import Node


def test_autosave_only_when_dirty_and_found_later(qapp, tmp_path):
    doc = WorkflowDocument(path=tmp_path / "w.pe.json")
    saver = Autosaver(interval_s=3600)
    saver.set_document(doc)
    assert saver.autosave() is None and pending_recoveries() == []
    doc.push(commands.AddNode(doc.workflow, Node("a", "set", "A")))
    path = saver.autosave()
    assert path is not None and fileformat.load(path) == doc.workflow
    found = pending_recoveries()
    assert len(found) == 1 and found[0].original == str(tmp_path / "w.pe.json") and found[0].name == "w"
    doc.undo_stack.undo()  # back to clean: nothing left to recover
    assert pending_recoveries() == []
    doc.undo_stack.redo()
    saver.autosave()
    discard_recovery(pending_recoveries()[0])
    assert pending_recoveries() == []


def test_the_timer_autosaves(qapp, qtbot):
    doc = WorkflowDocument()
    saver = Autosaver(interval_s=0.05)
    saver.set_document(doc)
    doc.push(commands.AddNode(doc.workflow, Node("a", "set", "A")))
    qtbot.waitUntil(lambda: saver.file.exists(), timeout=2000)
    assert pending_recoveries()[0].original is None
