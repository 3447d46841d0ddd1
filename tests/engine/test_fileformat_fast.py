"""Loading a file's text gives what parsing its decoded data gives.

Text decoded by the loader itself takes cheaper paths than Python data handed to
`parse`: integers read by the JSON decoder (a hook only once one is too long for
Python), a plain node's config kept as decoded instead of copied (its keys are text).
Each is compared with the path Python data takes: the same workflow, or the same
problems naming the same file, node and field.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine import fileformat
from engine.errors import WorkflowInvalid
from tests.engine.test_fileformat import _NODE_ENTRIES, EXAMPLES, _doc

CHECKS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


def _outcome(call) -> tuple[str, Any]:
    try:
        return "workflow", call()
    except WorkflowInvalid as exc:
        return "invalid", [(p.message, p.node_id, p.field, p.file) for p in exc.problems]


@CHECKS
@given(entry=_NODE_ENTRIES, base=st.booleans(), variables=st.dictionaries(st.text(max_size=3), st.integers() | st.floats() | st.none(), max_size=3))
@example(entry={"config": {"a": 1}}, base=True, variables={})
@example(entry={"config": {"1": {"2": [float("nan")]}}}, base=True, variables={})
@example(entry={"position": [0, 0]}, base=True, variables={"big": 10**300})
@example(entry={"position": [-0.0, 0]}, base=True, variables={})
@example(entry={"config": {"a": 1e300 * 10}}, base=True, variables={})
def test_a_file_loads_as_its_decoded_data_parses(entry: dict, base: bool, variables: dict) -> None:
    if base:
        entry = {"id": "a", "type": "set", "name": "A", **entry}
    doc = _doc(variables=variables)
    doc["nodes"].append(entry)
    text = json.dumps(doc)  # NaN and Infinity written as the words, as a hand-made file may hold them
    from_text = _outcome(lambda: fileformat.loads(text, file="f.pe.json", check_configs=False))
    from_data = _outcome(lambda: fileformat.parse(json.loads(text), file="f.pe.json", check_configs=False))
    assert from_text == from_data
    if from_text[0] == "workflow":
        for node in from_text[1].nodes:
            assert type(node.position[0]) is float and type(node.position[1]) is float


@contextmanager
def _int_digits(limit: int) -> Iterator[None]:
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(limit)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(before)


@pytest.mark.parametrize("digits", [4299, 4300, 4301, 5000, 20_000])
@pytest.mark.parametrize("place", ["config", "variables", "position"])
def test_long_integers_are_read_alike_whatever_python_allows(digits: int, place: str) -> None:
    """The decoder reads integers itself only while Python refuses one past 4,300 digits;
    allowed more (or no limit), the loader reads every integer through its hook, as before."""
    number = "-" + "7" * digits
    doc = _doc()
    text = json.dumps(doc)
    if place == "config":
        text = text.replace('"values": {"a": 1}', f'"values": {{"a": {number}}}')
    elif place == "variables":
        text = text.replace('"variables": {}', f'"variables": {{"v": [1, {number}]}}')
    else:
        text = text.replace('"position": [10, 0]', f'"position": [10, {number}]')
    default = _outcome(lambda: fileformat.loads(text, file="f.pe.json"))
    for limit in (0, 5000, 100_000):
        with _int_digits(limit):
            assert _outcome(lambda: fileformat.loads(text, file="f.pe.json")) == default
    if digits > fileformat.MAX_INT_DIGITS:
        assert default[0] == "invalid" and "digits; the limit is 4,300" in default[1][0][0]
    elif place != "position":
        assert default[0] == "workflow"


def test_a_syntax_error_after_a_long_integer_is_the_one_reported() -> None:
    text = '{"format": "processengine/1", "v": ' + "9" * 5000 + ", oops}"
    with pytest.raises(WorkflowInvalid) as err:
        fileformat.loads(text, file="f.pe.json")
    assert err.value.problems[0].message.startswith("not valid JSON (line 1 column")


def test_a_loaded_config_is_the_nodes_own() -> None:
    """Nodes built from decoded text hold their own config (nothing else holds the
    decoded document); nodes from Python data get a copy, as the model gives."""
    doc = _doc()
    wf = fileformat.parse(doc)
    assert wf.node("s").config == doc["nodes"][1]["config"]
    assert wf.node("s").config is not doc["nodes"][1]["config"]
    loaded = fileformat.loads(json.dumps(doc))
    assert loaded == wf
    loaded.node("s").config["values"]["a"] = 2
    assert wf.node("s").config["values"]["a"] == 1


# --------------------------------------------------------------------------- known valid
# A file whose verdict `engine.compiled` kept is built without the shape checks: the same
# workflow as the checked load, whatever the file holds (entries the models convert, such
# as a retry object or a position in text, still go through them).


def _both(text: str | bytes) -> tuple[Any, Any]:
    checked = fileformat.loads(text, file="f.pe.json", check_configs=False)
    known = fileformat.loads(text, file="f.pe.json", check_configs=False, known_valid=True)
    return checked, known


def _same(checked: Any, known: Any) -> None:
    assert known == checked
    for a, b in zip(known.nodes, checked.nodes, strict=True):
        assert [type(v) for v in (a.position[0], a.position[1])] == [float, float]
        assert type(a.config) is type(b.config) and type(a.retry) is type(b.retry)
    assert [type(c) for c in known.connections] == [type(c) for c in checked.connections]
    assert [hash(c) for c in known.connections] == [hash(c) for c in checked.connections]


@pytest.mark.parametrize("name", [p.name for p in EXAMPLES] + ["chain"])
def test_a_known_valid_file_builds_what_the_checks_build(name: str, tmp_path: Path) -> None:
    from tests.perf.bench_cli import chain_file

    path = chain_file(tmp_path, 300) if name == "chain" else next(p for p in EXAMPLES if p.name == name)
    _same(*_both(path.read_bytes()))


_NUMBERS = st.integers(-5, 5) | st.floats(-1e6, 1e6) | st.sampled_from(["1.5", "2", True])
_MOSTLY_VALID = st.fixed_dictionaries(
    {},
    optional={
        "position": st.lists(_NUMBERS, min_size=2, max_size=2),
        "config": st.dictionaries(st.sampled_from(["values", "keep_input"]), st.booleans() | st.dictionaries(st.text(max_size=2), st.integers() | st.text(max_size=4))),
        "retry": st.none() | st.sampled_from(["default", "strict", "none"])
        | st.fixed_dictionaries({}, optional={"max_attempts": st.sampled_from([1, 3, 3.0]), "initial_delay_s": st.sampled_from([0, 1, 0.5]), "jitter": st.booleans()}),
        "on_error": st.sampled_from(["fail", "route", "continue"]),
        "disabled": st.booleans() | st.sampled_from([0, 1, "true"]),
        "replay": st.booleans() | st.sampled_from([0, 1]),
        "pin": st.none() | st.integers() | st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    },
)


@CHECKS
@given(entry=_NODE_ENTRIES | _MOSTLY_VALID, variables=st.dictionaries(st.text(max_size=3), st.integers() | st.floats(allow_nan=False) | st.none(), max_size=3),
       connection=st.none() | st.dictionaries(st.sampled_from(["from", "from_", "from_port", "to", "to_port"]), st.sampled_from(["a", "start", "out", "in", ""]), min_size=2, max_size=5))
@example(entry={"retry": {"max_attempts": 3.0, "initial_delay_s": 1}}, variables={}, connection={})
@example(entry={"position": ["1.5", 2], "disabled": 0}, variables={}, connection={"from_": "start", "to": "a"})
@example(entry={"position": [1.5, -2], "config": {"values": {"a": 1}}}, variables={}, connection=None)  # five keys: the short way
@example(entry={"position": ["1.5", 2], "config": {}}, variables={}, connection=None)
@example(entry={"position": [0, 0], "retry": "strict"}, variables={}, connection=None)
def test_a_known_valid_entry_builds_what_the_checks_build(entry: dict, variables: dict, connection: dict | None) -> None:
    doc = _doc(variables=variables)
    doc["nodes"].append({"id": "a", "type": "set", "name": "A", **entry})
    if connection is not None:
        doc["connections"].append(connection)
    text = json.dumps(doc)
    try:
        checked = fileformat.loads(text, file="f.pe.json", check_configs=False)
    except WorkflowInvalid:
        return  # never kept: an invalid file gets no verdict
    _same(checked, fileformat.loads(text, file="f.pe.json", check_configs=False, known_valid=True))


def test_connections_are_built_as_the_class_builds_them() -> None:
    from engine.model import Connection

    built = fileformat._connection("a", "out", "b", "in")
    assert built == Connection("a", "out", "b", "in") and hash(built) == hash(Connection("a", "out", "b", "in"))
    assert repr(built) == repr(Connection("a", "out", "b", "in")) and built.key == ("a", "out", "b", "in")
    with pytest.raises(AttributeError):
        built.from_node = "c"  # type: ignore[misc]


def _same_value(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (1 is not 1.0, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return list(a) == list(b) and all(_same_value(v, b[k]) for k, v in a.items())
    if type(a) is list:
        return len(a) == len(b) and all(map(_same_value, a, b))
    if type(a) is float:
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


_NUMBER_TEXT = st.builds(
    lambda sign, whole, frac, exp: f"{sign}{whole}{frac}{exp}",
    st.sampled_from(["", "-"]),
    st.sampled_from(["0"]) | st.from_regex(r"[1-9][0-9]{0,24}", fullmatch=True),
    st.sampled_from([""]) | st.from_regex(r"\.[0-9]{1,20}", fullmatch=True),
    st.sampled_from([""]) | st.from_regex(r"[eE][+-]?[0-9]{1,3}", fullmatch=True),
)
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, database=None)
@given(value=_JSON_VALUES, numbers=st.lists(_NUMBER_TEXT, max_size=6), indent=st.sampled_from([None, 2]), ascii_only=st.booleans())
@example(value=[2**63 - 1, -(2**63), 2**64, -(2**64) - 1, 10**30], numbers=[], indent=None, ascii_only=True)
@example(value={"a": 1, "b": [0.1, -0.0, 1e16, 5e-324, 1.7976931348623157e308]}, numbers=["1E400", "-0", "1e-400"], indent=2, ascii_only=False)
@example(value="\ud800", numbers=[], indent=None, ascii_only=True)  # a lone surrogate, escaped
def test_a_known_valid_document_decodes_as_json_decodes_it(value: Any, numbers: list[str], indent: int | None, ascii_only: bool) -> None:
    """The known-valid decoder (orjson where it reads the text alike) gives what `json` gives,
    types included: integers past 64 bits stay integers, every float is the same float."""
    text = json.dumps({"value": value, "numbers": []}, indent=indent, ensure_ascii=ascii_only)
    text = text.replace('"numbers": []', '"numbers": [' + ", ".join(numbers) + "]")
    for data in (text.encode(), text.encode("utf-8-sig"), text.encode("utf-16"), text):
        got, odd = fileformat._decode_known(data)
        assert not odd
        assert _same_value(got, json.loads(text)), data[:200]


def test_a_duplicate_key_keeps_its_last_value_either_way() -> None:
    text = b'{"a": 1, "b": 2, "a": [3]}'
    assert fileformat._decode_known(text)[0] == json.loads(text) == {"a": [3], "b": 2}
    assert list(fileformat._decode_known(text)[0]) == ["a", "b"]
