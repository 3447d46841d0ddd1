"""Graph validation reports every problem at once, with node ids and fields; routing is O(1)."""

from __future__ import annotations

from engine.fileformat import parse
from engine.graph import Routing, validate
from engine.model import Connection, Workflow
from tests.engine.runtime.helpers import workflow


def _unchecked(nodes: list[dict], connections: list[tuple[str, str, str]]) -> Workflow:
    """A workflow whose configs are left for `validate` to check."""
    doc = {
        "format": "processengine/1", "id": "wf", "name": "t",
        "nodes": [{"name": n["id"], **n} for n in nodes],
        "connections": [{"from": a, "from_port": p, "to": b} for a, p, b in connections],
    }  # fmt: skip
    return parse(doc, check_configs=False)


def _msgs(problems) -> list[tuple[str | None, str | None, str]]:
    return [(p.node_id, p.field, p.message) for p in problems]


def test_valid_workflow_has_no_problems() -> None:
    wf = workflow(
        [{"id": "start", "type": "manual_trigger"}, {"id": "a", "type": "set", "config": {"values": {"x": 1}}}],
        [("start", "out", "a")],
    )
    assert validate(wf) == []


def test_no_trigger() -> None:
    wf = workflow([{"id": "a", "type": "set", "config": {"values": {}}}], [])
    problems = validate(wf)
    assert any("no trigger" in p.message for p in problems)


def test_all_problems_reported_at_once() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "a", "type": "set", "config": {"values": {}}},
            {"id": "b", "type": "set", "name": "a", "config": {"values": {}}},  # duplicate name
            {"id": "lonely", "type": "set", "config": {"values": {}}},
            {"id": "c", "type": "if", "config": {"condition": "{{ input.x > }}"}},
        ],
        [("start", "out", "a"), ("a", "out", "b"), ("b", "out", "c")],
    )
    wf.connections.append(Connection("a", "out", "ghost", "in"))
    wf.connections.append(Connection("a", "nope", "b", "in"))
    wf.connections.append(Connection("a", "out", "start", "in"))
    wf.connections.append(Connection("a", "out", "b", "in"))  # duplicate of connection 1
    got = _msgs(validate(wf))
    text = "\n".join(f"{n} {f} {m}" for n, f, m in got)
    assert any(n == "b" and f == "name" and "duplicate node name" in m for n, f, m in got), text
    assert any(n == "lonely" and "unreachable" in m for n, f, m in got), text
    assert any(n == "c" and f == "config.condition" for n, f, m in got), text
    assert any(n == "ghost" and f == "connections[3].to" for n, f, m in got), text
    assert any(n == "a" and f == "connections[4].from_port" and "'nope'" in m for n, f, m in got), text
    assert any(n == "start" and f == "connections[5].to_port" and "trigger" in m for n, f, m in got), text
    assert any(f == "connections[6]" and "duplicate connection" in m for n, f, m in got), text


def test_cycle_outside_a_loop_is_reported() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "a", "type": "set", "config": {"values": {}}},
            {"id": "b", "type": "set", "config": {"values": {}}},
        ],
        [("start", "out", "a"), ("a", "out", "b"), ("b", "out", "a")],
    )
    problems = validate(wf)
    assert any("cycle" in p.message for p in problems)


def test_cycle_through_loop_port_is_allowed() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "each", "type": "loop", "config": {"items": [1]}},
            {"id": "body", "type": "set", "config": {"values": {}}},
        ],
        [("start", "out", "each"), ("each", "loop", "body"), ("body", "out", "each")],
    )
    assert validate(wf) == []
    routing = Routing.build(wf)
    assert routing.back_edges == frozenset({2})


def test_cycle_through_loop_done_port_is_not_allowed() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "each", "type": "loop", "config": {"items": [1]}},
            {"id": "after", "type": "set", "config": {"values": {}}},
        ],
        [("start", "out", "each"), ("each", "done", "after"), ("after", "out", "each")],
    )
    assert any("cycle" in p.message for p in validate(wf))


def test_error_port_exists_only_with_route() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "a", "type": "set", "config": {"values": {}}},
            {"id": "b", "type": "set", "config": {"values": {}}},
        ],
        [("start", "out", "a"), ("a", "error", "b")],
    )
    assert any(p.field == "connections[1].from_port" for p in validate(wf))
    wf.set_node_attr("a", "on_error", "route")
    assert validate(wf) == []


def test_routing_lists_targets_in_connection_order() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "a", "type": "set", "config": {"values": {}}},
            {"id": "b", "type": "set", "config": {"values": {}}},
        ],
        [("start", "out", "b"), ("start", "out", "a")],
    )
    r = Routing.build(wf)
    assert [t.to_node for t in r.targets("start", "out")] == ["b", "a"]
    assert r.targets("a", "out") == []
    assert r.incoming == {"b": [0], "a": [1]}


def test_one_walk_over_a_config_finds_each_expression_and_defers_its_key() -> None:
    """Expression errors name their full field path (keys with dots and brackets too);
    a key holding an expression is left to the check after rendering, the rest of
    the config is checked now."""
    wf = _unchecked(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "h", "type": "http_request", "config": {
                "url": "http://127.0.0.1/{{ vars.path }}",
                "timeout_s": "{{ vars.t }}",  # a string now, a number once rendered
                "method": "TELEPORT",
                "headers": {"a.b[0]": ["ok", "{{ 1 + }}"]},
            }},
        ],
        [("start", "out", "h")],
    )  # fmt: skip
    got = _msgs(validate(wf))
    assert [f for _, f, _ in got] == ["config.method", "config.headers.a.b[0][1]"], got
    assert "syntax error" in got[1][2]


def test_an_unsupported_node_keeps_its_n8n_parameters_unread() -> None:
    """Its original parameters are not expressions (they are n8n's), the other keys are."""
    wf = _unchecked(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "u", "type": "unsupported", "config": {
                "original_type": "n8n-nodes-base.x", "reason": "{{ not ours",
                "parameters": {"p": "{{ $json.x }}"}, "credentials": {"c": "{{"},
                "note": "{{ 1 + }}",
            }},
        ],
        [("start", "out", "u")],
    )  # fmt: skip
    fields = [f for _, f, _ in _msgs(validate(wf))]
    assert "config.note" in fields and "type" in fields
    assert not any(f.startswith(("config.parameters", "config.credentials", "config.reason")) for f in fields if f)


def test_an_edited_file_is_checked_afresh_in_the_same_process(tmp_path) -> None:
    """Nothing about a file is remembered between loads: only expression texts are cached,
    keyed by the text itself. Each edit's new problem is found, naming file, node, field."""
    import json

    from engine import fileformat
    from engine.errors import WorkflowInvalid
    from engine.graph import ensure_valid

    path = tmp_path / "wf.pe.json"
    doc = {
        "format": "processengine/1", "id": "wf",
        "nodes": [{"id": "start", "type": "manual_trigger", "name": "Start"},
                  {"id": "s", "type": "set", "name": "S", "config": {"values": {"a": "{{ vars.k }}"}}}],
        "connections": [{"from": "start", "to": "s"}],
    }  # fmt: skip

    def load() -> list[tuple[str | None, str | None, str | None, str]]:
        path.write_text(json.dumps(doc))
        try:
            ensure_valid(fileformat.load(path, check_configs=False), file=str(path))
        except WorkflowInvalid as exc:
            return [(p.file, p.node_id, p.field, p.message) for p in exc.problems]
        return []

    assert load() == []
    doc["nodes"][1]["config"]["values"]["a"] = "{{ vars.k + }}"
    ((file, node, field, message),) = load()
    assert (file, node, field) == (str(path), "s", "config.values.a") and "syntax error" in message
    doc["nodes"][1]["config"] = {"values": {"a": "{{ vars.k }}"}, "mode": "sideways"}
    ((file, node, field, _),) = load()
    assert (file, node, field) == (str(path), "s", "config.mode")
    doc["nodes"][1]["config"] = {"values": {"a": "{{ vars.k }}"}}
    assert load() == []
