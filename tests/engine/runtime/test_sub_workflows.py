"""Finding a sub-workflow without a host loader: by path beside the parent, or by id."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import fileformat
from engine.errors import NodeError
from engine.runtime.sub_workflows import load_sub_workflow
from tests.engine.runtime.helpers import workflow


def _child(tmp_path: Path, name: str, wf_id: str) -> Path:
    wf = workflow([{"id": "start", "type": "manual_trigger"}], [])
    wf.id = wf_id
    path = tmp_path / name
    fileformat.save(wf, path)
    return path


def test_a_relative_path_is_read_beside_the_parent(tmp_path: Path) -> None:
    _child(tmp_path, "child.pe.json", "wf-child")
    got = load_sub_workflow("child.pe.json", workflow_file=str(tmp_path / "parent.pe.json"), find_workflow=None)
    assert got.id == "wf-child"


def test_an_id_asks_the_store_first_then_the_files_beside(tmp_path: Path) -> None:
    _child(tmp_path, "a.pe.json", "wf-a")
    (tmp_path / "broken.pe.json").write_text("{", encoding="utf-8")  # an unreadable neighbour is passed over
    parent = str(tmp_path / "parent.pe.json")
    stored = workflow([{"id": "start", "type": "manual_trigger"}], [])
    asked: list[str] = []
    assert load_sub_workflow("id:wf-a", workflow_file=parent, find_workflow=lambda i: asked.append(i) or stored) is stored
    assert asked == ["wf-a"]
    assert load_sub_workflow("id:wf-a", workflow_file=parent, find_workflow=lambda i: None).id == "wf-a"


def test_an_unknown_id_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(NodeError, match=r"no saved workflow with id 'nope' \(looked in the store and in "):
        load_sub_workflow("id:nope", workflow_file=str(tmp_path / "parent.pe.json"), find_workflow=None)
