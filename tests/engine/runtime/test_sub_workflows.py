"""Finding a sub-workflow without a host loader: by path beside the parent, or by id; through the
compiled-workflow cache, with the problems of an invalid file as they were without it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine import fileformat
from engine.compiled import CACHE_ENV
from engine.errors import NodeError, WorkflowInvalid
from engine.graph import ensure_valid
from engine.model import Workflow
from engine.runtime.sub_workflows import load_file, load_sub_workflow
from engine.store.store import workflow_document
from tests.engine.runtime.helpers import parent_and_child, save_doubling_child, workflow


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


# -- the compiled-workflow cache ---------------------------------------------------------
def _doc(nodes: list[dict[str, Any]], targets: list[str], **extra: Any) -> dict[str, Any]:
    """A child document: a trigger `t`, then `nodes`, with t -> each of `targets`."""
    return {
        "format": "processengine/1", "id": "wf-child", "name": "child",
        "nodes": [{"id": "t", "type": "manual_trigger", "name": "t", "config": {}}, *({"name": n.get("id"), "config": {}, **n} for n in nodes)],
        "connections": [{"from": "t", "from_port": "out", "to": to, "to_port": "in"} for to in targets],
        **extra,
    }  # fmt: skip


BAD_SET = {"id": "s", "type": "set", "config": {"values": 5}}
BROKEN: dict[str, Any] = {  # a child with problems of its own (None: no file at all)
    "config": _doc([BAD_SET], ["s"]),
    "graph": _doc([{"id": "s", "type": "set"}], ["nowhere"]),
    "config and graph": _doc([BAD_SET], ["nowhere"]),
    "shape and config": {**_doc([BAD_SET], ["s"]), "nodes": [*_doc([BAD_SET], ["s"])["nodes"], {"id": 3}]},
    "expression": _doc([{"id": "s", "type": "set", "config": {"values": {"a": "{{ 1 + }}"}}}], ["s"]),
    "unknown type": _doc([{"id": "s", "type": "no_such_type"}], ["s"]),
    "no trigger": {**_doc([{"id": "s", "type": "set"}], []), "nodes": [{"id": "s", "type": "set", "name": "s", "config": {}}]},
    "not JSON": "{",
    "missing": None,
}


def _write(path: Path, doc: Any) -> None:
    if doc is not None:
        path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")


def _problems(load: Callable[[], Any]) -> list[str]:
    with pytest.raises(WorkflowInvalid) as got:
        load()
    return [str(p) for p in got.value.problems]


def _uncached(path: Path) -> Workflow:
    """How a sub-workflow file was loaded before the cache: every check, every time."""
    wf = fileformat.load(path)
    ensure_valid(wf, file=str(path))
    return wf


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / "compiled").glob("*.json")) if (folder / "compiled").exists() else []


@pytest.mark.parametrize("name", BROKEN)
def test_an_invalid_child_has_the_same_problems_with_the_cache_on_and_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    _write(tmp_path / "child.pe.json", BROKEN[name])
    parent, cache = str(tmp_path / "parent.pe.json"), tmp_path / "cache"

    def load() -> Workflow:
        return load_sub_workflow("child.pe.json", workflow_file=parent, find_workflow=None)

    monkeypatch.setenv(CACHE_ENV, str(cache))
    on = [_problems(load), _problems(load)]  # an invalid file gets no entry: checked in full again
    monkeypatch.setenv(CACHE_ENV, "")
    off = _problems(load)
    assert off and on == [off, off]
    assert off == _problems(lambda: _uncached(tmp_path / "child.pe.json"))  # as before the cache
    assert _entries(cache) == []


def _outcome(load: Callable[[], Any]) -> tuple[str, Any]:
    """What a load ended with: the problems of an invalid workflow, or the node's error."""
    try:
        load()
    except WorkflowInvalid as exc:
        return "invalid", [str(p) for p in exc.problems]
    except NodeError as exc:
        return "node error", str(exc)
    return "loaded", None


def _by_id_uncached(folder: Path, wanted: str) -> Workflow:
    """How an id was found among the files before the cache."""
    for candidate in sorted(folder.glob("*.pe.json")):
        try:
            wf = fileformat.load(candidate)
        except WorkflowInvalid:
            continue
        if wf.id == wanted:
            ensure_valid(wf, file=str(candidate))
            return wf
    raise NodeError(f"no saved workflow with id {wanted!r} (looked in the store and in {folder})")


@pytest.mark.parametrize("name", BROKEN)
def test_a_file_with_the_id_asked_for_ends_the_same_with_the_cache_on_and_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """A neighbour that does not load is passed over; one that loads with the id asked
    for but is invalid says why: as before the cache, whether it is on or off."""
    _write(tmp_path / "child.pe.json", BROKEN[name])
    _child(tmp_path, "other.pe.json", "wf-other")
    parent = str(tmp_path / "parent.pe.json")

    def load() -> Workflow:
        return load_sub_workflow("id:wf-child", workflow_file=parent, find_workflow=None)

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    on = [_outcome(load), _outcome(load)]
    monkeypatch.setenv(CACHE_ENV, "")
    off = _outcome(load)
    assert off[0] != "loaded" and on == [off, off]
    assert off == _outcome(lambda: _by_id_uncached(tmp_path, "wf-child"))


def test_a_valid_child_is_loaded_warm_from_the_second_call_on_as_the_same_workflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.compiled import cache_dir, entry_path, key_of

    path = tmp_path / "child.pe.json"
    _write(path, _doc([{"id": "s", "type": "set", "config": {"values": {"a": "{{ input.n * 2 }}"}}}], ["s"], variables={"k": 1}))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    parent = str(tmp_path / "parent.pe.json")
    cold = load_sub_workflow("child.pe.json", workflow_file=parent, find_workflow=None)
    folder = cache_dir()
    assert folder is not None and entry_path(folder, key_of(path.read_bytes())).exists()  # its verdict is kept
    warm = load_file(path)
    by_id = load_sub_workflow("id:wf-child", workflow_file=parent, find_workflow=None)
    assert warm.warm and warm.content_hash == workflow_document(cold)[1]
    expected = fileformat.to_dict(_uncached(path))
    assert fileformat.to_dict(cold) == fileformat.to_dict(warm.workflow) == fileformat.to_dict(by_id) == expected


async def test_the_service_saves_a_file_childs_version_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A child run twice (its file cold, then warm) is one saved version: the row saving it from scratch writes."""
    from engine.service import ExecutionService
    from engine.store.schema import workflows

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    parent = parent_and_child(tmp_path)
    svc = ExecutionService(str(tmp_path / "pe.db"))
    try:
        for _ in range(2):
            rec = await svc.run(parent, workflow_file=str(tmp_path / "parent.pe.json"))
            assert rec.status == "completed" and rec.main.outputs["after"] == {"r": 42}
        with svc.store.engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(sa.select(workflows.c.workflow_id, workflows.c.content_hash, workflows.c.document).order_by(workflows.c.id))]
    finally:
        svc.close()
    child = fileformat.load(tmp_path / "child.pe.json")
    document, content_hash = workflow_document(child)
    assert rows[1:] == [("child-wf", content_hash, document)] and len(rows) == 2


@pytest.mark.parametrize("durable", [True, False], ids=["sqlite", "memory"])
async def test_the_service_finds_a_child_by_id_saved_or_beside_the_parent(tmp_path: Path, durable: bool) -> None:
    """`workflow_id` (DESIGN: "file or workflow id"): the store's newest version of that id,
    else the file beside the parent holding it (the service looked for a file named "id:…")."""
    from engine.service import ExecutionService

    save_doubling_child(tmp_path)  # child.pe.json, id child-wf
    parent = workflow(
        [{"id": "start", "type": "manual_trigger"}, {"id": "call", "type": "sub_workflow", "config": {"workflow_id": "child-wf", "inputs": {"n": 4}}}],
        [("start", "out", "call")],
    )
    svc = ExecutionService(str(tmp_path / "pe.db")) if durable else ExecutionService(in_memory=True)
    try:
        rec = await svc.run(parent, workflow_file=str(tmp_path / "parent.pe.json"))
        assert rec.status == "completed", rec.error
        assert rec.main.outputs["call"] == {"doubled": 8}
        if durable:  # a saved version of the id comes before the file
            saved = workflow(
                [{"id": "in", "type": "manual_trigger"}, {"id": "triple", "type": "set", "config": {"values": {"tripled": "{{ input.n * 3 }}"}}}],
                [("in", "out", "triple")],
            )
            saved.id = "child-wf"
            svc.store.save_workflow(saved)
            rec = await svc.run(parent, workflow_file=str(tmp_path / "parent.pe.json"))
            assert rec.status == "completed" and rec.main.outputs["call"] == {"tripled": 12}
    finally:
        svc.close()
