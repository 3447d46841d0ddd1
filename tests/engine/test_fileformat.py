"""The processengine/1 file: load, validate, clear problems, stable round trip, fuzzing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from engine import fileformat
from engine.errors import WorkflowInvalid
from tests.demo import example_names, example_path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [example_path(name) for name in example_names()]


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


def test_the_studios_replay_switch_is_saved_only_when_on_and_checked() -> None:
    doc = _doc()
    doc["nodes"].append({"id": "h", "type": "http_request", "name": "H", "config": {"url": "http://127.0.0.1:9/"}, "replay": True})
    wf = fileformat.parse(doc)
    assert wf.node("h").replay is True and wf.node("s").replay is False
    saved = fileformat.to_dict(wf)
    assert saved["nodes"][2]["replay"] is True and "replay" not in saved["nodes"][1]
    assert fileformat.parse(saved) == wf and wf.node("h").clone().replay is True
    doc["nodes"][2]["replay"] = "sometimes"
    with pytest.raises(WorkflowInvalid) as err:
        fileformat.parse(doc)
    (p,) = err.value.problems
    assert p.node_id == "h" and p.field == "replay"


def test_expression_fields_are_checked_at_run_time_not_load_time() -> None:
    doc = _doc()
    doc["nodes"].append({"id": "w", "type": "wait", "name": "W", "config": {"seconds": "{{ vars.delay }}"}})
    wf = fileformat.parse(doc)
    assert wf.node("w").config["seconds"] == "{{ vars.delay }}"


def test_configs_are_checked_by_the_validator_given_to_the_loader() -> None:
    from engine.errors import Problem
    from engine.model import Node

    seen: list[str] = []

    def only_positive(node: Node, *, file: str | None = None) -> list[Problem]:
        seen.append(node.id)
        bad = [k for k, v in node.config.get("values", {}).items() if isinstance(v, int) and v <= 0]
        return [Problem("must be positive", node_id=node.id, field=f"config.values.{k}", file=file) for k in bad]

    doc = _doc()
    doc["nodes"][1]["config"] = {"values": {"a": 0}}
    with pytest.raises(WorkflowInvalid) as err:
        fileformat.parse(doc, file="f.pe.json", config_validator=only_positive)
    assert [(p.node_id, p.field, p.message) for p in err.value.problems] == [("s", "config.values.a", "must be positive")]
    assert seen == ["start", "s"]
    seen.clear()
    fileformat.parse(doc, check_configs=False, config_validator=only_positive)
    assert seen == []  # configs not checked at all: the validator is not called
    with pytest.raises(WorkflowInvalid):  # a typo'd field of a malformed node: the validator still sees the others
        fileformat.parse({**doc, "nodes": [*doc["nodes"], {"id": "z", "type": "set"}]}, config_validator=only_positive)
    assert "s" in seen


def test_nesting_below_the_json_parsers_limit_is_reported_like_deeper_nesting() -> None:
    for depth in (150, 5000):  # 150 parses; 5,000 is cut before parsing
        nested = "[" * depth + "]" * depth
        text = json.dumps(_doc()).replace('"values": {"a": 1}', f'"values": {{"a": {nested}}}')
        with pytest.raises(WorkflowInvalid) as err:
            fileformat.loads(text)
        (p,) = err.value.problems
        assert (p.node_id, p.field) == ("s", "config.values.a.0") and "nested more than 100 levels" in p.message


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


# --------------------------------------------------------------------------- values the engine cannot hold

def _nest(depth: int, kinds: str, leaf: str = "1") -> str:
    """JSON text of `depth` levels, cycling through `kinds` ("l" a list, "o" an object)."""
    opens = "".join("[" if kinds[i % len(kinds)] == "l" else '{"k":' for i in range(depth))
    closes = "".join("]" if kinds[i % len(kinds)] == "l" else "}" for i in reversed(range(depth)))
    return opens + leaf + closes


_PLACES = {  # where in the document a hostile value goes: (text to replace, node, field prefix)
    "config": ('"values": {"a": 1}', "s", "config.values.a"),
    "position": ('"position": [10, 0]', "s", "position.0"),
    "variables": ('"variables": {}', None, "variables.v"),
}


def _hostile(place: str, value: str) -> str:
    text = json.dumps(_doc())
    old, _, _ = _PLACES[place]
    new = {"config": f'"values": {{"a": {value}}}', "position": f'"position": [{value}, 0]', "variables": f'"variables": {{"v": {value}}}'}[place]
    return text.replace(old, new)


@pytest.mark.parametrize("place", list(_PLACES))
@pytest.mark.parametrize(("value", "message"), [
    ("9" * 4301, "has about 4,301 digits; the limit is 4,300"),
    ("-" + "1" * 20000, "has about 20,000 digits"),
    (_nest(330, "l"), "nested more than 100 levels deep"),
    (_nest(5000, "lo"), "nested more than 100 levels deep"),
    ("[" + _nest(5000, "o") + ", " + "7" * 5000 + "]", "nested more than 100 levels deep"),
    ("[" + _nest(5000, "o") + ", " + "7" * 5000 + "]", "has about 5,000 digits"),
    ("NaN", "nan is not a JSON number"),
    ("-Infinity", "-inf is not a JSON number"),
    ("1e400", "inf is not a JSON number"),
])  # fmt: skip
def test_huge_integers_and_deep_nesting_are_listed_problems(place: str, value: str, message: str) -> None:
    with pytest.raises(WorkflowInvalid) as err:
        fileformat.loads(_hostile(place, value), file="f.pe.json")
    _, node, field = _PLACES[place]
    assert any(
        message in p.message and p.node_id == node and (p.field or "").startswith(field.split(".")[0]) and p.file == "f.pe.json"
        for p in err.value.problems
    ), err.value.problems


def test_values_at_the_limits_still_load() -> None:
    wf = fileformat.loads(_hostile("config", "9" * 4300).replace('"variables": {}', f'"variables": {{"v": {_nest(98, "lo")}}}'))  # 100 with the document's own two
    assert wf.node("s").config["values"]["a"] == int("9" * 4300)
    assert fileformat.loads(fileformat.dumps(wf)) == wf


def test_parse_of_python_data_checks_the_same() -> None:
    deep: list = []
    for _ in range(400):
        deep = [deep]
    doc = _doc(variables={"deep": deep})
    doc["nodes"][1]["config"]["values"]["a"] = 10**5000
    with pytest.raises(WorkflowInvalid) as err:
        fileformat.parse(doc, file="f.pe.json")
    assert {(p.node_id, p.field) for p in err.value.problems} == {("s", "config.values.a"), (None, "variables.deep.0.0")}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_cli_exit_2_lists_them_without_a_traceback(tmp_path: Path, command: str) -> None:
    path = tmp_path / "hostile.pe.json"
    path.write_text(_hostile("config", _nest(5000, "l")).replace('"variables": {}', '"variables": {"v": ' + "8" * 5000 + "}"))
    env = {**os.environ, "PROCESSENGINE_DB": str(tmp_path / "pe.db")}
    out = subprocess.run([sys.executable, "-m", "engine.cli", command, str(path)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=110, check=False)
    assert out.returncode == 2, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert "node 's', field 'config.values.a.0': nested more than 100 levels deep" in out.stderr
    assert "field 'variables.v': this integer has about 5,000 digits" in out.stderr


def _document_with(place: str, value: str) -> str:
    return _hostile(place, value)


hostile_values = st.one_of(
    st.integers(4290, 6000).map(lambda n: "9" * n),
    st.tuples(st.integers(90, 6000), st.text(alphabet="lo", min_size=1, max_size=4)).map(lambda t: _nest(t[0], t[1])),
    st.tuples(st.integers(95, 400), st.integers(4295, 4400)).map(lambda t: _nest(t[0], "ol", "9" * t[1])),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(place=st.sampled_from(list(_PLACES)), value=hostile_values, raw=st.booleans())
def test_fuzzed_files_with_huge_numbers_or_deep_nesting_never_crash(place: str, value: str, raw: bool) -> None:
    """Mutants like the 66 of 12,400 that crashed `validate`: only clear, located problems."""
    text = _document_with(place, value)
    try:
        fileformat.loads(text.encode() if raw else text, file="fuzz.pe.json")
    except WorkflowInvalid as exc:
        _, node, _ = _PLACES[place]
        assert exc.problems and all(p.message and p.file == "fuzz.pe.json" for p in exc.problems)
        assert any(p.node_id == node for p in exc.problems)
    else:
        depth = value.count("[") + value.count("{")  # every bracket of a _nest opens one more level
        longest = max((len(run) for run in value.replace("[", " ").replace("]", " ").replace("{", " ").replace("}", " ").replace(":", " ").replace('"k"', " ").split()), default=0)
        assert depth <= 100 and longest <= 4300


def test_one_level_over_the_limit_is_found_without_an_odd_number_in_sight() -> None:
    """Text with no long integer, NaN or Infinity only has its nesting looked at (one
    pass over the containers): the first level too deep is still reported where it is."""
    over = _hostile("config", "1").replace('"variables": {}', f'"variables": {{"v": {_nest(99, "lo")}}}')
    with pytest.raises(WorkflowInvalid) as err:
        fileformat.loads(over, file="f.pe.json")
    (p,) = err.value.problems
    assert p.field.startswith("variables.v") and "nested more than 100 levels" in p.message
    assert fileformat.loads(over.replace(_nest(99, "lo"), _nest(98, "lo"))).variables["v"]


def test_plain_entries_know_every_field_of_their_models() -> None:
    """A field added to NodeFile or ConnectionFile must be added to the plain shapes too,
    or nodes without it would be built without its default."""
    assert set(fileformat.NodeFile.model_fields) == fileformat._NODE_KEYS
    assert {f.alias or name for name, f in fileformat.ConnectionFile.model_fields.items()} == fileformat._CONNECTION_KEYS


_ODD_SCALARS = st.sampled_from([True, False, 0, 1, -1.5, 1e300, 10**20, "", "x", "1.5", None, [], {}, [1], [1, 2], [1.0, True]])
_NODE_ENTRIES = st.dictionaries(
    st.sampled_from([*sorted(fileformat._NODE_KEYS), "extra"]),
    _ODD_SCALARS | st.sampled_from(["fail", "route", "continue", "default", "strict", "none", "set"])
    | st.dictionaries(st.text(max_size=3) | st.integers(0, 2), _ODD_SCALARS, max_size=3)
    | st.lists(st.integers(-5, 5) | st.floats(allow_nan=True) | st.booleans(), max_size=3),
    max_size=10,
)


@settings(max_examples=600, deadline=None, database=None)
@given(entry=_NODE_ENTRIES, base=st.booleans())
@example(entry={"id": ""}, base=True)
@example(entry={"position": [True, 1]}, base=True)
@example(entry={"position": [1e300, 0]}, base=True)
@example(entry={"position": [1, 2, 3]}, base=True)
@example(entry={"position": [float("nan"), 0]}, base=True)
@example(entry={"config": {1: 2}}, base=True)
@example(entry={"config": {"a": {1: 2}}, "pin": [1]}, base=True)
@example(entry={"retry": {}}, base=True)
@example(entry={"retry": "sometimes"}, base=True)
@example(entry={"on_error": "ignore"}, base=True)
@example(entry={"disabled": 1, "replay": True}, base=True)
@example(entry={"extra": 1}, base=True)
def test_a_plain_node_is_built_as_the_model_builds_it(entry: dict, base: bool) -> None:
    if base:  # most generated entries lack an id, type or name: give half of them one
        entry = {"id": "a", "type": "set", "name": "A", **entry}
    direct = fileformat._plain_node(entry)
    try:
        modelled = fileformat._node_of(fileformat.NodeFile.model_validate(entry))
    except ValidationError:
        assert direct is None
        return
    assert direct is None or (direct == modelled and type(direct.position[0]) is float)


_CONNECTION_ENTRIES = st.dictionaries(
    st.sampled_from([*sorted(fileformat._CONNECTION_KEYS), "from_", "extra"]),
    _ODD_SCALARS | st.sampled_from(["a", "out", "in", "b"]),
    max_size=5,
)


@settings(max_examples=300, deadline=None, database=None)
@given(entry=_CONNECTION_ENTRIES)
@example(entry={"from": "", "to": "b"})
@example(entry={"from": "a", "to": ""})
@example(entry={"from": "a", "to": "b", "from_port": ""})
@example(entry={"from": "a", "to": "b", "to_port": 1})
@example(entry={"from_": "a", "to": "b"})
def test_a_plain_connection_is_built_as_the_model_builds_it(entry: dict) -> None:
    direct = fileformat._plain_connection(entry)
    try:
        modelled = fileformat._connection_of(fileformat.ConnectionFile.model_validate(entry))
    except ValidationError:
        assert direct is None
        return
    assert direct is None or direct == modelled


def test_a_file_of_plain_nodes_loads_as_one_checked_by_the_models() -> None:
    """The same document with one entry the models must check (a retry object) gives the
    same workflow, and its problems are still worded by the models."""
    doc = _doc()
    plain = fileformat.parse(doc)
    doc["nodes"][1]["retry"] = {"max_attempts": 2}
    checked = fileformat.parse(doc)
    assert checked.node("s").retry == {"max_attempts": 2}
    checked.node("s").retry = None
    assert checked == plain
    doc["nodes"][1]["position"] = [1, "up"]
    with pytest.raises(WorkflowInvalid) as err:
        fileformat.parse(doc)
    assert [(p.node_id, p.field) for p in err.value.problems] == [("s", "position.1")]
