"""The cheap paths of `engine.expressions` give what the full ones give.

Each fast path is compared with the slow one it replaces: the table-driven static
check with the `ast.iter_child_nodes` walk it replaced, a key-reading expression read
straight out of the names with the evaluator running it, and an expression whose
clock starts late with the deadline it must still meet.
"""

from __future__ import annotations

import ast
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine import expressions
from engine.errors import ExpressionError
from engine.expression_sandbox import FUNCTIONS, KEYWORDS, SCALARS, STRING_METHODS
from engine.expressions import DEFAULT_LIMITS, ExpressionLimits, evaluate, make_names, render
from tests.engine.test_expression_fuzz import EXPRESSIONS, JSON, TOKENS
from tests.engine.test_expression_sandbox import COST_PAYLOADS, PAYLOADS

CHECKS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


def _reference_vet(tree: ast.AST, limits: ExpressionLimits) -> tuple[str, ast.AST] | None:
    """The static check as it was written before it read child fields from a table."""
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        kind = type(node)
        if depth > limits.max_depth:
            return f"expression nests too deeply (the limit is {limits.max_depth} levels)", node
        if kind not in expressions._ALLOWED_NODES:
            name = kind.__name__
            return f"{expressions._FRIENDLY.get(name, name)} is not allowed in expressions", node
        if isinstance(node, ast.Constant) and type(node.value) not in SCALARS:
            return f"{type(node.value).__name__} literals are not allowed in expressions", node
        if isinstance(node, ast.Constant) and type(node.value) is float and not math.isfinite(node.value):
            return "this number is too large (JSON has no Infinity)", node
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            return f"the name {node.id!r} is not allowed (names starting with '__' are refused)", node
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            return (
                f"reading .{node.attr} is not allowed (attributes starting with '_' are refused;"
                f" for a key use [{node.attr!r}])"
            ), node
        if isinstance(node, ast.comprehension) and node.is_async:
            return "async comprehensions are not allowed in expressions", node
        if isinstance(node, ast.Call):
            problem = expressions._vet_call(node)
            if problem:
                return problem, node
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return None


def _same_verdict(source: str, limits: ExpressionLimits = DEFAULT_LIMITS) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = expressions._syntax_tree_of(source)  # 3.11's depth-mismatch flaw retried, as the engine does
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return
    assert expressions._vet(tree, limits) == _reference_vet(tree, limits), source


@CHECKS
@given(tokens=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14))
def test_static_check_matches_the_child_node_walk_on_token_soup(tokens: list[str]) -> None:
    _same_verdict(" ".join(tokens))


@CHECKS
@given(expr=EXPRESSIONS, depth=st.integers(2, 12))
def test_static_check_matches_the_child_node_walk_on_expressions(expr: str, depth: int) -> None:
    _same_verdict(expr)
    _same_verdict(expr, ExpressionLimits(max_depth=depth))  # the same node is the one too deep


@pytest.mark.parametrize(
    "source",
    [
        *PAYLOADS, *COST_PAYLOADS, "x := 1", "[y := 1]", "{**input, 'a': 1}", "{1, 2}", "a if b else c",
        "[a for a in b if a async for c in d]", "f'{x}'", "lambda: 1", "a[1:2:3]", "a.b.c[0]['d']",
        "sorted(x, reverse=True, key=len)", "min(*x)", "max(**x)", "x.upper(1, y=2)", "x.format()",
        "__import__('os')", "input._id", "1 & 2", "~1", "1e999", "b'x'", "...", "1j",
        *(f"{name}(1)" for name in FUNCTIONS), *(f"'a'.{m}()" for m in STRING_METHODS),
        *(f"{name}([1], {kw}=1)" for name, kws in KEYWORDS.items() for kw in kws),
        "(" * 30 + "1" + ")" * 30, "-" * 70 + "1", "[" * 40 + "]" * 40,
    ],
)  # fmt: skip
def test_static_check_matches_the_child_node_walk_on_known_cases(source: str) -> None:
    _same_verdict(source)
    _same_verdict(source, ExpressionLimits(max_depth=3))


@contextmanager
def _evaluator_only() -> Iterator[None]:
    """Every expression run by the evaluator, as before key-reading ones were read directly
    (a field's plan reads a short key path in line: it is made to run the expression)."""
    follow, plan, plain = expressions._follow, expressions._plan, expressions._front_plain

    def no_direct_read(text: str, matched: object = expressions._UNMATCHED) -> expressions._Plan:
        kind, arg, whole, parts = plan(text, matched)  # type: ignore[arg-type]
        return (expressions._EVALUATE, None, whole, parts) if kind == expressions._PATH else (kind, arg, whole, parts)

    expressions._follow = lambda path, names: expressions._MISSING
    expressions._plan = no_direct_read
    expressions._front_plain = lambda field: None  # no plain plan: every key path goes through `_plan`
    expressions._PLANS.clear()
    try:
        yield
    finally:
        expressions._follow, expressions._plan, expressions._front_plain = follow, plan, plain
        expressions._PLANS.clear()


def outcome(call) -> tuple[str, object]:
    """What a call gives: the type and value, or the error's words and place."""
    try:
        value = call()
    except ExpressionError as exc:
        return "error", (exc.message, exc.expression, exc.position, exc.field)
    return type(value).__name__, value


KEYS = st.sampled_from(["a", "b", "k", "0", "items", "upper"]) | st.integers(-3, 3)


def _path_source(name: str, keys: list[object]) -> str:
    out = name
    for key in keys:
        out += f".{key}" if type(key) is str and key.isidentifier() and key != "upper" else f"[{key!r}]"
    return out


@CHECKS
@given(data=JSON, name=st.sampled_from(["input", "vars", "nodes", "loop", "execution", "len", "nope"]),
       keys=st.lists(KEYS, max_size=4), template=st.sampled_from(["{}", "<{}>", "{} and {}"]))  # fmt: skip
def test_reading_keys_directly_gives_what_the_evaluator_gives(
    data: object, name: str, keys: list[object], template: str
) -> None:
    names = make_names(input=data, nodes={"a": data, "k": [data, 1.5]}, vars={"a": {"b": data}, "k": 1},
                       loop=None, execution={"id": "e"})  # fmt: skip
    source = _path_source(name, keys)
    text = template.replace("{}", "{{ " + source + " }}")
    assert expressions._parse(source, DEFAULT_LIMITS).path is not None  # the direct read is tried
    fast = [outcome(lambda: evaluate(source, names)), outcome(lambda: render(text, names, field="f"))]
    with _evaluator_only():
        slow = [outcome(lambda: evaluate(source, names)), outcome(lambda: render(text, names, field="f"))]
    assert fast == slow


@pytest.mark.parametrize(
    "value",
    [float("inf"), float("nan"), (1, 2), {1, 2}, b"x", 10**5000, [1, [2]], {"a": (1,)}, object()],
    ids=lambda v: type(v).__name__,
)
def test_values_that_are_not_json_are_still_refused_when_read_directly(value: object) -> None:
    """A value the evaluator refuses (or weighs) is left to it: the same outcome either way."""
    names = make_names(input={"v": value}, nodes={}, vars={}, loop=None, execution={})
    for source in ("input.v", "input['v']"):
        for text in ("{{ " + source + " }}", "<{{ " + source + " }}>"):
            fast = outcome(lambda: render(text, names))  # noqa: B023 - called at once
            with _evaluator_only():
                slow = outcome(lambda: render(text, names))  # noqa: B023
            assert fast == slow


def test_only_plain_key_reads_are_read_directly() -> None:
    def path(source: str) -> object:
        return expressions._parse(source, DEFAULT_LIMITS).path

    assert path("vars.k") == ("vars", "k")
    assert path("input['a b'][0].c[-1]") == ("input", "a b", 0, "c", -1)
    assert path("input[-1]") == ("input", -1)
    for other in ("vars.k + 1", "input[True]", "input[--1]", "input[-'a']", "input[0:1]", "input[vars.k]", "len(input)", "'a'.upper", "1"):
        assert path(other) is None, other


def test_an_expression_without_calls_still_meets_its_deadline() -> None:
    """Its clock starts at the step counter's first look (step 32) instead of its first
    step; a long one is still stopped."""
    names = make_names(input={}, nodes={}, vars={"k": 1}, loop=None, execution={})
    limits = ExpressionLimits(timeout_s=1e-9)
    long_list = "[" + ", ".join(["vars.k + 1"] * 200) + "]"
    assert not expressions._parse(long_list, limits).timed
    with pytest.raises(ExpressionError, match="took longer than"):
        evaluate(long_list, names, limits=limits)
    assert evaluate(long_list, names) == [2] * 200
    assert evaluate("vars.k + 1", names, limits=limits) == 2  # three steps: never looks
    assert expressions._parse("[v for v in input]", limits).timed
    assert expressions._parse("len(input)", limits).timed


def test_the_caches_keep_expressions_apart_by_their_limits() -> None:
    """One text, two verdicts: the default limits' cache is keyed by the text alone."""
    deep = "[[[[1]]]]"
    names = make_names(input={}, nodes={}, vars={}, loop=None, execution={})
    assert render("{{ " + deep + " }}", names) == [[[[1]]]]
    with pytest.raises(ExpressionError, match="nests too deeply"):
        render("{{ " + deep + " }}", names, limits=ExpressionLimits(max_depth=3))
    assert render("{{ " + deep + " }}", names) == [[[[1]]]]


NUMBERS_AND_WORDS = ["1", "0", "9.", ".5", "1e5", "0x1f", "1j", "1_0", "if", "else", "for", "in", "is",
                     "and", "or", "not", "x", "'\\d'", "e", "_", ".", "(", ")", "[", "]"]  # fmt: skip


@CHECKS
@given(tokens=st.lists(st.sampled_from(TOKENS + NUMBERS_AND_WORDS), min_size=1, max_size=8), joint=st.sampled_from(["", " "]))
@example(tokens=["1", ".", "else"], joint="")
@example(tokens=["1", "if", "1", "else", "2"], joint="")
@example(tokens=["'\\d'"], joint="")
@example(tokens=["0x1f", "or", "x"], joint="")
def test_the_parser_warns_only_about_text_the_warning_gate_catches(tokens: list[str], joint: str) -> None:
    """Warnings are silenced only for text that can raise one (catching them costs as much
    as parsing): every text the parser warns about must be caught by the gate, so no
    warning ever reaches the user's terminal from a workflow's expression."""
    source = joint.join(tokens)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with suppress(SyntaxError, ValueError, RecursionError, MemoryError):
            ast.parse(source, mode="eval")
    if seen:
        assert expressions._WARNS.search(source), (source, seen[0].message)


def _template_outcome(split) -> object:
    """A field's parts as comparable values (syntax trees dumped with their positions)."""
    try:
        whole, parts = split()
    except ExpressionError as exc:
        return ("error", exc.message, exc.position, exc.expression)

    def plain(part: object) -> object:
        if isinstance(part, str):
            return part
        code = part.code
        return (part.position, part.source, part.base, ast.dump(code.tree, include_attributes=True), code.path, code.timed, code.quick)

    return (None if whole is None else plain(whole), [plain(p) for p in parts])


def _generic_split(text: str) -> tuple[object, tuple[object, ...]]:
    """`_split` without its whole-field shortcut: every field through `find_expressions`."""
    parts: list[object] = []
    last = 0
    for start, end, inner in expressions.find_expressions(text):
        if start > last:
            parts.append(text[last:start])
        parts.append(expressions._part(text, start, end, inner, DEFAULT_LIMITS))
        last = end
    if last < len(text):
        parts.append(text[last:])
    exprs = [p for p in parts if type(p) is expressions._Expr]
    whole = len(exprs) == 1 and all(isinstance(p, expressions._Expr) or not p.strip() for p in parts)
    return (exprs[0] if whole else None), tuple(parts)


@CHECKS
@given(tokens=st.lists(st.sampled_from([*TOKENS, "{", "}", "{{", "}}", "'", '"', " ", "\n"]), max_size=10))
@example(tokens=["{{", "1", "}}"])
@example(tokens=["{{", " ", "}}"])
@example(tokens=["{{", "}}"])
@example(tokens=["{{", "{", "}}"])
@example(tokens=["{{", "'", "}}", "'", "}}"])
def test_a_whole_field_expression_is_split_as_the_scan_splits_it(tokens: list[str]) -> None:
    text = "{{" + "".join(tokens) + "}}" if tokens[:1] != ["{{"] else "".join(tokens)
    assert _template_outcome(lambda: expressions._split(text)) == _template_outcome(lambda: _generic_split(text))
