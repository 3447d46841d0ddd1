"""n8n JavaScript expressions -> engine expressions, and the ones refused with a reason."""

from __future__ import annotations

import pytest

from engine import expressions
from engine.n8n.jsexpr import Context, Untranslatable, translate_expression


@pytest.mark.parametrize(
    ("js", "py"),
    [
        ("$json.x", "input.x"),
        ("$json['a b']", "input['a b']"),
        ("$('Order').item.json.total", "nodes['Order'].total"),
        ("$('Order').first().json.total", "nodes['Order'].total"),
        ('$node["Order"].json.total', "nodes['Order'].total"),
        ("$input.item.json.id", "input.id"),
        ("$vars.base_url", "vars.base_url"),
        ("$env.API_KEY", "vars.API_KEY"),
        ("$now", "execution.started_at"),
        ("$execution.id", "execution.id"),
        ("$json.items.length > 0 && $json.ok === true", "len(input.items) > 0 and input.ok == True"),
        ("!$json.done || $json.n !== null", "not (input.done if 'done' in input else None) or input.n != None"),
        ("$json.a ? 'yes' : 'no'", "'yes' if (input.a if 'a' in input else None) else 'no'"),
        ("$json.name.trim().toLowerCase()", "input.name.strip().lower()"),
        ("String($json.n) + '!'", "str(input.n) + '!'"),
        ("parseInt($json.n)", "int(input.n)"),
        ("Math.max($json.a, 3)", "max(input.a, 3)"),
        ("$json.tags.includes('x')", "'x' in input.tags"),
        ("$json.tags.join(', ')", "', '.join(input.tags)"),
        ("{ a: $json.x, 'b c': [1, 2.5, true] }", "{'a': input.x, 'b c': [1, 2.5, True]}"),
        ("`id-${$json.id}`", "'id-' + str(input.id)"),
        ("$json.a ?? 'none'", "(input.a if 'a' in input else None) if (input.a if 'a' in input else None) is not None else 'none'"),
        ("$json.a?.b", "input.a.b"),
        ("$json.s.slice(1, -1)", "input.s[1:-1]"),
        ("$json.s.substring(4, 1)", "input.s[1:4]"),
        ("Math.floor($json.n)", "int(input.n // 1)"),
        ("Math.ceil($json.n)", "-int(-input.n // 1)"),
    ],
)
def test_translates(js: str, py: str) -> None:
    got = translate_expression(js)
    assert got == py
    expressions.check("{{ " + got + " }}")


@pytest.mark.parametrize(
    "value",
    [{"a": 'x"y', "b": [1, 2.5, None, True]}, "plain text", 42, None, [{"field": "emails", "value": "a@b.c"}]],
)
def test_json_stringify_gives_the_same_text_as_javascript(value: object) -> None:
    import json

    py = translate_expression("JSON.stringify($json)")
    assert py == "str([input])[1:-1]"
    names = expressions.make_names(input=value, nodes={}, vars={}, loop=None, execution={})
    assert expressions.evaluate(py, names) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize(("n", "floor", "ceil"), [(2.5, 2, 3), (-2.5, -3, -2), (4, 4, 4), (-0.1, -1, 0)])
def test_floor_and_ceil_round_like_javascript(n: float, floor: int, ceil: int) -> None:
    names = expressions.make_names(input={"n": n}, nodes={}, vars={}, loop=None, execution={})
    assert expressions.evaluate(translate_expression("Math.floor($json.n)"), names) == floor
    assert expressions.evaluate(translate_expression("Math.ceil($json.n)"), names) == ceil


@pytest.mark.parametrize(
    ("value", "expected"), [({"task_id": "t1", "id": "x"}, "t1"), ({"id": "x"}, "x"), ({}, "none")]
)
def test_a_missing_key_in_a_fallback_reads_as_undefined(value: dict, expected: str) -> None:
    py = translate_expression("$json.task_id || $json.id || 'none'")
    names = expressions.make_names(input=value, nodes={}, vars={}, loop=None, execution={})
    assert expressions.evaluate(py, names) == expected


def test_http_input_reads_the_body() -> None:
    ctx = Context(input_base="input.body", node_base=lambda n: f"nodes[{n!r}].body")
    assert translate_expression("$json.id + $('Get').item.json.n", ctx) == "input.body.id + nodes['Get'].body.n"


def test_env_and_now_leave_notes() -> None:
    ctx = Context()
    translate_expression("$env.TOKEN + $now", ctx)
    assert any("TOKEN" in n for n in ctx.notes) and any("$now" in n for n in ctx.notes)


@pytest.mark.parametrize(
    ("js", "reason"),
    [
        ("$json.items.map(x => x.id)", "functions"),
        ("$input.all()", "several items"),
        ("JSON.stringify($json, null, 2)", "indentation"),
        ("$json.s.replace(/a/g, '')", "unexpected '/'"),
        ("DateTime.now()", "DateTime.now"),
        ("$json.s.padStart(3)", ".padStart()"),
        ("foo", "'foo'"),
    ],
)
def test_refuses_with_a_reason(js: str, reason: str) -> None:
    with pytest.raises(Untranslatable, match=reason.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        translate_expression(js)
