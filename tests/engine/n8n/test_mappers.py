"""Exact mappings per n8n node type and typeVersion (config, ports, node settings)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.graph import validate
from engine.model import Node
from engine.n8n.convert import convert
from engine.n8n.mappers_items import ITEMS
from engine.n8n.summary import ImportSummary


def one(kind: str, version: float, params: dict[str, Any], **extra: Any) -> tuple[Node, ImportSummary]:
    node = {"id": "n1", "name": "N", "type": f"n8n-nodes-base.{kind}", "typeVersion": version,
            "position": [10, 20], "parameters": params, **extra}  # fmt: skip
    wf, summary = convert({"nodes": [node], "connections": {}})
    return wf.nodes[0], summary


CASES = [
    ("set", 1, {"values": {"string": [{"name": "a", "value": "x"}], "number": [{"name": "n", "value": "={{ $json.n + 1 }}"}],
                           "boolean": [{"name": "b", "value": True}]}, "keepOnlySet": True},
     "set", {"values": {"a": "x", "n": "{{ input.n + 1 }}", "b": True}, "keep_input": False}),
    ("set", 2, {"values": {"number": [{"name": "n", "value": 5}]}}, "set", {"values": {"n": 5}, "keep_input": True}),
    ("set", 3, {"fields": {"values": [{"name": "a", "stringValue": "={{ $json.x }}"},
                                      {"name": "n", "type": "numberValue", "numberValue": "7"}]}, "include": "none"},
     "set", {"values": {"a": "{{ input.x }}", "n": 7}, "keep_input": False}),
    ("set", 3.2, {"mode": "raw", "jsonOutput": '={ "a": {{ $json.x }} }'}, "set", {"values": {"a": "{{ input.x }}"}, "keep_input": True}),
    ("set", 3.4, {"assignments": {"assignments": [{"id": "1", "name": "a", "value": "={{ $json.x }}", "type": "string"},
                                                  {"id": "2", "name": "n", "value": "3", "type": "number"}]}, "includeOtherFields": True},
     "set", {"values": {"a": "{{ input.x }}", "n": 3}, "keep_input": True}),
    ("if", 1, {"conditions": {"number": [{"value1": "={{ $json.n }}", "operation": "larger", "value2": 3}],
                              "string": [{"value1": "={{ $json.s }}", "operation": "contains", "value2": "ok"}]}, "combineOperation": "any"},
     "if", {"condition": "{{ (input.n > 3) or ('ok' in input.s) }}"}),
    ("if", 2, {"conditions": {"options": {"caseSensitive": False}, "combinator": "and", "conditions": [
        {"leftValue": "={{ $json.s }}", "rightValue": "Done", "operator": {"type": "string", "operation": "equals"}},
        {"leftValue": "={{ $json.items }}", "rightValue": "", "operator": {"type": "array", "operation": "notEmpty", "singleValue": True}}]}},
     "if", {"condition": "{{ (str(input.s).lower() == str('Done').lower()) and (bool(input.items)) }}"}),
    ("switch", 3, {"rules": {"values": [
        {"conditions": {"conditions": [{"leftValue": "={{ $json.k }}", "rightValue": "a", "operator": {"type": "string", "operation": "equals"}}]},
         "renameOutput": True, "outputKey": "A"},
        {"conditions": {"conditions": [{"leftValue": "={{ $json.n }}", "rightValue": 5, "operator": {"type": "number", "operation": "gt"}}]}}]},
        "fallbackOutput": "extra"},
     "switch", {"value": "{{ 'A' if (input.k == 'a') else '1' if (input.n > 5) else None }}", "cases": {"A": "A", "1": "1"}}),
    ("switch", 1, {"dataType": "string", "value1": "={{ $json.k }}", "fallbackOutput": 3,
                   "rules": {"rules": [{"operation": "equal", "value2": "a", "output": 0}, {"operation": "equal", "value2": "b", "output": 1}]}},
     "switch", {"value": "{{ '0' if (input.k == 'a') else '1' if (input.k == 'b') else '3' }}", "cases": {"0": "0", "1": "1", "2": "2", "3": "3"}}),
    ("httpRequest", 1, {"requestMethod": "POST", "url": "={{ $vars.base }}/x", "jsonParameters": True,
                        "bodyParametersJson": '={"id": {{ $json.id }}}', "headerParametersJson": '{"X-A": "1"}', "options": {"timeout": 5000}},
     "http_request", {"method": "POST", "url": "{{ vars.base }}/x", "headers": {"X-A": "1"}, "json": {"id": "{{ input.id }}"}, "timeout_s": 5.0}),
    ("httpRequest", 2, {"url": "http://h/x", "queryParametersUi": {"parameter": [{"name": "q", "value": "={{ $json.q }}"}]}},
     "http_request", {"method": "GET", "url": "http://h/x", "query": {"q": "{{ input.q }}"}}),
    ("httpRequest", 4.2, {"method": "PUT", "url": "http://h/x", "sendQuery": True, "queryParameters": {"parameters": [{"name": "a", "value": "1"}]},
                          "sendHeaders": True, "headerParameters": {"parameters": [{"name": "X", "value": "={{ $json.h }}"}]},
                          "sendBody": True, "bodyParameters": {"parameters": [{"name": "b", "value": "={{ $json.b }}"}]}, "options": {"timeout": 2000}},
     "http_request", {"method": "PUT", "url": "http://h/x", "query": {"a": "1"}, "headers": {"X": "{{ input.h }}"}, "json": {"b": "{{ input.b }}"}, "timeout_s": 2.0}),
    ("httpRequest", 4.4, {"method": "POST", "url": "http://h/x", "sendBody": True, "specifyBody": "json",
                          "jsonBody": '={ "model": {{ JSON.stringify($json.m) }}, "text": "id-{{ $json.id }}" }'},
     "http_request", {"method": "POST", "url": "http://h/x", "json": {"model": "{{ input.m }}", "text": "id-{{ input.id }}"}}),
    ("wait", 1.1, {"amount": 2, "unit": "minutes"}, "wait", {"seconds": 120.0}),
    ("webhook", 2, {"httpMethod": "POST", "path": "/in"}, "webhook_trigger", {"path": "in", "method": "POST"}),
    ("respondToWebhook", 1.1, {"respondWith": "json", "responseBody": '={"ok": {{ $json.ok }}}', "options": {"responseCode": 201}},
     "respond_webhook", {"status": 201, "body": {"ok": "{{ input.ok }}"}}),
    ("respondToWebhook", 1.4, {"respondWith": "firstIncomingItem", "options": {"responseHeaders": {"entries": [{"name": "X", "value": "1"}]}}},
     "respond_webhook", {"status": 200, "body": "{{ input }}", "headers": {"X": "1"}}),
    ("scheduleTrigger", 1.2, {"rule": {"interval": [{"field": "minutes", "minutesInterval": 5}]}}, "schedule_trigger", {"every_s": 300.0}),
    ("scheduleTrigger", 1, {"rule": {"interval": [{"field": "cronExpression", "expression": "0 8 * * *"}]}}, "schedule_trigger", {"cron": "0 8 * * *"}),
    ("cron", 1, {"triggerTimes": {"item": [{"mode": "everyDay", "hour": 6, "minute": 30}]}}, "schedule_trigger", {"cron": "30 6 * * *"}),
    ("splitInBatches", 3, {"batchSize": 1}, "loop", {"items": ITEMS}),
    ("noOp", 1, {}, "no_op", {}),
    ("merge", 2, {"mode": "append"}, "merge", {"mode": "wait_all"}),
    ("filter", 2, {"conditions": {"conditions": [{"leftValue": "={{ $json.n }}", "rightValue": 1, "operator": {"type": "number", "operation": "gte"}}]}},
     "filter", {"items": ITEMS, "condition": "{{ (item.n >= 1) }}"}),
    ("sort", 1, {"sortFieldsUi": {"sortField": [{"fieldName": "a.b", "order": "descending"}]}}, "sort", {"items": ITEMS, "key": "{{ item.a.b }}", "reverse": True}),
    ("limit", 1, {"maxItems": 3, "keep": "lastItems"}, "limit", {"items": ITEMS, "count": 3, "from": "end"}),
    ("removeDuplicates", 1, {"compare": "selectedFields", "fieldsToCompare": "a, b"}, "remove_duplicates", {"items": ITEMS, "key": "{{ [item.a, item.b] }}"}),
    ("aggregate", 1, {"fieldsToAggregate": {"fieldToAggregate": [{"fieldToAggregate": "id"}]}},
     "aggregate", {"items": ITEMS, "fields": {"id": {"op": "list", "value": "{{ item.id }}"}}}),
    ("executeCommand", 1, {"command": "ls -la"}, "execute_command", {"command": ["sh", "-c", "ls -la"]}),
    ("readWriteFile", 1, {"operation": "read", "fileSelector": "/tmp/x.txt"}, "read_file", {"path": "/tmp/x.txt", "format": "text"}),
    ("executeWorkflow", 1, {"source": "localFile", "workflowPath": "child.pe.json"}, "sub_workflow", {"file": "child.pe.json"}),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "version", "params", "want_type", "want_config"), CASES, ids=[f"{c[0]}-v{c[1]}" for c in CASES])
def test_maps_exactly(kind: str, version: float, params: dict[str, Any], want_type: str, want_config: dict[str, Any]) -> None:
    node, summary = one(kind, version, params)
    assert (node.type, node.config) == (want_type, want_config)
    assert node.name == "N" and node.position == (10.0, 20.0)
    assert summary.nodes[0].type == want_type and not summary.untranslated


@pytest.mark.parametrize(
    ("version", "params", "keep"),
    [(3, {}, True), (3.2, {"include": "none"}, False), (3.3, {}, False), (3.4, {"includeOtherFields": True}, True),
     (3.4, {"includeOtherFields": True, "include": "all"}, True)],
)  # fmt: skip
def test_set_v3_keeps_the_input_fields_as_n8n_does(version: float, params: dict[str, Any], keep: bool) -> None:
    fields = {"fields": {"values": []}} if version < 3.3 else {"assignments": {"assignments": []}}
    node, _ = one("set", version, {**fields, **params})
    assert node.config["keep_input"] is keep


def test_set_with_selected_input_fields_is_a_placeholder() -> None:
    node, summary = one("set", 3.2, {"fields": {"values": []}, "include": "selected", "includeFields": "a"})
    assert node.type == "unsupported" and "include selected" in summary.unsupported[0].notes[0]


def test_if_with_loose_type_validation_converts_the_operands() -> None:
    from engine import expressions

    cond = {"options": {"typeValidation": "loose"}, "conditions": [
        {"leftValue": "={{ $json.n }}", "rightValue": "3", "operator": {"type": "number", "operation": "gt"}}]}  # fmt: skip
    node, _ = one("if", 2.2, {"conditions": cond})
    assert node.config == {"condition": "{{ (float(input.n) > float(3)) }}"}
    names = expressions.make_names(input={"n": "5"}, nodes={}, vars={}, loop=None, execution={})
    assert expressions.render(node.config["condition"], names) is True
    strict, _ = one("if", 2.2, {"conditions": {**cond, "options": {"typeValidation": "strict"}}})
    assert strict.config == {"condition": "{{ (input.n > 3) }}"}


def test_http_settings_credential_retry_and_error_output() -> None:
    node, summary = one("httpRequest", 4.2, {"url": "http://h/x"}, credentials={"httpHeaderAuth": {"id": "9", "name": "My key"}},
                  retryOnFail=True, maxTries=4, waitBetweenTries=500, onError="continueErrorOutput")  # fmt: skip
    assert node.config["credential"] == "My key"
    assert "create the credential 'My key' of kind header before running" in summary.nodes[0].notes
    assert node.retry == {"max_attempts": 4, "initial_delay_s": 0.5, "multiplier": 1.0, "max_delay_s": 0.5, "jitter": False}
    assert node.on_error == "route"


def test_a_literal_secret_header_is_not_copied() -> None:
    params = {"url": "http://h/x", "sendHeaders": True, "headerParameters": {"parameters": [
        {"name": "Authorization", "value": "Bearer sk-live-123"}, {"name": "X-Trace", "value": "1"},
        {"name": "x-api-key", "value": "={{ $env.KEY }}"}]}}  # fmt: skip
    node, summary = one("httpRequest", 4.2, params)
    assert "sk-live-123" not in json.dumps(node.config) and "sk-live-123" not in json.dumps(summary.to_json())
    assert node.config["headers"] == {"X-Trace": "1", "x-api-key": "{{ vars.KEY }}"}
    assert node.config["credential"] == "N Authorization"
    assert any("create the credential 'N Authorization' of kind header" in n for n in summary.nodes[0].notes)


def test_email_keeps_the_credential_name_and_asks_for_the_host() -> None:
    node, summary = one("emailSend", 2.1, {"fromEmail": "a@b", "toEmail": "={{ $json.to }}", "subject": "Hi", "text": "x"},
                        credentials={"smtp": {"id": "1", "name": "SMTP"}})  # fmt: skip
    assert node.config == {"smtp_host": "{{ vars.SMTP_HOST }}", "from": "a@b", "to": "{{ input.to }}", "subject": "Hi", "text": "x", "credential": "SMTP"}
    assert any("SMTP_HOST" in n for n in summary.nodes[0].notes)


@pytest.mark.parametrize(("mode", "per_item"), [("runOnceForAllItems", False), ("runOnceForEachItem", True)])
def test_code_keeps_the_source_and_the_mode(mode: str, per_item: bool) -> None:
    node, summary = one("code", 2, {"mode": mode, "jsCode": "return {json: {a: $json.a * 2}};"})
    assert node.type == "code" and node.config["language"] == "javascript"
    assert "return {json: {a: $json.a * 2}};" in node.config["code"]
    assert ("await __one(__value)" in node.config["code"]) is per_item
    assert summary.nodes[0].notes == ["runs once for each item" if per_item else "runs once for all items"]


def test_a_mode_with_no_counterpart_is_an_unsupported_placeholder() -> None:
    node, summary = one("merge", 3, {"mode": "combine", "combineBy": "combineByPosition"})
    assert node.type == "unsupported"
    assert node.config["original_type"] == "n8n-nodes-base.merge" and node.config["parameters"]["mode"] == "combine"
    assert "combine" in summary.unsupported[0].notes[0]
    problems = validate_node(node)
    assert any("unsupported node n8n-nodes-base.merge v3" in p for p in problems)


def test_unknown_types_keep_parameters_and_credential_names_only() -> None:
    node, summary = one("telegram", 1.2, {"chatId": "={{ $env.CHAT }}", "text": "hi"}, credentials={"telegramApi": {"id": "5", "name": "Bot"}})
    assert node.type == "unsupported"
    assert node.config["parameters"] == {"chatId": "={{ $env.CHAT }}", "text": "hi"}
    assert node.config["credentials"] == {"telegramApi": "Bot"}
    assert [n.name for n in summary.unsupported] == ["N"]
    # one problem, naming it; its n8n parameters are not read as expressions
    assert validate_node(node) == ["unsupported node n8n-nodes-base.telegram v1.2 (no counterpart for this node type): replace it or remove it"]


def validate_node(node: Node) -> list[str]:
    from engine.model import Workflow

    trigger = Node(id="t", type="manual_trigger", name="T")
    wf = Workflow(nodes=[trigger, node])
    from engine.model import Connection

    wf.connections.append(Connection("t", "out", node.id, "in"))
    return [p.message for p in validate(wf)]


def test_connections_by_name_and_output_index_become_ports() -> None:
    doc = {
        "nodes": [
            {"id": "a", "name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "position": [0, 0], "parameters": {}},
            {"id": "b", "name": "Check", "type": "n8n-nodes-base.if", "typeVersion": 2,
             "position": [200, 0], "parameters": {"conditions": {"conditions": []}}},
            {"id": "c", "name": "Yes", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "position": [400, 0], "parameters": {}},
            {"id": "d", "name": "No", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "position": [400, 200], "parameters": {}},
            {"id": "e", "name": "Note", "type": "n8n-nodes-base.stickyNote", "typeVersion": 1, "position": [0, -200],
             "parameters": {"content": "## Hello", "width": 300, "height": 100}},
        ],
        "connections": {
            "Start": {"main": [[{"node": "Check", "type": "main", "index": 0}]]},
            "Check": {"main": [[{"node": "Yes", "type": "main", "index": 0}], [{"node": "No", "type": "main", "index": 0}]]},
        },
    }  # fmt: skip
    wf, summary = convert(doc)
    assert [(c.from_node, c.from_port, c.to_node) for c in wf.connections] == [("a", "out", "b"), ("b", "true", "c"), ("b", "false", "d")]
    assert [(n.text, n.position, n.size) for n in wf.notes] == [("## Hello", (0.0, -200.0), (300.0, 100.0))]
    assert summary.connections == 3 and summary.notes == 1


@pytest.mark.parametrize(("value", "items"), [([1, 2], [1, 2]), ({"a": 1}, [{"a": 1}]), ({}, [{}]), ("ab", ["ab"]), ([], [])])
def test_item_nodes_see_n8n_items_as_a_list(value: Any, items: Any) -> None:
    from engine import expressions

    names = expressions.make_names(input=value, nodes={}, vars={}, loop=None, execution={})
    assert expressions.render(ITEMS, names) == items


def test_item_nodes_after_an_http_request_take_the_body() -> None:
    doc = {
        "nodes": [
            {"id": "a", "name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "position": [0, 0], "parameters": {}},
            {"id": "b", "name": "Get", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2, "position": [1, 0], "parameters": {"url": "http://h/x"}},
            {"id": "c", "name": "Top", "type": "n8n-nodes-base.limit", "typeVersion": 1, "position": [2, 0], "parameters": {"maxItems": 2}},
        ],
        "connections": {"Start": {"main": [[{"node": "Get", "index": 0}]]}, "Get": {"main": [[{"node": "Top", "index": 0}]]}},
    }  # fmt: skip
    wf, _ = convert(doc)
    assert wf.node("c").config["items"] == "{{ input.body if input.body == [x for x in input.body] else [input.body] }}"


def test_an_untranslated_expression_is_named_by_validate() -> None:
    node, summary = one("set", 3.4, {"assignments": {"assignments": [
        {"id": "a", "name": "d", "value": "={{ Date.now() }}", "type": "number"}]}})  # fmt: skip
    assert node.type == "code"  # a Set node computes it in JavaScript instead
    node, summary = one("httpRequest", 4.2, {"url": "={{ 'http://h/' + Date.now() }}"})
    assert summary.untranslated[0].field == "parameters.url" and "Date.now" in summary.untranslated[0].reason
    assert node.config["url"] == "={{ 'http://h/' + Date.now() }}"
    messages = validate_node(node)
    assert any("n8n JavaScript the import could not translate" in m for m in messages)


def test_a_compound_operand_keeps_its_parentheses() -> None:
    from engine import expressions

    cond = {"conditions": [{"leftValue": "={{ $json.a === 1 || $json.b === 2 }}", "rightValue": True,
                            "operator": {"type": "boolean", "operation": "equals"}}]}  # fmt: skip
    node, _ = one("if", 2, {"conditions": cond})
    assert node.config == {"condition": "{{ ((input.a == 1 or input.b == 2) == True) }}"}
    names = expressions.make_names(input={"a": 1, "b": 0}, nodes={}, vars={}, loop=None, execution={})
    assert expressions.render(node.config["condition"], names) is True

