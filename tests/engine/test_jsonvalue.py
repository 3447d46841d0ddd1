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

from engine.jsonvalue import checked_text, compact_encoder, unstorable
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
def test_the_text_given_for_a_checked_output_is_the_stores_encoding(port: str, value: Any) -> None:
    problem, raw = checked_text({port: value})
    assert problem == unstorable({port: value})
    if problem is not None:
        assert raw is None
        return
    assert raw == codec.dumps(value).encode("utf-8")


@pytest.mark.parametrize(
    "checked",
    [{"a": {"x": 1}, "b": {"y": 2}}, [{"x": 1}], {1: {"x": 1}}],
    ids=["two ports", "a list", "a key that is not text"],
)
def test_only_a_one_port_output_gets_its_text(checked: Any) -> None:
    assert checked_text(checked) == (None, None)


def test_a_refused_value_gets_no_text() -> None:
    assert checked_text({"out": math.nan}) == ("it holds NaN or Infinity, which JSON does not have", None)


_CYCLE: list[Any] = []
_CYCLE.append({"again": _CYCLE})


@given(values)
@example(math.nan)
@example({"x": object()})
@example("\ud800")
@example(_CYCLE)  # the one-port path keeps no markers: a cycle is found by the checked encoding
@example({1: [2**70, -0.0, 1e300]})
def test_a_one_port_output_is_checked_as_the_whole_output_is(value: Any) -> None:
    """The one-port fast path (v encoded alone) gives what encoding `{port: v}` gives."""
    from engine.jsonvalue import _checked, _port_text

    for outputs in ({"out": value}, {"é": value}):
        problem, raw = _checked(outputs)
        assert checked_text(outputs) == (problem, None if raw is None else _port_text(outputs, raw))


@given(st.lists(values, min_size=1, max_size=6))
def test_the_kept_encoder_after_refusals_writes_what_a_new_one_writes(batch: list[Any]) -> None:
    """One C encoder serves call after call: a call that fails mid-way (a circular value, NaN,
    a key of no JSON type) leaves nothing behind that changes a later call's outcome, also
    for values holding the very containers the failed call was inside."""
    shared: list[Any] = [{"k": 1}]
    for mode, slow in SLOW.items():
        fast = FAST[mode]
        for value in batch:
            box: list[Any] = [value, shared]
            box.append(box)  # refused when the encoder is inside `box` (and was inside `shared`)
            _same(fast, slow, box)
            box.pop()  # now a value like any other: no marker of the refusal may be left
            _same(fast, slow, box)
            _same(fast, slow, {"x": box})


def _same(fast: Any, slow: Any, value: Any) -> None:
    got, want = _outcome(fast, value), _outcome(slow, value)
    assert got[0] == want[0] and ("object at 0x" in want[1] or got == want)


def test_another_thread_and_a_nested_call_get_their_own_encoder() -> None:
    """A call from another thread, or one made inside a call (a `default` that encodes),
    never shares the kept encoder's markers with the call under way."""
    import threading

    inner: list[str] = []

    def default(obj: Any) -> Any:
        inner.append(nested(obj.payload))
        return "seen"

    class Marked:
        def __init__(self, payload: Any) -> None:
            self.payload = payload

    nested = compact_encoder(default=default, allow_nan=True)
    same = {"a": [1, 2]}
    assert nested([same, Marked(same), same]) == '[{"a":[1,2]},"seen",{"a":[1,2]}]'
    assert inner == ['{"a":[1,2]}']
    got: list[str] = []

    def other_thread() -> None:  # its own kept encoder: a refusal there leaves this thread's alone
        loop: list[Any] = []
        loop.append(loop)
        got.append(_outcome(FAST[(False, None)], loop)[1])
        got.append(FAST[(False, None)]({"t": [same, same]}))

    worker = threading.Thread(target=other_thread)
    worker.start()
    worker.join()
    assert got == ["Circular reference detected", '{"t":[{"a":[1,2]},{"a":[1,2]}]}']
    assert FAST[(False, None)]([same, same]) == '[{"a":[1,2]},{"a":[1,2]}]'

