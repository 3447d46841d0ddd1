"""Forms are generated for every node type's config schema, and values round-trip."""

from __future__ import annotations

import pytest

from app.panels.inspector.fields import MISSING, describe_fields, make_editor, parse_loose
from engine.nodes.registry import all_specs, get_spec


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: s.type)
def test_every_node_type_gets_a_form(qtbot, spec):
    fields = describe_fields(spec.config_model)
    for fm in fields:
        editor = make_editor(fm, lambda: {"input": {}, "vars": {}, "nodes": {}, "execution": {}})
        qtbot.addWidget(editor)
        editor.set_value(MISSING)
        assert editor.normalized() is MISSING or fm.kind in ("bool", "enum")


def test_kinds_come_from_annotations():
    kinds = {f.key: f.kind for f in describe_fields(get_spec("http_request").config_model)}
    assert kinds == {"method": "enum", "url": "text", "headers": "dict", "query": "dict", "json": "json",
                     "body": "text", "timeout_s": "number", "credential": "text"}  # fmt: skip
    mail = {f.key: f for f in describe_fields(get_spec("send_email").config_model)}
    assert mail["from"].required and mail["to"].kind == "list" and mail["starttls"].kind == "bool"
    assert mail["smtp_port"].number_type is int and mail["smtp_port"].default == 25


def test_values_round_trip_through_editors(qtbot):
    names = lambda: {}  # noqa: E731
    fields = {f.key: f for f in describe_fields(get_spec("http_request").config_model)}
    cases = {
        "method": "PUT",
        "url": "http://127.0.0.1/{{ input.id }}",
        "headers": {"Accept": "application/json", "X-N": "{{ vars.n }}"},
        "query": {"page": 2, "tags": ["a", "b"], "q": "text"},
        "json": {"a": [1, 2, {"b": None}]},
        "timeout_s": 2.5,
    }
    for key, value in cases.items():
        editor = make_editor(fields[key], names)
        qtbot.addWidget(editor)
        editor.set_value(value)
        assert editor.value() == value, key


def test_defaults_are_left_out():
    fields = {f.key: f for f in describe_fields(get_spec("http_request").config_model)}
    editor = make_editor(fields["method"], lambda: {})
    editor.set_value("GET")
    assert editor.value() == "GET" and editor.normalized() is MISSING


def test_parse_loose():
    assert parse_loose("42") == 42
    assert parse_loose("true") is True
    assert parse_loose('{"a": 1}') == {"a": 1}
    assert parse_loose("hello") == "hello"
    assert parse_loose("{{ input }}") == "{{ input }}"
    assert parse_loose("  ") is MISSING


def test_parse_loose_reads_back_an_object_with_expressions_as_shown() -> None:
    """The inspector shows a `json` body with `show_loose` (indented); reading it back must give
    the object again, or merely selecting the node rewrote the body as a string."""
    from app.panels.inspector.fields import show_loose

    body = {"n": "{{ input.body.n }}", "tags": ["{{ vars.tag }}"]}
    assert parse_loose(show_loose(body)) == body
    assert parse_loose('[\n  "{{ a }}"\n]') == ["{{ a }}"]
    assert parse_loose('"{{ input }}"') == '"{{ input }}"'  # a quoted template stays text
