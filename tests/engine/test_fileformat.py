"""The processengine/1 file: load, validate, clear problems, stable round trip, fuzzing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import fileformat
from engine.errors import WorkflowInvalid

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "app" / "resources" / "examples").glob("*.pe.json"))


def _doc(**over) -> dict:
    doc = {
        "format": "processengine/1",
        "id": "wf",
        "name": "t",
        "variables": {},
        "nodes": [
            {"id": "start", "type": "manual_trigger", "name": "Start", "position": [0, 0], "config": {}},
            {"id": "s", "type": "set", "name": "S", "position": [10, 0], "config": {"values": {"a": 1}}},
        ],
        "connections": [{"from": "start", "from_port": "out", "to": "s", "to_port": "in"}],
    }
    doc.update(over)
    return doc


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_stored_in_the_canonical_format(path: Path) -> None:
    """Saving an example from the app must not rewrite the whole file."""
    assert fileformat.dumps(fileformat.load(path)) == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_round_trip_byte_stable(path: Path, tmp_path: Path) -> None:
    wf = fileformat.load(path)
    out = tmp_path / "out.pe.json"
    fileformat.save(wf, out)
    again = fileformat.load(out)
    assert again == wf
    out2 = tmp_path / "out2.pe.json"
    fileformat.save(again, out2)
    assert out.read_bytes() == out2.read_bytes()  # save is a fixed point: diff-friendly


def test_not_json_names_file_and_position(tmp_path: Path) -> None:
    p = tmp_path / "broken.pe.json"
    p.write_text('{"format": "processengine/1", nodes: []}')
    with pytest.raises(WorkflowInvalid) as err:
        fileformat.load(p)
    (problem,) = err.value.problems
    assert problem.file == str(p)
    assert "not valid JSON" in problem.message and "line 1" in problem.message


def test_missing_file_is_a_clear_problem(tmp_path: Path) -> None:
    with pytest.raises(WorkflowInvalid) as err:
        fileformat.load(tmp_path / "nope.pe.json")
    assert "cannot read" in err.value.problems[0].message


def test_newer_format_version_is_refused_clearly() -> None:
    with pytest.raises(WorkflowInvalid) as err:
        fileformat.parse(_doc(format="processengine/2"), file="x.pe.json")
    (p,) = err.value.problems
    assert p.field == "format" and "newer" in p.message and "upgrade" in p.message


def test_foreign_format_is_refused() -> None:
    with pytest.raises(WorkflowInvalid) as err:
        fileformat.parse(_doc(format="n8n/1"))
    assert "not a ProcessEngine workflow" in err.value.problems[0].message


def test_unknown_fields_unknown_types_and_bad_configs_all_listed() -> None:
    doc = _doc()
    doc["surprise"] = 1
    with pytest.raises(WorkflowInvalid) as err:
        fileformat.parse(doc)
    assert any(p.field == "surprise" for p in err.value.problems)

    doc = _doc()
    doc["nodes"].append({"id": "x", "type": "teleport", "name": "X", "config": {}})
    doc["nodes"].append({"id": "h", "type": "http_request", "name": "H", "config": {"method": "GET", "url": "http://127.0.0.1/", "timeout_s": "soon"}})
    doc["nodes"].append({"id": "w", "type": "wait", "name": "W", "config": {"seconds": 1, "typo": True}})
    with pytest.raises(WorkflowInvalid) as err:
        fileformat.parse(doc, file="f.pe.json")
    got = {(p.node_id, p.field) for p in err.value.problems}
    assert ("x", "type") in got
    assert ("h", "config.timeout_s") in got
    assert ("w", "config.typo") in got
    assert all(p.file == "f.pe.json" for p in err.value.problems)


def test_node_field_errors_name_the_node() -> None:
    doc = _doc()
    doc["nodes"][1]["on_error"] = "explode"
    with pytest.raises(WorkflowInvalid) as err:
        fileformat.parse(doc)
    (p,) = err.value.problems
    assert p.node_id == "s" and p.field == "on_error"


def test_expression_fields_are_checked_at_run_time_not_load_time() -> None:
    doc = _doc()
    doc["nodes"].append({"id": "w", "type": "wait", "name": "W", "config": {"seconds": "{{ vars.delay }}"}})
    wf = fileformat.parse(doc)
    assert wf.node("w").config["seconds"] == "{{ vars.delay }}"


def test_duplicate_ids_reported() -> None:
    doc = _doc()
    doc["nodes"].append(dict(doc["nodes"][1]))
    with pytest.raises(WorkflowInvalid) as err:
        fileformat.parse(doc)
    assert any(p.node_id == "s" and p.field == "id" for p in err.value.problems)


def test_save_is_atomic_and_keeps_key_order(tmp_path: Path) -> None:
    wf = fileformat.parse(_doc())
    p = tmp_path / "w.pe.json"
    fileformat.save(wf, p)
    text = p.read_text()
    assert text.endswith("\n")
    assert list(json.loads(text)) == ["format", "id", "name", "variables", "nodes", "connections"]
    assert not (tmp_path / "w.pe.json.tmp").exists()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, st.builds(lambda extra: {**_doc(), **extra}, st.dictionaries(st.sampled_from(["format", "id", "nodes", "connections", "variables", "name", "x"]), json_values, max_size=3))))
def test_fuzzed_documents_never_crash_only_clear_problems(data) -> None:
    try:
        fileformat.parse(data, file="fuzz.pe.json")
    except WorkflowInvalid as exc:
        assert exc.problems and all(p.message for p in exc.problems)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_fuzzed_bytes_never_crash(raw: bytes) -> None:
    try:
        fileformat.loads(raw, file="fuzz.pe.json")
    except WorkflowInvalid as exc:
        assert exc.problems[0].file == "fuzz.pe.json"


def test_shape_and_config_problems_are_listed_together_without_union_noise() -> None:
    doc = _doc(colour="red")
    doc["nodes"][1]["retry"] = {"max_attempts": 0}
    doc["nodes"].append({"id": "x", "type": "teleport", "name": "X", "config": {}})
    doc["nodes"].append({"id": "w", "type": "wait", "name": "W", "config": {"seconds": -1}})
    with pytest.raises(WorkflowInvalid) as err:
        fileformat.parse(doc, file="f.pe.json")
    got = {(p.node_id, p.field) for p in err.value.problems}
    assert (None, "colour") in got
    assert ("s", "retry.max_attempts") in got  # not "retry.RetryFile.max_attempts"
    assert ("s", "retry") not in got  # the preset-name branch of the union is noise here
    assert ("x", "type") in got and ("w", "config.seconds") in got


def test_infinite_or_nan_positions_are_refused() -> None:
    text = json.dumps(_doc()).replace('"position": [10, 0]', '"position": [Infinity, NaN]')
    with pytest.raises(WorkflowInvalid) as err:
        fileformat.loads(text)
    assert any(p.node_id == "s" and (p.field or "").startswith("position") for p in err.value.problems)
