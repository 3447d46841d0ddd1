"""Fuzzing: whatever text or expression comes in, only ExpressionError ever comes out,
and every value that comes out is plain JSON data."""

from __future__ import annotations

import json
import math
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import ExpressionError
from engine.expressions import check, evaluate, find_expressions, make_names, render
from tests.engine.test_expression_sandbox import COST_PAYLOADS

FUZZ = settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)

TOKENS = [
    "input", "nodes", "vars", "loop", "execution", "x", "_", "__class__", "__import__",
    "len", "str", "int", "float", "bool", "round", "min", "max", "sum", "abs", "sorted", "any",
    "all", "eval", "type", "getattr", "lambda", "for", "in", "if", "else", "not", "and", "or",
    "is", "None", "True", "False", ".", ",", ":", "(", ")", "[", "]", "{", "}", "{{", "}}",
    "+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", ">=", ":=", "'", '"', "'a'", "0", "1",
    "-1", "9", "10", "1.5", "1e308", ".upper()", ".split()", ".join", ".format", ".items",
    ".keys()", ".body", "[0]", "[-1]", "[1:]", "['k']", "f'", "*", "\\", "#", "\n", "@", "~",
]  # fmt: skip


def _is_json(value: object) -> bool:
    if type(value) is int:
        return value.bit_length() <= 14_000  # under 4,300 digits: it can be written as text
    if value is None or type(value) in (bool, str):
        return True
    if type(value) is float:
        return math.isfinite(value)  # strict JSON has no NaN or Infinity
    if type(value) in (list, tuple):
        return all(_is_json(v) for v in value)
    if type(value) is dict:
        return all(type(k) in (str, int, float, bool) or k is None for k in value) and all(
            _is_json(v) for v in value.values()
        )
    return False


def _names(data: object) -> dict:
    return make_names(
        input=data,
        nodes={"A": data, "B": {"k": [1, "2", None]}},
        vars={"x": 3, "s": "text"},
        loop={"index": 0, "item": data},
        execution={"id": "e", "started_at": "2024-01-01T00:00:00+00:00"},
    )


@FUZZ
@given(text=st.text(max_size=200) | st.text(alphabet="{}'\"()[]:ab_.1 +-*\\\n", max_size=60))
def test_random_text_only_raises_expression_errors(text: str) -> None:
    names = _names({"k": 1})
    for call in (
        lambda: render(text, names, node_id="n", field="f"),
        lambda: check(text, node_id="n", field="f"),
        lambda: evaluate(text, names, node_id="n", field="f"),
        lambda: find_expressions(text),
    ):
        try:
            result = call()
        except ExpressionError as exc:
            assert exc.message
            continue
        assert _is_json(result)


@FUZZ
@given(tokens=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14), data=JSON)
def test_token_soup_only_raises_expression_errors(tokens: list[str], data: object) -> None:
    source = " ".join(tokens)
    names = _names(data)
    try:
        result = evaluate(source, names, node_id="n", field="f")
    except ExpressionError as exc:
        assert (exc.node_id, exc.field) == ("n", "f")
    else:
        assert _is_json(result)
    try:
        rendered = render("<{{ " + source + " }}>", names, node_id="n", field="f")
    except ExpressionError as exc:
        assert (exc.node_id, exc.field) == ("n", "f")
    else:
        assert type(rendered) is str


NAMES = st.sampled_from(
    ["input", "nodes.A", "nodes.B.k", "vars.x", "vars.s", "loop.item", "execution.id"]
)
LEAF = (
    NAMES
    | st.integers(-1000, 1000).map(str)
    | st.floats(allow_nan=False, allow_infinity=False).map(repr)
    | st.text(max_size=5).map(repr)
    | st.sampled_from(["None", "True", "False", "[]", "{}"])
)


def _grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binop = st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "==", "<", "in", "and", "or"])
    func = st.sampled_from(
        [
            "len",
            "str",
            "int",
            "float",
            "bool",
            "round",
            "min",
            "max",
            "sum",
            "abs",
            "sorted",
            "any",
            "all",
        ]
    )
    return st.one_of(
        st.tuples(inner, binop, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(func, st.lists(inner, max_size=2)).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(inner, st.sampled_from(["k", "items", "keys", "body", "x"])).map(
            lambda t: f"({t[0]}).{t[1]}"
        ),
        st.tuples(inner, inner).map(lambda t: f"({t[0]})[{t[1]}]"),
        st.tuples(inner, st.sampled_from(["upper", "strip", "split"])).map(
            lambda t: f"({t[0]}).{t[1]}()"
        ),
        st.lists(inner, max_size=3).map(lambda xs: f"[{', '.join(xs)}]"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(inner, inner).map(lambda t: f"[{t[0]} for v in {t[1]}]"),
        inner.map(lambda e: f"(not {e})"),
        inner.map(lambda e: f"-({e})"),
    )


EXPRESSIONS = st.recursive(LEAF, _grow, max_leaves=10)


@FUZZ
@given(expr=EXPRESSIONS, data=JSON)
def test_generated_expressions_give_json_or_expression_error(expr: str, data: object) -> None:
    names = _names(data)
    check("{{ " + expr + " }}")  # every generated expression is in the language
    try:
        result = evaluate(expr, names, node_id="n", field="f")
    except ExpressionError as exc:
        assert (exc.node_id, exc.field) == ("n", "f")
        return
    assert _is_json(result)
    typed = render("{{ " + expr + " }}", names)
    assert typed == result


COSTLY = st.sampled_from(COST_PAYLOADS)
SMALL = st.sampled_from(["input", "vars.s", "[1, 2]", "'ab'", "3", "1.5", "(2 ** 1000)", "1e308"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(
    expr=st.recursive(COSTLY | SMALL, _grow, max_leaves=4).filter(lambda e: any(p in e for p in COST_PAYLOADS)),
    data=JSON,
)
def test_costly_payloads_inside_generated_expressions(expr: str, data: object) -> None:
    """A costly payload anywhere in an expression: refused (or a bounded JSON value) within
    1 s of this thread's CPU time - the deadline is checked before each priced C call."""
    names = _names(data)
    t0 = time.thread_time()
    try:
        result = evaluate(expr, names, node_id="n", field="f")
    except ExpressionError as exc:
        assert (exc.node_id, exc.field) == ("n", "f")
    else:
        assert _is_json(result)
        assert len(json.dumps(result, allow_nan=False)) <= 10_000_000 + len(json.dumps(data))
    assert time.thread_time() - t0 < 1.0, expr
