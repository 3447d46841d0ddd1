"""The `{{ }}` language: typed results, interpolation, names, keys, functions, errors."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest

from engine.errors import ExpressionError
from engine.expressions import (
    DEFAULT_LIMITS,
    FUNCTIONS,
    ExpressionLimits,
    check,
    evaluate,
    find_expressions,
    make_names,
    render,
)


@pytest.fixture
def names() -> dict:
    return make_names(
        input={
            "body": {"items": [1, 2, 3], "keys": "K", "get": "G", "values": [9], "count": 3},
            "name": "  Ada Lovelace ",
            "tags": ["b", "a", "c"],
            "ok": True,
            "nothing": None,
            "price": 2.5,
            "_id": "x1",
        },
        nodes={"Get items": {"status": 200, "body": {"ids": [7, 8]}}, "Start": {}},
        vars={"base_url": "http://127.0.0.1:8080", "threshold": 2},
        loop={"index": 1, "item": {"sku": "A-2"}},
        execution={"id": "exec-1", "started_at": "2024-05-01T10:00:00+00:00"},
    )


# --------------------------------------------------------------------------- typed results


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ 1 + 2 }}", 3),
        ("  {{ 7 / 2 }}  ", 3.5),
        ("{{ vars.threshold }}", 2),
        ("{{ input.ok }}", True),
        ("{{ input.nothing }}", None),
        ("{{ input.body.items }}", [1, 2, 3]),
        ("{{ nodes['Get items'].body }}", {"ids": [7, 8]}),
        ("{{ len(input.body.items) > vars.threshold }}", True),
        ("{{ [1, 'a', None, True] }}", [1, "a", None, True]),
        ("{{ {'a': {'b': 1}} }}", {"a": {"b": 1}}),
        ("{{ (1, 2) }}", [1, 2]),
        ("{{ 'yes' if input.ok else 'no' }}", "yes"),
        ("{{ 2 in input.body.items }}", True),
        ("{{ 'Ada' not in input.tags }}", True),
        ("{{ input.nothing is None }}", True),
        ("{{ not input.ok or 5 }}", 5),
        ("{{ 1 < 2 <= 2 != 3 }}", True),
        ("{{ 17 // 5 }}", 3),
        ("{{ 17 % 5 }}", 2),
        ("{{ -input.price }}", -2.5),
        ("{{ 2 ** 10 }}", 1024),
        ("{{ loop.index }}", 1),
        ("{{ loop.item.sku }}", "A-2"),
        ("{{ execution.id }}", "exec-1"),
        ("{{ [x * 2 for x in input.body.items if x > 1] }}", [4, 6]),
        ("{{ {k: v for k, v in [['a', 1], ['b', 2]]} }}", {"a": 1, "b": 2}),
        ("{{ any(x > 2 for x in input.body.items) }}", True),
        ("{{ {**nodes['Get items'], 'extra': 1}['extra'] }}", 1),
    ],
)
def test_whole_field_keeps_type(names: dict, text: str, expected: object) -> None:
    result = render(text, names)
    assert result == expected
    assert type(result) is type(expected)


def test_whole_field_returns_the_value_itself_not_a_copy(names: dict) -> None:
    assert render("{{ input.body }}", names) is names["input"]["body"]


# --------------------------------------------------------------------------- interpolation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ vars.base_url }}/items", "http://127.0.0.1:8080/items"),
        ("n={{ input.body.count }}&p={{ input.price }}", "n=3&p=2.5"),
        ("ok={{ input.ok }} none={{ input.nothing }} f={{ False }}", "ok=true none=null f=false"),
        ("list={{ input.body.items }}", "list=[1,2,3]"),
        ("obj={{ nodes['Get items'] }}", 'obj={"status":200,"body":{"ids":[7,8]}}'),
        ("{{ 'é' }}{{ ['ü'] }}", 'é["ü"]'),
        ("{{ 1 }}{{ 2 }}", "12"),
        ("a {{ '}}' }} b", "a }} b"),
        ("no expressions at all", "no expressions at all"),
        ("a }} b", "a }} b"),
        ("", ""),
    ],
)
def test_interpolation(names: dict, text: str, expected: str) -> None:
    assert render(text, names) == expected


def test_str_function_matches_interpolation(names: dict) -> None:
    for expr in ["input.ok", "input.nothing", "input.body", "input.price", "input.tags", "3"]:
        assert evaluate(f"str({expr})", names) == render(f"x{{{{ {expr} }}}}", names)[1:]
    assert json.loads(evaluate("str(input.body)", names)) == names["input"]["body"]


def test_render_walks_dicts_and_lists_and_leaves_keys_and_other_types(names: dict) -> None:
    config = {
        "url": "{{ vars.base_url }}/x",
        "timeout_s": 10,
        "headers": {"X-Count": "{{ input.body.count }}", "{{ not rendered }}": "k"},
        "to": ["a@example.com", "{{ input.body.keys }}"],
        "flag": None,
    }
    out = render(config, names)
    assert out == {
        "url": "http://127.0.0.1:8080/x",
        "timeout_s": 10,
        "headers": {"X-Count": 3, "{{ not rendered }}": "k"},
        "to": ["a@example.com", "K"],
        "flag": None,
    }
    assert config["url"] == "{{ vars.base_url }}/x"  # the input is not mutated


# --------------------------------------------------------------------------- keys vs attributes


def test_dict_keys_win_over_dict_methods(names: dict) -> None:
    assert evaluate("input.body.items", names) == [1, 2, 3]
    assert evaluate("input.body.keys", names) == "K"
    assert evaluate("input.body.get", names) == "G"
    assert evaluate("input.body.values", names) == [9]
    assert evaluate("input['body']['items'][0]", names) == 1


def test_dict_methods_do_not_exist(names: dict) -> None:
    with pytest.raises(ExpressionError, match=r"no key 'pop'"):
        evaluate("nodes.Start.pop", names)
    with pytest.raises(ExpressionError, match=r"\.keys\(\) is not allowed"):
        evaluate("input.body.keys()", names)


def test_missing_key_names_the_key_and_lists_the_available_ones(names: dict) -> None:
    with pytest.raises(ExpressionError) as info:
        render("{{ input.body.itemz }}", names, node_id="many", field="config.condition")
    err = info.value
    assert "input.body has no key 'itemz'" in err.message
    assert "'items'" in err.message and "'count'" in err.message
    assert (err.node_id, err.field, err.position) == ("many", "config.condition", 14)  # at `itemz`
    assert err.expression == "input.body.itemz"
    assert "node 'many'" in str(err) and "field 'config.condition'" in str(err)


def test_underscore_keys_are_read_by_subscript(names: dict) -> None:
    assert evaluate("input['_id']", names) == "x1"
    with pytest.raises(ExpressionError, match=r"use \['_id'\]"):
        evaluate("input._id", names)


# --------------------------------------------------------------------------- index and slice


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("input.body.items[0]", 1),
        ("input.body.items[-1]", 3),
        ("input.body.items[1:]", [2, 3]),
        ("input.body.items[:2]", [1, 2]),
        ("input.body.items[::-1]", [3, 2, 1]),
        ("input.body.items[True]", 2),
        ("input.name[2:5]", "Ada"),
        ("'abc'[-1]", "c"),
        ("nodes['Get items']['body']['ids'][1]", 8),
    ],
)
def test_index_and_slice(names: dict, expr: str, expected: object) -> None:
    assert evaluate(expr, names) == expected


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("input.body.items[5]", r"index 5 is out of range for input.body.items \(length 3\)"),
        ("input.body.items['a']", r"index it with an integer"),
        ("input.body.items[1.5:]", r"slice bounds must be integers"),
        ("input.body.items[::0]", r"slice step cannot be zero"),
        ("input.body[0:1]", r"cannot slice input.body \(a dict\)"),
        ("input.price[0]", r"cannot index input.price"),
        ("input.body.items.first", r"cannot read .first of input.body.items \(a list"),
        ("input.nothing.x", r"cannot read .x: input.nothing is null"),
        ("input[[1]]", r"list cannot be a dict key"),
    ],
)
def test_index_errors_are_clear(names: dict, expr: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        evaluate(expr, names, node_id="n", field="f")


# --------------------------------------------------------------------------- functions


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("len(input.body.items)", 3),
        ("len(input.name)", 15),
        ("len(input.body)", 5),
        ("str(42)", "42"),
        ("str(1.5)", "1.5"),
        ("str('x')", "x"),
        ("str()", ""),
        ("int('42')", 42),
        ("int(3.9)", 3),
        ("int('ff', 16)", 255),
        ("float('1.25')", 1.25),
        ("float(2)", 2.0),
        ("bool('')", False),
        ("bool(input.tags)", True),
        ("round(2.567, 2)", 2.57),
        ("round(2.5)", 2),
        ("round(1234, -2)", 1200),
        ("min(3, 1, 2)", 1),
        ("min(input.tags)", "a"),
        ("min([], default=0)", 0),
        ("max(input.body.items)", 3),
        ("max([[1, 2], [1, 3]])", [1, 3]),
        ("sum(input.body.items)", 6),
        ("sum([0.5, 0.25], 1)", 1.75),
        ("abs(-4)", 4),
        ("abs(-1.5)", 1.5),
        ("sorted(input.tags)", ["a", "b", "c"]),
        ("sorted(input.body.items, reverse=True)", [3, 2, 1]),
        ("sorted({'b': 1, 'a': 2})", ["a", "b"]),
        ("any([0, '', None])", False),
        ("any(input.body.items)", True),
        ("all([1, 'x'])", True),
        ("all([])", True),
    ],
)
def test_every_allowed_function(names: dict, expr: str, expected: object) -> None:
    result = evaluate(expr, names)
    assert result == expected
    assert type(result) is type(expected)


def test_function_list_is_exactly_the_designed_one() -> None:
    assert set(FUNCTIONS) == set(
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


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("input.name.strip()", "Ada Lovelace"),
        ("input.name.strip().upper()", "ADA LOVELACE"),
        ("input.name.lower().strip()", "ada lovelace"),
        ("input.name.lstrip()", "Ada Lovelace "),
        ("input.name.rstrip()", "  Ada Lovelace"),
        ("input.name.split()", ["Ada", "Lovelace"]),
        ("'a,b'.split(',')", ["a", "b"]),
        ("input.name.strip().startswith('Ada')", True),
        ("'x.json'.endswith('.json')", True),
        ("'a-b-c'.replace('-', '+')", "a+b+c"),
        ("'hello world'.title()", "Hello World"),
        ("'hello'.capitalize()", "Hello"),
        ("', '.join(input.tags)", "b, a, c"),
    ],
)
def test_string_methods(names: dict, expr: str, expected: object) -> None:
    assert evaluate(expr, names) == expected


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("input.name.upper", r"must be called"),
        ("input.tags.upper()", r"cannot call .upper\(\) on input.tags \(a list\)"),
        ("'-'.join([1, 2])", r"join\(\) needs one list of strings"),
        ("'-'.join('abc')", r"join\(\) needs one list of strings"),
        ("input.name.format()", r"\.format\(\) is not allowed"),
        ("input.name.split(sep=',')", r"positional arguments only"),
        ("len", r"len is a function; call it like len\(...\)"),
        ("len(5)", r"len\(\): object of type 'int' has no len\(\)"),
        ("sum(['a'])", r"sum\(\)"),
        ("sum([[1]], [])", r"sum\(\) adds numbers only"),
        ("abs('x')", r"abs\(\) needs a number"),
        ("round('x')", r"round\(\) needs a number"),
        ("round(1, 1000)", r"ndigits must be an integer between -100 and 100"),
        ("sorted([1], key=1)", r"sorted\(\) does not take key= \(it takes reverse=\)"),
        ("int('x')", r"int\(\): invalid literal"),
        ("min()", r"min\(\)"),
    ],
)
def test_function_errors_are_clear(names: dict, expr: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        evaluate(expr, names, node_id="n", field="f")


# --------------------------------------------------------------------------- names


def test_unknown_name_lists_the_names(names: dict) -> None:
    with pytest.raises(ExpressionError, match=r"unknown name 'inptu'; the names are: input, nodes"):
        evaluate("inptu.body", names)


def test_loop_is_only_defined_inside_a_loop() -> None:
    outside = make_names(input={}, nodes={}, vars={}, loop=None, execution={"id": "e"})
    assert "loop" not in outside
    with pytest.raises(ExpressionError, match=r"'loop' is only defined inside a loop body"):
        render("{{ loop.item }}", outside, node_id="body", field="config.values.x")


def test_make_names_shares_values_and_turns_datetimes_into_iso_text() -> None:
    big = {"rows": list(range(10_000))}
    started = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    names = make_names(
        input=big, nodes={"A": big}, vars={"v": 1}, loop=None,
        execution={"id": "e", "started_at": started},
    )  # fmt: skip
    assert names["input"] is big and names["nodes"]["A"] is big
    assert evaluate("execution.started_at", names) == "2024-05-01T10:00:00+00:00"


def test_callables_smuggled_into_the_names_are_refused() -> None:
    names = make_names(input={"f": len}, nodes={}, vars={"g": print}, loop=None, execution={})
    with pytest.raises(ExpressionError, match=r"a value of type builtin_function_or_method"):
        evaluate("input.f", names)
    with pytest.raises(ExpressionError, match=r"calling .g\(\) is not allowed"):
        evaluate("vars.g('x')", names)
    with pytest.raises(ExpressionError, match=r"only the listed functions"):
        evaluate("input['f']('x')", names)


def test_literal_braces_can_be_written_as_an_expression(names: dict) -> None:
    assert render("{{ '{{' }} x {{ '}}' }}", names) == "{{ x }}"


def test_values_of_foreign_types_are_refused() -> None:
    names = make_names(
        input={"when": datetime(2024, 1, 1)}, nodes={}, vars={}, loop=None, execution={}
    )
    with pytest.raises(ExpressionError, match=r"a value of type datetime is not allowed"):
        evaluate("input.when", names)


def test_comprehension_variables_shadow_and_do_not_leak(names: dict) -> None:
    assert evaluate("[input for input in [1, 2]]", names) == [1, 2]
    assert evaluate("input.body.count", names) == 3
    assert evaluate("[[a, b] for a in [1, 2] for b in 'xy' if a > 1]", names) == [
        [2, "x"], [2, "y"]
    ]  # fmt: skip
    with pytest.raises(ExpressionError, match=r"unknown name 'x'"):
        evaluate("[x for x in [1]] + [x]", names)


# --------------------------------------------------------------------------- errors and check


@pytest.mark.parametrize(
    ("text", "position"),
    [("{{ vars.base_url", 0), ("abc {{ 1 + 2 }} and {{ oops", 20), ("{{ x }} {{ ", 8)],
)
def test_unterminated_braces(names: dict, text: str, position: int) -> None:
    for call in (
        lambda: render(text, names, node_id="get", field="config.url"),
        lambda: check(text, node_id="get", field="config.url"),
    ):
        with pytest.raises(ExpressionError, match=r"unterminated '\{\{'") as info:
            call()
        assert (info.value.node_id, info.value.field, info.value.position) == (
            "get", "config.url", position
        )  # fmt: skip


def test_unterminated_inside_find_expressions() -> None:
    with pytest.raises(ExpressionError, match="unterminated"):
        find_expressions("x {{ y")


def test_unbalanced_quote_falls_back_to_the_first_closing_braces(names: dict) -> None:
    assert find_expressions("{{ ' }}") == [(0, 7, "'")]
    with pytest.raises(ExpressionError, match="syntax error: unterminated string literal"):
        check("{{ ' }}")


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        # positions point at the fault where it is known, else at the `{{`
        ("{{ 1 + }}", 0, r"syntax error"),
        ("hello {{ a b }}", 11, r"syntax error: invalid syntax"),
        ("{{ x = 1 }}", 5, r"syntax error"),
        ("{{ }}", 0, r"empty expression"),
        ("ok {{ 1 }} {{ f( }}", 15, r"syntax error: '\(' was never closed"),
        ("{{ lambda: 1 }}", 3, r"lambda is not allowed"),
        ("{{ input.__class__ }}", 9, r"reading .__class__ is not allowed"),
        ("{{ open('/etc/passwd') }}", 3, r"unknown function 'open'"),
        ("{{ 1 & 2 }}", 0, r"operator & is not allowed"),
        ("{{ f'{1}' }}", 3, r"f-strings is not allowed"),
    ],
)
def test_check_reports_syntax_and_sandbox_problems_without_running(
    text: str, position: int, message: str
) -> None:
    with pytest.raises(ExpressionError, match=message) as info:
        check(text, node_id="n1", field="config.x")
    assert (info.value.node_id, info.value.field, info.value.position) == (
        "n1",
        "config.x",
        position,
    )


def test_check_accepts_valid_text_and_does_not_evaluate() -> None:
    check("plain")
    check("{{ input.whatever.missing[99] / 0 }} and {{ nodes['X'].y }}")
    check("{{ {'a': {'b': 1}} }}")


def test_find_expressions_spans() -> None:
    text = "a {{ x }} b {{ {'k': {'v': '}}'}} }} c {{y}}"
    spans = find_expressions(text)
    assert [inner for _, _, inner in spans] == ["x", "{'k': {'v': '}}'}}", "y"]
    for start, end, _ in spans:
        assert text[start : start + 2] == "{{" and text[end - 2 : end] == "}}"
    assert find_expressions("no braces") == []


def test_runtime_errors_name_node_field_and_position(names: dict) -> None:
    config = {"headers": {"Authorization": "Bearer {{ vars.token }}"}}
    with pytest.raises(ExpressionError) as info:
        render(config, names, node_id="get", field="config")
    err = info.value
    assert err.node_id == "get"
    assert err.field == "config.headers.Authorization"
    assert err.position == 15  # "Bearer {{ vars.token }}": points at `token`, the missing key
    assert "vars has no key 'token'" in err.message
    with pytest.raises(ExpressionError) as info:
        render({"to": ["ok", "{{ 1 / 0 }}"]}, names, node_id="mail", field="config")
    assert info.value.field == "config.to[1]" and "division by zero" in info.value.message
    with pytest.raises(ExpressionError) as info:
        render([["{{ nope }}"]], names, node_id="x")
    assert info.value.field == "[0][0]"


def test_evaluate_bare_expression_errors(names: dict) -> None:
    with pytest.raises(ExpressionError) as info:
        evaluate("1 +", names, node_id="n", field="f")
    assert (info.value.node_id, info.value.field, info.value.position) == ("n", "f", None)
    with pytest.raises(ExpressionError, match="empty expression"):
        evaluate("   ", names)
    with pytest.raises(ExpressionError, match="must be a string"):
        evaluate(5, names)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("'a' - 'b'", r"- needs numbers, not string and string"),
        ("-'a'", r"unary - needs a number"),
        ("1 + 'a'", r"TypeError"),
        ("1 in 5", r"'in' needs a string, list or dict"),
        ("[x for x in 5]", r"cannot loop over number"),
        ("[a for a, b in [[1]]]", r"cannot unpack list into 2 names"),
        ("{[1]: 2}", r"list cannot be a dict key"),
        ("{**[1]}", r"\*\* needs a dict"),
        ("(-8) ** 0.5", r"complex"),
        ("1 < 'a'", r"TypeError"),
    ],
)
def test_type_errors_are_expression_errors(names: dict, expr: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        evaluate(expr, names, node_id="n", field="f")


# --------------------------------------------------------------------------- caching, threads


def test_limits_are_configurable(names: dict) -> None:
    small = ExpressionLimits(max_length=10)
    with pytest.raises(ExpressionError, match=r"too long \(11 characters, the limit is 10\)"):
        evaluate("1+1+1+1+1+1", names, limits=small)
    assert evaluate("1+1+1+1+1+1", names) == 6
    assert DEFAULT_LIMITS.max_length == 10_000


def test_many_threads_evaluate_independently() -> None:
    errors: list[BaseException] = []

    def work(k: int) -> None:
        names = make_names(input={"k": k}, nodes={}, vars={}, loop=None, execution={})
        try:
            for i in range(300):
                assert render({"v": "{{ [input.k * i for i in [1, 2]] }}"}, names) == {
                    "v": [k, 2 * k]
                }
                assert render("{{ input.k }}-{{ str(input.k) }}", names) == f"{k}-{k}"
                assert i >= 0
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


class _ParsesWhenCollected:
    """Garbage whose finalizer parses, as a finalizer that logs a traceback does (3.11's
    traceback underlines the failing part of a line by parsing it)."""

    def __del__(self) -> None:
        import ast

        ast.parse("a + (b * (c - d))")


def test_a_collection_during_a_parse_that_parses_too_does_not_fail_the_expression() -> None:
    """CPython 3.11 shares one depth counter between syntax trees being built: a finalizer
    run by the collector in the middle of an expression's parse broke it with
    "SystemError: AST constructor recursion depth mismatch" (seen in CI as a failed node)."""
    import gc

    from engine import expressions

    gc.collect()
    threshold = gc.get_threshold()
    gc.set_threshold(1)  # a collection at nearly every allocation
    try:
        for i in range(60):
            for _ in range(3):
                junk = _ParsesWhenCollected()
                junk.me = junk  # type: ignore[attr-defined]  # a cycle: freed by the collector only
            del junk
            source = " + ".join(f"(x{j} * {j + i})" for j in range(40))
            assert expressions.evaluate(source, {f"x{j}": 1 for j in range(40)}) == sum(j + i for j in range(40))
    finally:
        gc.set_threshold(*threshold)
        gc.collect()  # the junk left in cycles parses when freed: here, not in the middle of a later test's parse
