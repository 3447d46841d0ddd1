"""A field rendered by its plan (`engine.expressions._plan`: a value, a key path read in
line, a tree `quick` reads, the evaluator, parts joined) gives what the evaluator gives
when it runs every expression itself: values, error messages, positions and field paths;
and every plan kind is met by these fields."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine import expressions
from engine.expressions import make_names, render, render_config
from tests.engine.test_expression_front import _plain_texts, _texts
from tests.engine.test_expression_fuzz import EXPRESSIONS, JSON
from tests.engine.test_expressions_fast import outcome

CHECKS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


@contextmanager
def evaluator_only() -> Iterator[None]:
    """Every field's expressions run by the evaluator: plans that only split the field,
    no key path read directly and no quick read."""
    plan, plain, follow, quick = expressions._plan, expressions._front_plain, expressions._follow, expressions.quick  # type: ignore[attr-defined]

    def split_only(text: str, matched: object = expressions._UNMATCHED) -> expressions._Plan:
        _, _, whole, parts = plan(text, matched)  # type: ignore[arg-type]
        return (expressions._JOIN, None, None, parts) if whole is None else (expressions._EVALUATE, None, whole, parts)

    expressions._plan = split_only
    expressions._front_plain = lambda field: None
    expressions._follow = lambda path, names: expressions._MISSING
    expressions.quick = lambda node, names: expressions._MISSING  # type: ignore[attr-defined]
    expressions._PLANS.clear()
    try:
        yield
    finally:
        expressions._plan, expressions._front_plain, expressions._follow, expressions.quick = plan, plain, follow, quick  # type: ignore[attr-defined]
        expressions._PLANS.clear()


def _names(data: object) -> dict[str, Any]:
    return make_names(
        input=data, nodes={"a": data, "k": [data, 1.5]}, vars={"k": 1, "s": "t", "a": {"b": data}, "f": 2.5, "big": 10**18},
        loop=None, execution={"id": "e"},
    )  # fmt: skip


FIELDS = ("{{ %s }}", "{{%s}}", "  {{ %s }} ", "<{{ %s }}>", "{{ %s }}{{ %s }}")
SOURCES = _texts() | _plain_texts() | EXPRESSIONS | st.sampled_from(
    ["vars.k", "vars.a.b", "input", "input.a", "input[0]", "nodes.k[0]", "vars.nope", "vars.k.x", "execution.id", "nope.k"]
)


def _render_all(field: str, names: dict[str, Any]) -> list[object]:
    return [
        outcome(lambda: render(field, names, field="f", node_id="n")),
        outcome(lambda: render({"k": [field]}, names, field="config")),
        outcome(lambda: render_config({"a": field, "b": {"c": field}}, (), names, node_id="n")),
    ]


@CHECKS
@given(source=SOURCES, data=JSON, template=st.sampled_from(FIELDS))
@example(source="vars.k", data=None, template="{{ %s }}")
@example(source="vars.a.b", data={"x": 1}, template="{{ %s }}")
@example(source="input.a", data={"a": float("inf")}, template="{{ %s }}")
@example(source="input.a", data={"a": (1, 2)}, template="{{ %s }}")
@example(source="input.a", data=[1], template="{{ %s }}")
@example(source="input[0]", data=[7], template="{{ %s }}")
@example(source="1 + 1", data=None, template="{{ %s }}")
@example(source="'a' + 'b'", data=None, template=" {{ %s }} ")
@example(source="1 / 0", data=None, template="{{ %s }}")
@example(source="vars.k + 1", data=None, template="{{ %s }}")
@example(source="vars.big * vars.big", data=None, template="{{ %s }}")
@example(source="len(vars.s)", data=None, template="{{ %s }}")
def test_a_field_renders_by_its_plan_as_the_evaluator_renders_it(source: str, data: object, template: str) -> None:
    field = template.replace("%s", source)
    names = _names(data)
    fast = _render_all(field, names)
    with evaluator_only():
        slow = _render_all(field, names)
    assert fast == slow, field


def test_every_plan_kind_is_met() -> None:
    def kind(field: str) -> int:
        return expressions._full(field)[0]

    assert kind("{{ 1 + 1 }}") == kind("{{ 'a' }}") == expressions._VALUE
    assert kind("{{ vars.k }}") == kind("{{ input.a[0].b }}") == kind("{{ input }}") == expressions._PATH
    assert kind("{{ input.n + 1 }}") == kind("{{ 1 / 0 }}") == expressions._QUICK
    assert kind("{{ len(input) }}") == kind("{{ [x for x in input] }}") == expressions._EVALUATE
    assert kind("a {{ vars.k }}") == kind("{{ 1 }}{{ 2 }}") == expressions._JOIN
    names = _names({"a": [{"b": 4}]})
    got = [render(f, names) for f in ("{{ 1 + 1 }}", "{{ vars.k }}", "{{ vars.a.b.a }}", "{{ input.a[0].b }}", "a {{ vars.k }}")]
    assert got == [2, 1, [{"b": 4}], 4, "a 1"]


def test_the_plans_kept_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(expressions, "_MAX_PLANS", 5)
    expressions._PLANS.clear()
    names = _names(None)
    for i in range(12):
        assert render("{{ " + str(i) + " + vars.k }}", names) == i + 1
        assert len(expressions._PLANS) <= 5
    assert render("{{ 3 + vars.k }}", names) == 4  # made again after it was let go
    expressions._PLANS.clear()
