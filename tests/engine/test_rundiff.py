"""Run diff: two runs of one workflow, told apart node by node and at their first divergence."""

from __future__ import annotations

from engine.rundiff import diff_executions, output_changes
from engine.service import ExecutionService
from engine.travel import History
from tests.engine.runtime.helpers import workflow
from tests.servers import HttpTestServer, Reply


def branching(url: str) -> object:
    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "config": {"url": url}, "retry": "none"},
            {"id": "many", "type": "if", "config": {"condition": "{{ len(input.body['items']) > 2 }}"}},
            {"id": "big", "type": "set", "config": {"values": {"n": "{{ len(input.body['items']) }}"}}},
            {"id": "small", "type": "set", "config": {"values": {"n": 0}}},
        ],
        [("start", "out", "get"), ("get", "out", "many"), ("many", "true", "big"), ("many", "false", "small")],
    )


def test_output_changes_are_flat_paths() -> None:
    left = {"body": {"items": [1, 2, 3], "page": 1}, "status": 200}
    right = {"body": {"items": [1, 5], "next": 2}, "status": 200}
    changes = {(c["path"], c["kind"]): (c["left"], c["right"]) for c in output_changes(left, right)}
    assert changes == {
        ("body.items[1]", "changed"): (2, 5),
        ("body.items[2]", "removed"): (3, None),
        ("body.page", "removed"): (1, None),
        ("body.next", "added"): (None, 2),
    }


async def test_two_runs_diverge_at_the_response_and_take_other_branches(
    svc: ExecutionService, http_server: HttpTestServer
) -> None:
    http_server.route("/items", Reply(json={"items": [1, 2, 3]}), Reply(json={"items": [1]}))
    wf = branching(http_server.url_for("/items"))
    first = await svc.run(wf)
    second = await svc.run(wf)
    history = History(svc.store, svc.workflow_of)
    result = diff_executions(history, first.execution_id, second.execution_id, (wf, wf))
    nodes = result["nodes"]
    assert nodes["start"]["output_equal"] and nodes["start"]["status_equal"]
    assert not nodes["get"]["output_equal"]
    assert {"path": "body.items[1]", "kind": "removed", "left": 2, "right": None} in nodes["get"]["output_diff"]
    assert nodes["many"]["left"]["port"] == ["true"] and nodes["many"]["right"]["port"] == ["false"]
    assert not nodes["many"]["port_equal"]
    assert (nodes["big"]["left"]["status"], nodes["big"]["right"]["status"]) == ("succeeded", "skipped")
    assert (nodes["small"]["left"]["status"], nodes["small"]["right"]["status"]) == ("skipped", "succeeded")
    assert result["differing"] == ["get", "many", "big", "small"]
    first_div = result["first_divergence"]
    assert (first_div["index"], first_div["node_id"], first_div["reason"]) == (1, "get", "output")
    assert nodes["get"]["left"]["attempts"] == nodes["get"]["right"]["attempts"] == 1


async def test_identical_runs_have_no_divergence(svc: ExecutionService) -> None:
    """(No HTTP here: a response's Date header may change between two runs.)"""
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "items", "type": "set", "config": {"values": {"body": {"items": [1, 2, 3]}}}},
            {"id": "many", "type": "if", "config": {"condition": "{{ len(input.body['items']) > 2 }}"}},
            {"id": "big", "type": "set", "config": {"values": {"n": "{{ len(input.body['items']) }}"}}},
            {"id": "small", "type": "set", "config": {"values": {"n": 0}}},
        ],
        [("start", "out", "items"), ("items", "out", "many"), ("many", "true", "big"), ("many", "false", "small")],
    )
    a, b = await svc.run(wf), await svc.run(wf)
    result = diff_executions(History(svc.store, svc.workflow_of), a.execution_id, b.execution_id, (wf, wf))
    assert result["first_divergence"] is None and result["differing"] == []
    assert all(d["output_equal"] and d["status_equal"] and d["port_equal"] for d in result["nodes"].values())


async def test_a_retry_is_a_divergence_of_status(svc: ExecutionService, http_server: HttpTestServer) -> None:
    http_server.route("/items", Reply(json={"items": [1, 2, 3]}))
    http_server.fail_first("/flaky", 1, status=503, then=Reply(json={"items": [1, 2, 3]}))
    wf_ok = branching(http_server.url_for("/items"))
    wf_flaky = branching(http_server.url_for("/flaky"))
    wf_flaky.nodes[1].retry = {"max_attempts": 2, "initial_delay_s": 0.001, "jitter": False}
    a, b = await svc.run(wf_ok), await svc.run(wf_flaky)
    result = diff_executions(History(svc.store, svc.workflow_of), a.execution_id, b.execution_id, (wf_ok, wf_flaky))
    assert result["first_divergence"]["reason"] == "status"
    assert (result["nodes"]["get"]["left"]["attempts"], result["nodes"]["get"]["right"]["attempts"]) == (1, 2)


from tests.engine.store.fixtures import db_fixture, svc_fixture  # noqa: E402,F401
