"""The compiled-workflow cache's compact form: a warm load built from it gives the
workflow the file gives, object for object and type for type, and a form that is not
this user's alone, or not intact, is never used (the file is decoded instead)."""

from __future__ import annotations

import json
import marshal
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine import compiled, fileformat
from engine.errors import WorkflowInvalid
from engine.model import Workflow
from tests.engine.test_fileformat import _NODE_ENTRIES, EXAMPLES, _doc
from tests.engine.test_fileformat_fast import _JSON_VALUES, _MOSTLY_VALID, _same_value
from tests.perf.bench_cli import chain_file

CHECKS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(compiled.CACHE_ENV, str(folder))
    return folder


def _round_trip(wf: Workflow) -> Workflow:
    data = compiled._compact(wf)
    assert data is not None
    start = len(compiled.COMPACT_FORMAT) + compiled._DIGEST
    return compiled._from_compact(marshal.loads(data[start:]))


def _same_fields(a: Any, b: Any, fields: tuple[str, ...]) -> None:
    for field in fields:
        x, y = getattr(a, field), getattr(b, field)
        assert type(x) is type(y), field
        assert _same_value(list(x), list(y)) if type(x) is tuple else _same_value(x, y), field


def _assert_same(built: Workflow, loaded: Workflow) -> None:
    """Equal, with the same types all the way down, and no mutable value shared by two nodes."""
    assert built == loaded
    assert (built.id, built.name, built.max_node_visits, built.concurrency) == (loaded.id, loaded.name, loaded.max_node_visits, loaded.concurrency)
    assert _same_value(built.variables, loaded.variables)
    for a, b in zip(built.nodes, loaded.nodes, strict=True):
        _same_fields(a, b, compiled._NODE_FIELDS)
    for a, b in zip(built.notes, loaded.notes, strict=True):
        _same_fields(a, b, compiled._NOTE_FIELDS)
    assert [(type(c), hash(c)) for c in built.connections] == [(type(c), hash(c)) for c in loaded.connections]
    assert list(built._by_id) == list(loaded._by_id) and all(built._by_id[k] is n for k, n in zip(built._by_id, built.nodes, strict=True))
    mutable = [id(v) for n in built.nodes for v in (n.config, n.retry, n.pin) if isinstance(v, (dict, list))]
    assert len(mutable) == len(set(mutable))


@CHECKS
@given(
    entries=st.lists(_NODE_ENTRIES | _MOSTLY_VALID, max_size=4),
    variables=st.dictionaries(st.text(max_size=3), _JSON_VALUES, max_size=3),
    config=_JSON_VALUES,
    notes=st.lists(st.fixed_dictionaries({"id": st.text(min_size=1, max_size=3), "text": st.text(max_size=5)},
                                         optional={"position": st.lists(st.integers(-3, 3) | st.floats(-1e3, 1e3), min_size=2, max_size=2)}), max_size=2),
    extra=st.fixed_dictionaries({}, optional={"concurrency": st.integers(1, 9), "max_node_visits": st.integers(1, 10**6)}),
)
@example(entries=[{"config": {"big": 10**40, "neg": -0.0, "text": "\ud800 é"}, "position": [1, -0.0]}], variables={"x": [1.5, None, True]}, config={}, notes=[], extra={})
def test_the_compact_form_builds_what_the_file_builds(entries: list[dict], variables: dict, config: Any, notes: list[dict], extra: dict) -> None:
    doc = _doc(variables=variables, notes=notes, **extra)
    doc["nodes"][1]["config"] = {"values": {"v": config}}
    for i, entry in enumerate(entries):
        doc["nodes"].append({"id": f"e{i}", "type": "set", "name": f"E{i}", **entry})
        doc["connections"].append({"from": "s", "to": f"e{i}"})
    text = json.dumps(doc)
    try:
        checked = fileformat.loads(text, file="f.pe.json", check_configs=False)
    except WorkflowInvalid:
        return  # never kept: an invalid file gets no entry
    _assert_same(_round_trip(checked), checked)


@pytest.mark.parametrize("name", [p.name for p in EXAMPLES])
def test_every_example_comes_back_from_its_compact_form(name: str) -> None:
    wf = fileformat.load(next(p for p in EXAMPLES if p.name == name))
    _assert_same(_round_trip(wf), wf)


def test_equal_texts_come_back_as_one_object(tmp_path: Path) -> None:
    wf = _round_trip(fileformat.load(chain_file(tmp_path, 3)))
    nodes = wf._by_id
    for c in wf.connections:
        assert c.from_node is nodes[c.from_node].id and c.to_node is nodes[c.to_node].id
    assert len({id(c.from_port) for c in wf.connections}) == 1 and len({id(n.type) for n in wf.nodes[1:]}) == 1


# --------------------------------------------------------------------------- in the cache


def _warm_from(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[compiled.Loaded, list[str]]:
    """A load, and whether the file's text was decoded for it (`_load_known`)."""
    decoded: list[str] = []
    real = compiled._load_known
    monkeypatch.setattr(compiled, "_load_known", lambda raw, name: decoded.append(name) or real(raw, name))
    return compiled.load(str(path)), decoded


def _form_of(cache: Path) -> Path:
    (form,) = (cache / "compiled").glob("*.wf")
    return form


def test_a_warm_load_is_built_from_the_compact_form(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = chain_file(tmp_path, 5)
    cold = compiled.load(str(path))
    assert oct(_form_of(cache).stat().st_mode & 0o777) == oct(0o600)
    warm, decoded = _warm_from(path, monkeypatch)
    assert warm.warm and decoded == []
    _assert_same(warm.workflow, cold.workflow)
    assert warm.content_hash == cold.content_hash


@pytest.mark.parametrize("spoil", ["file writable by others", "folder writable by others", "a byte changed", "cut short", "another format", "not marshal data"])
def test_a_compact_form_not_to_be_trusted_is_not_used(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, spoil: str) -> None:
    path = chain_file(tmp_path, 5)
    cold = compiled.load(str(path))
    form = _form_of(cache)
    data = form.read_bytes()
    head = len(compiled.COMPACT_FORMAT) + compiled._DIGEST
    if spoil == "file writable by others":
        form.chmod(0o622)
    elif spoil == "folder writable by others":
        form.parent.chmod(0o777)
    elif spoil == "a byte changed":  # still marshal data, of another workflow
        assert data.count(b"{{ 3 + 1 }}") == 1
        form.write_bytes(data.replace(b"{{ 3 + 1 }}", b"{{ 3 + 2 }}"))
    elif spoil == "cut short":
        form.write_bytes(data[: len(data) // 2])
    elif spoil == "another format":
        form.write_bytes(b"processengine-compact/0\n" + data[len(compiled.COMPACT_FORMAT) :])
    else:
        import hashlib

        junk = b"\xff" + os.urandom(40)
        form.write_bytes(compiled.COMPACT_FORMAT + hashlib.sha256(junk).digest() + junk)
    assert len(data) > head
    warm, decoded = _warm_from(path, monkeypatch)
    assert warm.warm and decoded == [str(path)]
    _assert_same(warm.workflow, cold.workflow)


def test_a_workflow_marshal_cannot_keep_gets_no_compact_form(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wf = fileformat.load(chain_file(tmp_path, 3))
    wf.nodes[1].pin = object()  # never in a loaded file: the guard for whatever else marshal refuses
    assert compiled._compact(wf) is None
    path = chain_file(tmp_path, 4)
    monkeypatch.setattr(compiled, "_compact", lambda wf: None)
    compiled.load(str(path))
    assert list((cache / "compiled").glob("*.wf")) == [] and len(list((cache / "compiled").glob("*.json"))) == 1
    warm, decoded = _warm_from(path, monkeypatch)
    assert warm.warm and decoded == [str(path)]


def test_an_evicted_entry_takes_its_compact_form_along(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiled, "MAX_ENTRIES", 2)
    keys = []
    for i in range(3):
        path = chain_file(tmp_path, 2 + i)
        compiled.load(str(path))
        keys.append(compiled.key_of(path.read_bytes()))
        os.utime(compiled.entry_path(cache, keys[-1]), ns=((i + 1) * 10**9, (i + 1) * 10**9))
    kept = {p.stem for p in (cache / "compiled").glob("*.json")}
    assert kept == set(keys[1:]) and {p.stem for p in (cache / "compiled").glob("*.wf")} == kept


@pytest.mark.parametrize("piece", [1, 7, compiled.KEY_PIECE])
def test_a_file_read_in_pieces_has_the_key_of_its_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece: int) -> None:
    path = chain_file(tmp_path, 40)
    monkeypatch.setattr(compiled, "KEY_PIECE", piece)
    assert compiled._key_of_file(str(path)) == compiled.key_of(path.read_bytes())


def test_a_warm_load_from_the_compact_form_never_reads_the_whole_file(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = chain_file(tmp_path, 5)
    cold = compiled.load(str(path))
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} read whole"))
    warm = compiled.load(str(path))
    assert warm.warm and warm.workflow == cold.workflow
    _form_of(cache).unlink()  # no form: the whole file is read and decoded, as before
    monkeypatch.undo()
    monkeypatch.setenv(compiled.CACHE_ENV, str(cache))
    again, decoded = _warm_from(path, monkeypatch)
    assert again.warm and decoded == [str(path)] and again.workflow == cold.workflow


def test_an_unreadable_file_is_said_so_with_the_cache_on(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(WorkflowInvalid, match="cannot read file") as info:
        compiled.load(str(tmp_path / "missing.pe.json"))
    assert [p.file for p in info.value.problems] == [str(tmp_path / "missing.pe.json")]
