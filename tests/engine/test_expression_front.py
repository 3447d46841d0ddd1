"""The front end (`engine.expression_front.read`) says what the parser and the static
check say, or stands aside.

For every text it accepts: the tree is the parser's exactly (node types, fields,
positions), or - for a text without names that it folded - a Constant of the value the
quick path and the evaluator give; the key path, the evaluator steps and the clock flag
are the slow path's. A text the parser refuses, or the static check, it never accepts;
and through the public API every value, error message and position is the same with
the front end and without it.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine import expression_front, expressions
from engine.errors import ExpressionError
from engine.expression_quick import MISSING, quick
from engine.expression_sandbox import FUNCTIONS, evaluator
from engine.expressions import DEFAULT_LIMITS, evaluate, find_expressions, make_names, render
from tests.engine.test_expression_fuzz import JSON, TOKENS
from tests.engine.test_expressions_fast import outcome

CHECKS = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


@contextmanager
def _parser_only() -> Iterator[None]:
    """Every expression read by the parser, as before the front end."""
    front, field, match = expressions._front, expressions._front_field, expressions._front_match
    expressions._front = lambda source: None
    expressions._front_field = lambda text, matched=None: None
    expressions._front_match = lambda text: None
    expressions._parse.default.cache_clear()  # type: ignore[attr-defined]
    expressions._PLANS.clear()
    try:
        yield
    finally:
        expressions._front, expressions._front_field, expressions._front_match = front, field, match
        expressions._parse.default.cache_clear()  # type: ignore[attr-defined]
        expressions._PLANS.clear()


def _parsed(source: str) -> ast.expr | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return expressions._syntax_tree_of(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _has_names(tree: ast.AST) -> bool:
    return any(type(node) is ast.Name for node in ast.walk(tree))


def _agrees(source: str) -> None:
    """`read(source)` is None, or what the slow path makes of `source`."""
    got = expression_front.read(source)
    tree = _parsed(source)
    if got is None:
        return
    assert tree is not None, f"the parser refuses {source!r}"
    assert expressions._vet(tree, DEFAULT_LIMITS) is None, f"the static check refuses {source!r}"
    front_tree, path, size = got
    assert size == expressions._scan(tree, DEFAULT_LIMITS), source  # the same steps, and whether `quick` may read it
    assert path == expressions._path_of(tree), source
    code = expressions._compile(source)
    with _parser_only():
        slow = expressions._compile(source)
    assert (code.path, code.timed, code.quick) == (slow.path, slow.timed, slow.quick), source
    if expression_front._same(front_tree, tree):
        return
    # folded: a text without names whose value cannot fail, as a Constant spanning it
    assert type(front_tree) is ast.Constant and not _has_names(tree), source
    assert (front_tree.col_offset, front_tree.end_col_offset) == (0, len(source))
    value = quick(tree, {})
    assert value is not MISSING and type(value) is type(front_tree.value) and value == front_tree.value, source
    by_evaluator = evaluator().run(tree, source, {}, DEFAULT_LIMITS, text=False, timed=False)
    assert type(by_evaluator) is type(value) and by_evaluator == value, source


NAMES = st.sampled_from(
    ["input", "vars", "nodes", "x", "_", "_x", "__x", "a1", "len", "match", "case", "type", "None", "True", "False",
     "not", "if", "in", "is", "and", "or", "lambda", "for", "await", "print", "ñ", "\uff58", "µ", "a\u0301"]
)  # fmt: skip
INTS = st.integers().map(str) | st.sampled_from(["0", "00", "007", "1_000", "0x1f", "0o7", "0b1", "1" * 18, "9" * 19, "1" * 5000])
FLOATS = st.floats(allow_nan=False, allow_infinity=False).map(repr) | st.sampled_from(
    ["1.5", "1.", ".5", "1e5", "1E-3", "1.5e308", "1e999", "01.5", "1_0.5", "1.5j", "0.1", "9" * 19 + ".5"]
)
TEXTS = st.text(max_size=6).map(repr) | st.sampled_from(
    ["''", '""', "'a\\'b'", "'\\n'", "'a\tb'", "'''x'''", "'\\x00'", "r'x'", "b'x'", "f'{x}'", "u'x'", "'é'", "\"it's\""]
)
KEYS = st.sampled_from([".k", ".body", "._k", ".__class__", ".if", ".None", ".1", "[0]", "[-1]", "[-0]", "[ 0 ]", "[00]",
                        "['k']", '["k"]', "[1.5]", "[True]", "[--1]", "[x]", "[0:1]", " .k", ". k", ".ñ"])  # fmt: skip
OPS = st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", "<=", ">", ">=", "<>", "=", "<<", "@", "&",
                       "and", "or", "in", "not in", "is", "is not", "if", "--", "+-", "-+", "*-", "<-"])  # fmt: skip
SPACES = st.sampled_from(["", " ", "  ", "\t", "\x0c", "\n", " \\\n"])
SIGNS = st.sampled_from(["", "", "-", "--", "+", "- ", "not ", "~"])


@st.composite
def _operands(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["int", "float", "text", "chain", "chain", "call"]))
    if kind == "call":
        name = draw(st.sampled_from(["len", "str", "int", "round", "sorted", "foo", "print", "__import__", "None", "x.upper", "len "]))
        inner = draw(st.sampled_from(["", " ", "x, y", "x=1", "*x", "len(x)"]) | _operands())
        return f"{name}({inner})"
    if kind == "int":
        return draw(SIGNS) + draw(INTS)
    if kind == "float":
        return draw(SIGNS) + draw(FLOATS)
    if kind == "text":
        return draw(TEXTS)
    return draw(NAMES) + "".join(draw(st.lists(KEYS, max_size=4)))


@st.composite
def _texts(draw: st.DrawFn) -> str:
    left = draw(_operands())
    if draw(st.booleans()):
        return left
    text = f"{left}{draw(SPACES)}{draw(OPS)}{draw(SPACES)}{draw(_operands())}"
    if draw(st.integers(0, 5)) == 0:  # a chained comparison or a third operand
        text += f" {draw(OPS)} {draw(_operands())}"
    return text


PLAIN_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
PLAIN_TEXTS = st.text(st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters="'\\"), max_size=5)
PLAIN_KEYS = PLAIN_NAMES.map(lambda k: f".{k}") | st.integers(-(10**19), 10**19).map(lambda i: f"[{i}]") | PLAIN_TEXTS.map(
    lambda t: f"[{t!r}]"
)
PLAIN_OPERANDS = (
    st.integers(-(10**19), 10**19).map(str)
    | st.floats(0, 1e18).map(lambda f: f"{f:.3f}")
    | st.floats(-1e18, 0).map(lambda f: f"{f:.1f}")
    | PLAIN_TEXTS.map(lambda t: repr(t))
    | st.builds(lambda name, keys: name + "".join(keys), PLAIN_NAMES, st.lists(PLAIN_KEYS, max_size=18))
)
PLAIN_OPERANDS = PLAIN_OPERANDS | st.builds(lambda name, arg: f"{name}({arg})", st.sampled_from(FUNCTIONS), PLAIN_OPERANDS)
PLAIN_OPS = st.sampled_from(["+", "-", "*", "/", "//", "%", "==", "!=", "<", "<=", ">", ">="])


@st.composite
def _plain_texts(draw: st.DrawFn) -> str:
    """Texts near what the front end takes, so that most of them are taken."""
    left = draw(PLAIN_OPERANDS)
    if draw(st.integers(0, 3)) == 0:
        return left
    spaces = st.sampled_from(["", " ", "  "])
    return f"{left}{draw(spaces)}{draw(PLAIN_OPS)}{draw(spaces)}{draw(PLAIN_OPERANDS)}"


@CHECKS
@given(source=_plain_texts())
def test_the_front_end_reads_what_the_parser_reads_on_plain_texts(source: str) -> None:
    _agrees(source)


@CHECKS
@given(source=_texts())
@example(source="1if")
@example(source="1 if 2 else 3")
@example(source="0 < 1 < 2")
@example(source="1_000 + 1")
@example(source="9" * 4400)
@example(source="1" * 5000 + " + 1")
@example(source="'\\N{DASH}'")
@example(source="None.x")
@example(source="True[0]")
@example(source="not x")
@example(source="a.b[0]['c'][-1] // -1.5")
@example(source="-0.0 + 0")
@example(source="4611686018427387903 * 4611686018427387903")
@example(source="999999999999999999 + 999999999999999999")
@example(source="1 / 0")
@example(source="1 % 0")
@example(source="1.5 // 0.0")
@example(source="'a' * 3")
@example(source="'a' - 'b'")
@example(source="'a' < 1")
@example(source="None == None")
@example(source="True + True")
@example(source="x.y.z.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s")
@example(source="len(input) > vars.threshold")
@example(source="round(x.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p)")
@example(source="len(-1) + 1")
def test_the_front_end_reads_what_the_parser_reads(source: str) -> None:
    _agrees(source)


@CHECKS
@given(source=st.text(alphabet=" \t-+*/%<>=!.[]'\"_0123456789abxNoneTrueFalsifé", max_size=14))
def test_the_front_end_reads_what_the_parser_reads_on_character_soup(source: str) -> None:
    _agrees(source.strip())


@CHECKS
@given(tokens=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=5), glue=st.sampled_from(["", " "]))
def test_the_front_end_reads_what_the_parser_reads_on_token_soup(tokens: list[str], glue: str) -> None:
    _agrees(glue.join(tokens).strip())


@CHECKS
@given(source=_texts() | _plain_texts(), before=st.sampled_from(["", " ", "   ", "\t", "{"]), after=st.sampled_from(["", " ", "  ", "\n", "}"]))
@example(source="'}}'", before=" ", after=" ")
@example(source="'{'", before=" ", after=" ")
def test_a_whole_field_is_split_as_the_careful_scan_splits_it(source: str, before: str, after: str) -> None:
    field = "{{" + before + source + after + "}}"
    got = expression_front.read_field(field)
    if got is None:
        return
    text, base, read = got
    assert find_expressions(field) == [(0, len(field), text)]
    assert field[base : base + len(text)] == text and _same_read(read, expression_front.read(text))
    whole, parts = expressions._split(field)
    with _parser_only():
        slow_whole, slow_parts = expressions._split(field)
    assert whole is not None and slow_whole is not None and parts == (whole,) and slow_parts == (slow_whole,)
    assert (whole.position, whole.source, whole.base) == (slow_whole.position, slow_whole.source, slow_whole.base)
    assert whole.code[1:] == slow_whole.code[1:]


@CHECKS
@given(source=_texts() | _plain_texts(), before=st.sampled_from(["", " ", "  "]), after=st.sampled_from(["", " ", "\n"]))
@example(source="x.y.z.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p", before=" ", after=" ")
@example(source="x.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p", before=" ", after=" ")
@example(source="a[-1]['k'].b", before=" ", after=" ")
@example(source="True + True", before=" ", after=" ")
@example(source="7 - 2", before=" ", after=" ")
@example(source="-1.5 * 2", before=" ", after="")
@example(source="'a' + 'b'", before="", after=" ")
@example(source="7 // -2", before=" ", after=" ")
@example(source="2 >= 2.0", before=" ", after=" ")
@example(source="1 / 0", before=" ", after=" ")
@example(source="-5", before="", after="")
@example(source="len(input)", before=" ", after=" ")
@example(source="vars.__class__", before=" ", after=" ")
@example(source="vars.if", before=" ", after=" ")
def test_a_plain_read_is_what_the_full_plan_renders(source: str, before: str, after: str) -> None:
    """`read_plain` (a render plan without a tree) gives a field's value or key path
    exactly as the whole plan has it - same types too - and takes every field whose
    whole plan is a value or a key path read by the front end."""
    field = "{{" + before + source + after + "}}"
    expressions._PLANS.clear()
    matched = expression_front.match_field(field)
    try:
        kind, arg, _, _ = expressions._plan(field)
    except ExpressionError:
        assert matched is None or expression_front.read_plain(matched) is None
        return
    plain = None if matched is None else expression_front.read_plain(matched)
    if kind not in (expressions._VALUE, expressions._PATH) or expression_front.read_field(field) is None:
        assert plain is None, field
        return
    assert plain is not None, field
    assert plain[0] == (kind == expressions._VALUE)
    assert type(plain[1]) is type(arg) and plain[1] == arg, field  # no fold makes a NaN
    if kind == expressions._PATH:
        assert [type(k) for k in plain[1]] == [type(k) for k in arg]


def test_a_plan_made_to_render_keeps_no_tree_and_a_check_completes_it() -> None:
    expressions._PLANS.clear()
    names = make_names(input={"a": 1}, nodes={}, vars={}, loop=None, execution={})
    assert render("{{ 5 + 1 }}", names) == 6 and render("{{ input.a }}", names) == 1
    assert expressions._PLANS["{{ 5 + 1 }}"] == (expressions._VALUE, 6, None, None)
    assert expressions._PLANS["{{ input.a }}"] == (expressions._PATH, ("input", "a"), None, None)
    expressions.check("{{ input.a }}")
    kind, path, whole, parts = expressions._PLANS["{{ input.a }}"]
    assert (kind, path) == (expressions._PATH, ("input", "a")) and whole is not None and parts == (whole,)
    with pytest.raises(ExpressionError) as missing:
        render("{{ input.b }}", names)  # a plain plan's fallback: the evaluator words the error
    expressions._PLANS.clear()
    with _parser_only(), pytest.raises(ExpressionError) as slow:
        render("{{ input.b }}", names)
    assert (missing.value.message, missing.value.position) == (slow.value.message, slow.value.position)
    expressions._PLANS.clear()


def _same_read(a: object, b: object) -> bool:
    return a is not None and b is not None and expression_front._same(a[0], b[0]) and a[1:] == b[1:]  # type: ignore[index]


def _names(data: object) -> dict:
    return make_names(
        input=data, nodes={"a": {"b": [1, "x"]}}, vars={"k": 1, "s": "text", "f": 2.5, "big": 2**62, "z": 0},
        loop=None, execution={"id": "e"},
    )  # fmt: skip


@CHECKS
@given(source=_texts() | _plain_texts(), data=JSON)
@example(source="1 / 0", data=None)
@example(source="vars.nope", data=None)
@example(source="vars.k + 'a'", data=None)
@example(source="'a' + 1", data=None)
@example(source="vars.big * vars.big", data=None)
@example(source="input[-1]", data=[1, 2])
@example(source="len(vars.k)", data=None)
@example(source="len(vars.s) > vars.k", data=None)
@example(source="round(vars.f) + 1", data=None)
def test_values_errors_and_positions_are_the_same_with_and_without_the_front_end(source: str, data: object) -> None:
    names = _names(data)
    for template in ("{{ %s }}", "<{{  %s }}>"):
        field = template % source
        fast = outcome(lambda: render({"f": field}, names, field="config", node_id="n"))  # noqa: B023
        with _parser_only():
            slow = outcome(lambda: render({"f": field}, names, field="config", node_id="n"))  # noqa: B023
        assert fast == slow, field
    fast = outcome(lambda: evaluate(source, names))
    with _parser_only():
        slow = outcome(lambda: evaluate(source, names))
    assert fast == slow, source


@pytest.mark.parametrize(
    ("source", "value"),
    [("1 + 1", 2), ("-5", -5), ("'a' + 'b'", "ab"), ("2 < 1", False), ("7 // 2", 3), ("1.5 * 2", 3.0), ("None", None)],
)
def test_a_text_without_names_is_folded_to_its_value(source: str, value: object) -> None:
    tree, path, _ = expression_front.read(source)  # type: ignore[misc]
    assert type(tree) is ast.Constant and tree.value == value and type(tree.value) is type(value) and path is None
    assert evaluate(source, {}) == value


@pytest.mark.parametrize("source", ["1 / 0", "'a' + 1", "None + 1", "'a' < 1", "1.5 % 0"])
def test_a_text_without_names_that_fails_keeps_its_tree_and_its_error(source: str) -> None:
    tree, _, _ = expression_front.read(source)  # type: ignore[misc]
    assert expression_front._same(tree, _parsed(source))
    with pytest.raises(ExpressionError) as fast:
        evaluate(source, {})
    with _parser_only(), pytest.raises(ExpressionError) as slow:
        evaluate(source, {})
    assert (fast.value.message, fast.value.position) == (slow.value.message, slow.value.position)


@pytest.mark.parametrize(
    "source",
    ["x.__class__", "__import__", "a._b", "1if", "1_000", "a.if", "x ** 2", "x + y + z", "'\\n'", "ñ", "a [0]",
     "len (x)", "foo(x)", "len(x, y)", "sorted(x, reverse=True)", "x.upper()", "len(len(x))", "a\tb", "1e5", "f'x'",
     "not x", "a < b < c", "x" * 201],
)  # fmt: skip
def test_anything_else_goes_to_the_parser(source: str) -> None:
    assert expression_front.read(source) is None


def test_the_front_end_checked_itself_against_this_python() -> None:
    assert expression_front._AGREES
