"""Dirty state follows the undo stack; saving writes the file atomically and marks it clean."""

from __future__ import annotations

import pytest

from app.document import commands
from app.document.document import WorkflowDocument
from engine import fileformat
from engine.errors import WorkflowInvalid
from engine.model import Node


def test_dirty_tracks_the_clean_index(qapp, tmp_path):
    doc = WorkflowDocument()
    seen: list[bool] = []
    doc.dirty_changed.connect(seen.append)
    assert not doc.is_dirty
    doc.push(commands.AddNode(doc.workflow, Node("a", "set", "A")))
    assert doc.is_dirty and seen == [True]
    path = doc.save(tmp_path / "a.pe.json")
    assert not doc.is_dirty and seen == [True, False]
    assert doc.display_name == "a"
    assert fileformat.load(path) == doc.workflow
    doc.undo_stack.undo()
    assert doc.is_dirty
    doc.undo_stack.redo()
    assert not doc.is_dirty
    doc.mark_dirty()
    assert doc.is_dirty and seen[-1] is True
    doc.save()
    assert not doc.is_dirty


def test_save_without_a_path_is_an_error(qapp):
    with pytest.raises(ValueError, match="no file name"):
        WorkflowDocument().save()


def test_open_reports_problems(qapp, tmp_path):
    bad = tmp_path / "bad.pe.json"
    bad.write_text("[]")
    with pytest.raises(WorkflowInvalid) as info:
        WorkflowDocument.open(bad)
    assert info.value.problems[0].message == "the file must hold a JSON object"
