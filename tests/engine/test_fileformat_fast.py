"""Loading a file's text gives what parsing its decoded data gives.

Text decoded by the loader itself takes cheaper paths than Python data handed to
`parse`: integers read by the JSON decoder (a hook only once one is too long for
Python), a plain node's config kept as decoded instead of copied (its keys are text).
Each is compared with the path Python data takes: the same workflow, or the same
problems naming the same file, node and field.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine import fileformat
from engine.errors import WorkflowInvalid
from tests.engine.test_fileformat import _NODE_ENTRIES, _doc

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
