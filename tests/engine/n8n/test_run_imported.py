"""Imported n8n workflows run end to end, offline, against the local test HTTP server
(the n8n files read their base URL from `$vars.base_url`, given with the run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.graph import ensure_valid, validate
from engine.n8n import import_file
from engine.runtime.runner import run_workflow
from tests.servers import Reply

HERE = Path(__file__).parent / "workflows"


def by_name(wf: Any, rec: Any) -> dict[str, Any]:
    outputs = rec.main.outputs
    return {n.name: outputs[n.id] for n in wf.nodes if n.id in outputs}


async def test_fetch_and_branch_takes_the_true_branch(http_server: Any) -> None:
    http_server.route("/orders/7", Reply(json={"items": [1, 2, 3]}))
    wf, summary = import_file(HERE / "fetch_and_branch.json")
    assert not summary.unsupported and not summary.untranslated
    assert wf.variables == {"base_url": ""}  # declared for the user to fill in
    ensure_valid(wf)
    rec = await run_workflow(wf, variables={"base_url": http_server.url})
    assert rec.status == "completed", rec.error
    got = by_name(wf, rec)
    assert got["Big order"] == {"size": "big", "count": 3, "who": "ADA"}
    assert "Small order" not in got
    assert http_server.requests[-1].header("x-customer") == "Ada"


async def test_fetch_and_branch_takes_the_false_branch(http_server: Any) -> None:
    http_server.route("/orders/7", Reply(json={"items": []}))
    wf, _ = import_file(HERE / "fetch_and_branch.json")
    rec = await run_workflow(wf, variables={"base_url": http_server.url})
    got = by_name(wf, rec)
    assert got["Small order"] == {"size": "small"} and "Big order" not in got


async def test_polling_loop_runs_until_the_job_is_done(http_server: Any) -> None:
    http_server.route("/jobs", Reply(json={"job_id": "j42"}))
    http_server.route("/jobs/j42", Reply(json={"state": "queued"}), Reply(json={"state": "running"}),
                      Reply(json={"state": "done", "result_url": "http://files/r.pdf"}))  # fmt: skip
    wf, _ = import_file(HERE / "poll_until_done.json")
    problems = validate(wf)
    # the cycle goes through an if: allowed; the draft node nobody reaches is only a warning
    assert [(p.severity, wf.node(p.node_id).name) for p in problems] == [("warning", "Draft (not connected)")]
    rec = await run_workflow(wf, variables={"base_url": http_server.url})
    assert rec.status == "completed", rec.error
    assert http_server.calls("/jobs/j42") == 3
    assert by_name(wf, rec)["Result"] == {"url": "http://files/r.pdf", "job": "j42"}
    assert http_server.requests[0].json()["name"] == "report"
    wait = next(n for n in wf.nodes if n.name == "Wait a moment")
    assert len(rec.main.attempts[wait.id]) == 3
    draft = next(n for n in wf.nodes if n.name == "Draft (not connected)")
    assert rec.main.node_status[draft.id] == "skipped"


async def test_a_loop_that_never_ends_fails_at_max_node_visits(http_server: Any) -> None:
    http_server.route("/jobs", Reply(json={"job_id": "j1"}))
    http_server.route("/jobs/j1", Reply(json={"state": "queued"}))
    wf, _ = import_file(HERE / "poll_until_done.json")
    wf.max_node_visits = 4
    rec = await run_workflow(wf, variables={"base_url": http_server.url})
    assert rec.status == "failed"
    wait = next(n for n in wf.nodes if n.name == "Wait a moment")
    assert rec.error["node_id"] == wait.id and "'Wait a moment'" in rec.error["message"] and "4" in rec.error["message"]
    assert http_server.calls("/jobs/j1") == 4


async def test_switch_routes_a_webhook_payload_and_responds(http_server: Any) -> None:
    http_server.route("/bugs", Reply(json={"id": 101}))
    http_server.route("/pages", Reply(json={"id": 202}))
    wf, summary = import_file(HERE / "route_ticket.json")
    assert not summary.untranslated
    ensure_valid(wf)
    trigger = next(n for n in wf.nodes if n.type == "webhook_trigger")
    for payload, path, ticket in (({"kind": "BUG", "title": "crash", "priority": 1}, "/bugs", 101),
                                  ({"kind": "question", "title": "down", "priority": 5}, "/pages", 202)):  # fmt: skip
        http_server.reset()
        http_server.route(path, Reply(json={"id": ticket}))
        rec = await run_workflow(wf, {"headers": {}, "query": {}, "body": payload}, variables={"base_url": http_server.url}, trigger=trigger.id)
        assert rec.status == "completed", rec.error
        assert rec.response["status"] == 201 and rec.response["body"] == {"ok": True, "ticket": ticket}
        sent = http_server.requests[0].json()
        assert sent == ({"title": "crash", "tags": ["from-webhook"]} if path == "/bugs" else {"text": "Urgent: down"})
    rec = await run_workflow(wf, {"headers": {}, "query": {}, "body": {"kind": "x", "title": "t", "priority": 0}},
                             variables={"base_url": http_server.url}, trigger=trigger.id)  # fmt: skip
    assert rec.response["status"] == 204


async def test_split_in_batches_runs_the_request_once_per_item(http_server: Any) -> None:
    for i in (1, 2, 3):
        http_server.route(f"/orders/{i}", Reply(json={"id": i, "total": i * 10}))
    wf, summary = import_file(HERE / "fetch_each.json")
    loop = next(n for n in wf.nodes if n.name == "Each order")
    assert loop.type == "loop" and not summary.untranslated
    ensure_valid(wf)
    # the trigger's payload stands for n8n's items: three orders
    items = [{"id": i, "customer": f"c{i}"} for i in (1, 2, 3)]
    rec = await run_workflow(wf, items, variables={"base_url": http_server.url})
    assert rec.status == "completed", rec.error
    assert [r.path for r in http_server.requests] == ["/orders/1", "/orders/2", "/orders/3"]
    assert [r.query.get("who") for r in http_server.requests] == ["c1", "c2", "c3"]
    assert [o["body"]["total"] for o in rec.main.outputs[loop.id]] == [10, 20, 30]
    assert by_name(wf, rec)["All fetched"] == {"note": "done"}

