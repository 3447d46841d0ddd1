"""The wrapper around an imported Code node's JavaScript gives the code n8n's names over
the engine's value and turns the returned items back into a value. Run in a real V8
(mini-racer) as a function body with the engine's names `input` and `nodes`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from py_mini_racer import MiniRacer

from engine.n8n.code_wrap import wrap_code


def run(body: str, value: Any, nodes: dict[str, Any] | None = None) -> Any:
    """The body as the code node runs it: an async function of the engine's names, in strict mode."""
    ctx = MiniRacer()
    src = f"(async function(input, nodes) {{\n'use strict';\n{body}\n}})({json.dumps(value)}, {json.dumps(nodes or {})})"
    return json.loads(ctx.eval(f"{src}.then(JSON.stringify)").get(timeout=5))


def test_all_items_mode_returns_the_one_item() -> None:
    code = "const items = $input.all();\nreturn items.map(i => ({ json: { n: i.json.n * 2, first: $input.first().json.n } }));"
    assert run(wrap_code(code, per_item=False), {"n": 4}) == {"n": 8, "first": 4}


def test_all_items_mode_over_a_list_returns_the_list() -> None:
    code = "return $input.all().map(i => ({ json: { n: i.json.n + 1 } }));"
    assert run(wrap_code(code, per_item=False), [{"n": 1}, {"n": 2}]) == [{"n": 2}, {"n": 3}]


def test_each_item_mode_runs_once_per_element() -> None:
    code = "return { json: { doubled: $json.n * 2, same: $input.item.json.n } };"
    body = wrap_code(code, per_item=True)
    assert run(body, [{"n": 1}, {"n": 5}]) == [{"doubled": 2, "same": 1}, {"doubled": 10, "same": 5}]
    assert run(body, {"n": 3}) == {"doubled": 6, "same": 3}


def test_node_references_read_an_http_response_body() -> None:
    code = "return [{ json: { id: $('Get').item.json.id, other: $node['Calc'].json.v } }];"
    body = wrap_code(code, per_item=False, http_nodes=frozenset({"Get"}))
    nodes = {"Get": {"status": 200, "headers": {}, "body": {"id": 7}}, "Calc": {"v": 1}}
    assert run(body, {}, nodes) == {"id": 7, "other": 1}


def test_input_after_an_http_request_is_its_body() -> None:
    body = wrap_code("return [{ json: $json }];", per_item=False, input_base="input.body")
    assert run(body, {"status": 200, "headers": {}, "body": {"ok": True}}) == {"ok": True}


def test_the_result_goes_through_json_as_n8n_stores_items() -> None:
    code = "return [{ json: { a: $json.missing, n: parseFloat('x'), ok: 1 } }];"
    assert run(wrap_code(code, per_item=False), {}) == {"n": None, "ok": 1}


def test_the_code_may_await() -> None:
    code = "const v = await Promise.resolve($json.n + 1);\nreturn [{ json: { v } }];"
    assert run(wrap_code(code, per_item=False), {"n": 1}) == {"v": 2}
    assert run(wrap_code(code, per_item=True), [{"n": 1}, {"n": 2}]) == [{"v": 2}, {"v": 3}]


def test_a_text_response_is_n8ns_data_field() -> None:
    body = wrap_code("return [{ json: { text: $json.data, other: $('Get').first().json.data } }];",
                     per_item=False, input_base="input.body", http_nodes=frozenset({"Get"}))  # fmt: skip
    nodes = {"Get": {"status": 200, "headers": {}, "body": "b"}}
    assert run(body, {"status": 200, "headers": {}, "body": "a"}, nodes) == {"text": "a", "other": "b"}


def test_after_a_merge_the_http_responses_are_their_bodies() -> None:
    body = wrap_code("return [{ json: { n: $input.all().length, first: $input.first().json, second: $input.all()[1].json } }];",
                     per_item=False, merged=[True, False])  # fmt: skip
    value = [{"status": 200, "headers": {}, "body": {"state": "done"}}, {"poll": 2}]
    assert run(body, value) == {"n": 2, "first": {"state": "done"}, "second": {"poll": 2}}


def test_a_thrown_error_propagates() -> None:
    from py_mini_racer import JSPromiseError

    with pytest.raises(JSPromiseError, match="bad 1"):
        run(wrap_code("throw new Error('bad ' + $json.id);", per_item=False), {"id": 1})


def test_split_out_makes_one_item_per_element() -> None:
    from engine.n8n.convert import convert

    node = {"id": "s", "name": "Split", "type": "n8n-nodes-base.splitOut", "typeVersion": 1, "position": [0, 0],
            "parameters": {"fieldToSplitOut": "order.lines"}}  # fmt: skip
    wf, _ = convert({"nodes": [node], "connections": {}})
    body = wf.nodes[0].config["code"]
    got = run(body, {"order": {"lines": [{"sku": "a"}, 2]}})
    assert got == [{"sku": "a"}, {"lines": 2}]

