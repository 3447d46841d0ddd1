"""The fast JSON paths of `engine.jsonvalue` against the slow ones they replace: the direct
C encoder writes the text `json.JSONEncoder` writes (or raises what it raises), and the
text `unstorable` keeps for the store is the text `codec.encode_value` would make."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from engine.jsonvalue import checked_json, compact_encoder, unstorable
from engine.store import codec

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
keys = st.text(max_size=8) | st.integers() | st.floats(allow_nan=False) | st.booleans() | st.none()
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=20,
)

SLOW = {
    (True, "str"): json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=True, default=str).encode,
    (False, None): json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode,
}
FAST = {(True, "str"): compact_encoder(default=str, allow_nan=True), (False, None): compact_encoder(default=None, allow_nan=False)}


def _outcome(encode: Any, value: Any) -> tuple[str, str]:
    try:
        return "text", encode(value)
    except (ValueError, TypeError, RecursionError) as exc:
        return type(exc).__name__, str(exc)


@given(values)
@example({"é\ud800": 1})  # a lone surrogate is kept in the text (refused only when encoded to UTF-8)
@example([math.nan, math.inf])
@example({(1, 2): "tuple key"})
@example({"x": object()})
def test_the_direct_encoder_writes_what_json_encoder_writes(value: Any) -> None:
    for mode, slow in SLOW.items():
        got, want = _outcome(FAST[mode], value), _outcome(slow, value)
        if "object at 0x" in want[1]:  # default=str of an object: the same text up to its address
            assert got[0] == want[0]
        else:
            assert got == want


def test_a_circular_value_is_refused_with_the_encoders_words() -> None:
    loop: list[Any] = []
    loop.append(loop)
    assert _outcome(FAST[(False, None)], loop) == ("ValueError", "Circular reference detected")
    assert unstorable({"out": loop}) == "Circular reference detected"


@given(st.text(min_size=1, max_size=8), values)
@example("ünïcode port", {"ß": ["€", 1.5, None]})
def test_the_text_kept_for_a_checked_output_is_the_stores_encoding(port: str, value: Any) -> None:
    checked_json(value)  # nothing left from an earlier example
    if unstorable({port: value}) is not None:
        assert checked_json(value) is None
        return
    assert checked_json(value) == codec.dumps(value).encode("utf-8")
    assert checked_json(value) is None  # handed out once


@pytest.mark.parametrize(
    "checked",
    [{"a": {"x": 1}, "b": {"y": 2}}, [{"x": 1}], {1: {"x": 1}}],
    ids=["two ports", "a list", "a key that is not text"],
)
def test_only_a_one_port_output_keeps_its_text(checked: Any) -> None:
    assert unstorable(checked) is None
    inner = checked["a"] if isinstance(checked, dict) and "a" in checked else (checked[0] if isinstance(checked, list) else checked[1])
    assert checked_json(inner) is None


def test_the_kept_text_is_for_that_very_value_only() -> None:
    value = {"x": [1, 2]}
    assert unstorable({"out": value}) is None
    assert checked_json({"x": [1, 2]}) is None  # equal but another object: encoded again by the store
    assert unstorable({"out": value}) is None
    assert checked_json(value) == b'{"x":[1,2]}'


def test_a_refused_value_forgets_the_text_kept_before() -> None:
    value = {"x": 1}
    assert unstorable({"out": value}) is None
    assert unstorable({"out": math.nan}) is not None
    assert checked_json(value) is None


def test_the_kept_text_is_forgotten_once_another_value_is_written() -> None:
    """A value checked but not written next (a loop's items, say) is encoded again if
    it is written later: it may have changed in between."""
    items, other = [1, 2], {"x": 1}
    assert unstorable({"items": items}) is None
    assert checked_json(other) is None
    assert checked_json(items) is None


async def test_a_checkpointer_starts_with_no_text_kept_from_before(tmp_path: Any) -> None:
    from engine.runtime.orchestrator import new_record
    from engine.service import ExecutionService
    from engine.store.checkpoint import Checkpointer
    from tests.engine.runtime.helpers import workflow

    value = {"x": 1}
    assert unstorable({"out": value}) is None  # e.g. the last node of a run kept in memory
    with ExecutionService(str(tmp_path / "pe.db")) as svc:
        rec = new_record(workflow([{"id": "start", "type": "manual_trigger"}], []), execution_id="e1", workspace=svc.workspace)
        Checkpointer(svc.store.raw, rec, owner_token=svc.store.me.token).close()
    assert checked_json(value) is None
