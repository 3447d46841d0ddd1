"""The quick path gives what the evaluator gives, and the cheaper static walk gives the
verdict of the exact one.

`engine.expression_quick.quick` reads small call-free expressions without the
evaluator; every value it gives must be the evaluator's value (type included), and
wherever the evaluator would refuse or word an error it must step aside. `_scan`
decides whether a tree is refused (the exact walk `_vet` then words it) and whether
`quick` may read it.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine import expression_quick, expression_spans, expressions
from engine.errors import ExpressionError
from engine.expression_sandbox import evaluator
from engine.expressions import DEFAULT_LIMITS, ExpressionLimits, evaluate, make_names, render
from tests.engine.test_expression_fuzz import EXPRESSIONS, JSON, TOKENS
from tests.engine.test_expressions_fast import outcome

CHECKS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


@contextmanager
def _evaluator_only() -> Iterator[None]:
    """Every expression run by the evaluator: no quick path, no direct key reads."""
    quick, follow = expressions.quick, expressions._follow
    expressions.quick = lambda tree, names: expressions._MISSING
    expressions._follow = lambda path, names: expressions._MISSING
    try:
        yield
    finally:
        expressions.quick, expressions._follow = quick, follow


def _names(data: object) -> dict:
    return make_names(
        input=data,
        nodes={"A": data, "B": {"k": [1, "2", None, 2.5]}, "C": {"n": 2**70, "t": "x" * 20_000}},
        vars={"x": 3, "s": "text", "f": 0.5, "z": 0, "b": True, "big": 2**62, "l": [1, "a", [2]], "d": {"a": 1}},
        loop=None,
        execution={"id": "e"},
    )


QUICK_LEAF = st.sampled_from(
    ["input", "input.a", "input['a']", "input[0]", "input[-1]", "nodes.A", "nodes.B.k", "nodes.B.k[1]",
     "nodes.C.n", "nodes.C.t", "vars.x", "vars.s", "vars.f", "vars.z", "vars.b", "vars.big", "vars.l",
     "vars.l[2]", "vars.d", "vars.d.a", "vars.s[1]", "vars.s[True]", "loop", "nope", "len", "execution.id",
     "None", "True", "False", "0", "1", "-1", "7", "2.5", "1e308", "0.1", "'a'", "''", "'text'",
     "4611686018427387903", "4611686018427387904", "10 ** 3"]
) | st.integers().map(str) | st.floats(allow_nan=False, allow_infinity=False).map(repr) | st.text(max_size=4).map(repr)  # fmt: skip


def _quick_grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", "<=", ">", ">=", "in",
                              "not in", "is", "is not", "and", "or"])  # fmt: skip
    return st.one_of(
        st.tuples(inner, binary, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(inner, st.sampled_from(["<", "==", "<="]), inner, st.sampled_from(["<", "!="]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]} {t[3]} {t[4]})"
        ),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]})[{t[1]}]"),
        st.tuples(inner, st.sampled_from(["a", "k", "n", "t"])).map(lambda t: f"({t[0]}).{t[1]}"),
        inner.map(lambda e: f"(not {e})"),
        inner.map(lambda e: f"-({e})"),
        inner.map(lambda e: f"+({e})"),
    )


QUICK_EXPRESSIONS = st.recursive(QUICK_LEAF, _quick_grow, max_leaves=12)


def _same_as_the_evaluator(source: str, names: dict) -> None:
    texts = ("{{ " + source + " }}", "<{{ " + source + " }}>", "{{ " + source + " }}{{ " + source + " }}")
    fast = [outcome(lambda: evaluate(source, names))] + [outcome(lambda t=t: render(t, names, field="f")) for t in texts]
    with _evaluator_only():
        slow = [outcome(lambda: evaluate(source, names))] + [outcome(lambda t=t: render(t, names, field="f")) for t in texts]
    assert fast == slow, source


@CHECKS
@given(expr=QUICK_EXPRESSIONS, data=JSON)
@example(expr="(4611686018427387903 + 4611686018427387903)", data=None)
@example(expr="(vars.big * vars.big * vars.big)", data=None)
@example(expr="(1e308 * 10)", data=None)
@example(expr="(1 // 0)", data=None)
@example(expr="(2.5 % 0.0)", data=None)
@example(expr="(nodes.C.t + nodes.C.t)", data=None)
@example(expr="(nodes.C.t in nodes.C.t)", data=None)
@example(expr="('a' in vars.l)", data=None)
@example(expr="(vars.l < vars.l)", data=None)
@example(expr="(vars.l == vars.d)", data=None)
@example(expr="(1 < 'a')", data=None)
@example(expr="(vars.d)[vars.l]", data=None)
@example(expr="(-(nodes.C.n))", data=None)
@example(expr="(vars.s)[9]", data=None)
@example(expr="(input is input)", data={"a": 1})
def test_a_quick_expression_gives_what_the_evaluator_gives(expr: str, data: object) -> None:
    _same_as_the_evaluator(expr, _names(data))


@CHECKS
@given(expr=EXPRESSIONS, data=JSON)
def test_any_expression_gives_what_the_evaluator_gives(expr: str, data: object) -> None:
    _same_as_the_evaluator(expr, _names(data))


@pytest.mark.parametrize(
    ("source", "value"),
    [("0 + 1", 1), ("vars.x * 2 - 1", 5), ("vars.x / 2", 1.5), ("-vars.x", -3), ("not vars.b", False),
     ("vars.s + '!'", "text!"), ("vars.x if vars.b else 0", 3), ("1 < vars.x <= 3", True),
     ("'ex' in vars.s", True), ("'a' in vars.d", True), ("1 not in vars.l", False), ("vars.l[2]", [2]),
     ("nodes.B.k[0] == 1 and nodes.B.k[2] is None", True), ("vars.z or vars.s", "text"), ("vars.d.a % 2", 1)],
)  # fmt: skip
def test_small_expressions_are_read_quickly(source: str, value: object) -> None:
    """These are read by `quick` itself (it gives a value), not passed on to the evaluator."""
    code = expressions._parse(source, DEFAULT_LIMITS)
    assert code.quick
    got = expression_quick.quick(code.tree, _names(None))
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    "source",
    ["len(vars.s)", "vars.s.upper()", "[v for v in vars.l]", "vars.l[0:1]", "vars.x ** 2", "[1, 2]",
     "{'a': 1}", "(1, 2)", " + ".join(["1"] * 17)],
)  # fmt: skip
def test_calls_loops_slices_powers_built_values_and_long_expressions_are_not_quick(source: str) -> None:
    assert not expressions._parse(source, DEFAULT_LIMITS).quick
    assert expressions._parse(" + ".join(["1"] * 16), DEFAULT_LIMITS).quick  # 31 steps (17 make 33)
    assert not expressions._parse("vars.x + 1", ExpressionLimits(max_length=99)).quick  # other limits


@CHECKS
@given(expr=QUICK_EXPRESSIONS | EXPRESSIONS, data=JSON)
def test_a_quick_tree_never_lets_the_evaluator_look_at_the_clock(expr: str, data: object) -> None:
    """At most 31 steps: the evaluator's step counter first looks at the clock at its 32nd,
    so reading the tree without the evaluator skips no deadline."""
    code = expressions._parse(expr, DEFAULT_LIMITS)
    if not code.quick:
        return
    ev = evaluator()
    with suppress(Exception):  # the outcome is compared elsewhere; the steps are counted here
        ev.run(code.tree, expr, _names(data), DEFAULT_LIMITS, timed=code.timed)
    assert ev._steps <= expression_quick.STEPS


def _tree(source: str) -> ast.expr | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return expressions._syntax_tree_of(source)  # 3.11's depth-mismatch flaw retried, as the engine does
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _same_scan(source: str, limits: ExpressionLimits = DEFAULT_LIMITS) -> None:
    tree = _tree(source)
    if tree is None:
        return
    size = expressions._scan(tree, limits)
    assert (size == -1) == (expressions._vet(tree, limits) is not None), source
    if size != -1:
        steps = sum(isinstance(node, ast.expr) for node in ast.walk(tree))
        quick = limits is DEFAULT_LIMITS and steps <= 31 and all(type(n) in expression_quick.KINDS for n in ast.walk(tree))
        assert size == (steps if quick else -2 - steps), source


@CHECKS
@given(tokens=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14), depth=st.integers(2, 12))
def test_the_cheaper_walk_gives_the_verdict_of_the_exact_one_on_token_soup(tokens: list[str], depth: int) -> None:
    _same_scan(" ".join(tokens))
    _same_scan(" ".join(tokens), ExpressionLimits(max_depth=depth))


@CHECKS
@given(expr=EXPRESSIONS | QUICK_EXPRESSIONS, depth=st.integers(2, 12))
def test_the_cheaper_walk_gives_the_verdict_of_the_exact_one_on_expressions(expr: str, depth: int) -> None:
    _same_scan(expr)
    _same_scan(expr, ExpressionLimits(max_depth=depth))


@pytest.mark.parametrize(
    "source",
    ["a | b", "~a", "a @ b", "a << 1", "__x", "a.__class__", "a._b", "1e999", "b'x'", "...", "1j",
     "f'{a}'", "lambda: 1", "(x := 1)", "{1}", "{x for x in a}", "[*a]", "f(**a)", "print(1)",
     "a.format()", "x.upper(y=1)", "-" * 70 + "1", "not " * 40 + "a", "a" + ".b" * 70, "(" * 30 + "a" + ")" * 30],
)  # fmt: skip
def test_the_cheaper_walk_refuses_what_the_exact_one_refuses(source: str) -> None:
    _same_scan(source)
    _same_scan(source, ExpressionLimits(max_depth=3))
    if _tree(source) is not None and expressions._vet(_tree(source), DEFAULT_LIMITS):
        with pytest.raises(ExpressionError) as err:
            expressions.check("{{ " + source + " }}")
        assert err.value.message == expressions._vet(_tree(source), DEFAULT_LIMITS)[0]


TEMPLATE_TEXT = st.text(alphabet="{}'\" ab1+.", max_size=16)


@CHECKS
@given(inner=TEMPLATE_TEXT, before=st.sampled_from(["", " ", "x", "{"]), after=st.sampled_from(["", " ", "x", "}"]))
@example(inner="", before="", after="")
@example(inner="a}", before="", after="")
@example(inner="{a", before="", after="")
def test_a_whole_field_expression_is_split_as_the_scan_splits_it(inner: str, before: str, after: str) -> None:
    """The whole-field shortcut of `_split` finds the span `find_expressions` finds."""
    text = before + "{{" + inner + "}}" + after
    try:
        spans = expressions.find_expressions(text)
    except ExpressionError:
        spans = None
    size = len(text)
    if size >= 4 and text.startswith("{{") and text.endswith("}}") and not expression_spans._TRICKY.search(text, 2, size - 2):
        assert spans == [(0, size, text[2:-2].strip())]
    fast = outcome(lambda: expressions._split(text, DEFAULT_LIMITS))
    assert fast[0] in ("tuple", "error")
    if spans is not None and fast[0] == "tuple":
        parts = fast[1][1]
        assert [(p.position, p.source) for p in parts if type(p) is not str] == [(s, i) for s, _, i in spans]
