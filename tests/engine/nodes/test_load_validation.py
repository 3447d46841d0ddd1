"""Load-time config checks (`registry.validate_node_config`) against the built-in schemas.

Keys holding `{{ }}` are only checked after rendering, so a cross-field rule
("exactly one of ...", "json or body") must not fire at load time because one
of its keys is an expression, but must still fire for literal configs.
"""

from __future__ import annotations

import pytest

from engine.model import Node
from engine.nodes.registry import has_expression, validate_node_config


def problems(node_type: str, config: dict) -> list[tuple[str | None, str]]:
    node = Node(id="n1", type=node_type, name="N", config=config)
    return [(p.field, p.message) for p in validate_node_config(node, file="wf.pe.json")]


@pytest.mark.parametrize(
    ("node_type", "config"),
    [
        ("sub_workflow", {"file": "{{ vars.child }}"}),
        ("sub_workflow", {"workflow_id": "{{ vars.child_id }}", "inputs": "{{ input }}"}),
        ("schedule_trigger", {"every_s": "{{ vars.interval }}"}),
        ("http_request", {"url": "{{ vars.base }}/x", "json": "{{ input }}"}),
        ("http_request", {"method": "{{ vars.m }}", "url": "http://127.0.0.1/"}),
        ("send_email", {"smtp_host": "{{ vars.host }}", "from": "a@x.org", "to": "{{ input.to }}"}),
        ("loop", {"items": "{{ input.items }}", "max_iterations": "{{ vars.max }}"}),
        ("if", {"condition": "{{ input.ok }}"}),
        ("wait", {"seconds": "{{ vars.delay }}"}),
    ],
)
def test_expression_keys_are_deferred(node_type, config):
    assert problems(node_type, config) == []


@pytest.mark.parametrize(
    ("node_type", "config", "field", "text"),
    [
        ("sub_workflow", {}, "config", "set exactly one of `file` or `workflow_id`"),
        ("sub_workflow", {"file": "a", "workflow_id": "b"}, "config", "set exactly one"),
        ("schedule_trigger", {}, "config", "set exactly one of `every_s` or `cron`"),
        ("schedule_trigger", {"cron": "nope"}, "config.cron", "invalid cron expression"),
        ("http_request", {"url": "http://h", "json": {}, "body": "x"}, "config.body", "not both"),
        ("http_request", {"url": "ftp://h"}, "config.url", "http:// or https://"),
        ("http_request", {"url": "{{ vars.u }}", "timeout_s": -1}, "config.timeout_s", "greater than 0"),
        ("send_email", {"smtp_host": "h", "from": "a@x.org", "to": "b@y.org", "tls": True, "starttls": True},
         "config.tls", "not both"),
        ("switch", {"value": 1, "cases": {"default": 1}}, "config.cases", "reserved"),
        ("webhook_trigger", {"path": "{{ vars.p }}"}, "config.path", "invalid webhook path"),
        ("set", {"valuez": {}}, "config.valuez", "Extra inputs are not permitted"),
    ],
)
def test_literal_mistakes_are_reported_with_field(node_type, config, field, text):
    found = problems(node_type, config)
    assert any(f == field and text in m for f, m in found), found


def test_missing_required_key_is_reported():
    assert ("config.url", "Field required") in problems("http_request", {"method": "GET"})


def test_expression_only_configs_are_checked_once_per_shape_and_named_per_node() -> None:
    """A config whose every key is an expression is checked once per node type and set of
    keys; each node still gets its own problems, naming it."""
    a = Node(id="a", type="http_request", name="A", config={"method": "{{ vars.m }}"})  # no url: a problem
    b = Node(id="b", type="http_request", name="B", config={"method": "{{ vars.other }}"})
    got_a = validate_node_config(a, file="wf.pe.json")
    got_b = validate_node_config(b, file="other.pe.json")
    assert [(p.node_id, p.field, p.file) for p in got_a] == [("a", "config.url", "wf.pe.json")]
    assert [(p.node_id, p.field, p.file) for p in got_b] == [("b", "config.url", "other.pe.json")]
    assert got_a[0].message == got_b[0].message
    got_a.clear()  # a caller changing its list changes nothing for the next node
    assert len(validate_node_config(a)) == 1


class _Text(str):
    pass


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{{ x }}", True), ("plain", False), (_Text("a {{ b }}"), True), (None, False), (3, False),
        ({"a": 1, "b": [2, {"c": "{{ d }}"}]}, True), ({"a": 1, "b": [2, {"c": "{ d }"}]}, False),
        ([1.5, True, None, "x", ["{{"]], True), ({}, False), ([], False), ((["{{"],), False),
        ({"k": _Text("{{")}, True), ({"{{ key }}": 1}, False),
    ],
)  # fmt: skip
def test_has_expression_looks_at_every_text_value_and_never_at_keys(value: object, expected: bool) -> None:
    assert has_expression(value) is expected
