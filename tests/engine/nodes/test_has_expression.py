"""`has_expression`, which looks at the plain types first, answers what the walk by
`isinstance` alone answers, for plain values and for subclasses of str, dict and list."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from engine.nodes.registry import has_expression


class _Str(str):
    pass


class _Dict(dict):  # type: ignore[type-arg]
    pass


class _List(list):  # type: ignore[type-arg]
    pass


def _by_isinstance(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, dict):
        return any(_by_isinstance(v) for v in value.values())
    if isinstance(value, list):
        return any(_by_isinstance(v) for v in value)
    return False


texts = st.sampled_from(["", "x", "{{ a }}", "{ {", "a{{b", "}}"]) | st.text(max_size=5)
leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts | texts.map(_Str)
values = st.recursive(
    leaves,
    lambda kids: st.lists(kids, max_size=3) | st.lists(kids, max_size=3).map(_List)
    | st.dictionaries(texts, kids, max_size=3) | st.dictionaries(texts, kids, max_size=3).map(_Dict),
    max_leaves=12,
)


@given(values)
def test_has_expression_answers_as_the_isinstance_walk(value: Any) -> None:
    assert has_expression(value) == _by_isinstance(value)
