"""`render_config` (a node's whole config in one call, the runtime's path) gives what
`render` gives field by field, values and errors alike (message, node, field path)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import ExpressionError
from engine.expressions import make_names, render, render_config
from tests.engine.test_expression_fuzz import EXPRESSIONS

NAMES = make_names(input={"a": 1, "b": [1, 2], "s": "x"}, nodes={"n": {"v": 2}}, vars={"k": 3}, loop=None, execution={"id": "e"})
TEXT = st.one_of(st.text(max_size=6), EXPRESSIONS.map(lambda e: "{{ " + e + " }}"), EXPRESSIONS.map(lambda e: "at {{ " + e + " }}!"))
VALUE = st.recursive(st.one_of(TEXT, st.integers(), st.none()), lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8)
CONFIG = st.dictionaries(st.sampled_from(["values", "url", "items", "condition", "code", "x.y"]), VALUE, max_size=4)


def _outcome(call: Any) -> Any:
    try:
        return ("value", call())
    except ExpressionError as exc:
        return ("error", exc.message, exc.node_id, exc.field, exc.expression, exc.position)


def _field_by_field(config: dict[str, Any], kept: tuple[str, ...]) -> dict[str, Any]:
    return {k: v if k in kept else render(v, NAMES, node_id="n1", field=f"config.{k}") for k, v in config.items()}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(CONFIG, st.sampled_from([(), ("code",), ("condition", "items")]))
def test_a_config_renders_as_its_fields_render_one_by_one(config: dict[str, Any], kept: tuple[str, ...]) -> None:
    assert _outcome(lambda: render_config(config, kept, NAMES, node_id="n1")) == _outcome(lambda: _field_by_field(config, kept))


def test_an_error_names_the_node_and_the_field_path() -> None:
    config = {"values": {"x": ["ok", "{{ input.missing.deeper }}"]}}
    got = _outcome(lambda: render_config(config, (), NAMES, node_id="n1"))
    assert got[0] == "error" and got[2:4] == ("n1", "config.values.x[1]")
