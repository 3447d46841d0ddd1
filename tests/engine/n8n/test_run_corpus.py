"""Community workflows from the corpus, imported unchanged, run end to end offline: their
Code nodes run in the code node, their outside URLs are pointed at the local test HTTP
server through a variable (the test rewrites the host part of each URL to
`{{ vars.base_url }}`), and their outputs are checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.graph import ensure_valid
from engine.n8n import import_file
from engine.runtime.runner import run_workflow
from tests.servers import Reply

CORPUS = Path(__file__).parent / "corpus"


def by_name(wf: Any, rec: Any) -> dict[str, Any]:
    return {n.name: rec.main.outputs[n.id] for n in wf.nodes if n.id in rec.main.outputs}


def point_at_variable(wf: Any, host: str) -> None:
    """Every HTTP request to `host` goes to `{{ vars.base_url }}` instead."""
    for n in wf.nodes:
        if n.type == "http_request":
            n.config["url"] = n.config["url"].replace(host, "{{ vars.base_url }}")


async def test_a_self_testing_harness_passes_its_own_checks() -> None:
    wf, summary = import_file(CORPUS / "enescingoz__Synthetic Candidate Intake Reliability Harness.json")
    assert [n.type for n in wf.nodes] == ["manual_trigger", "code", "code"] and not summary.unsupported
    ensure_valid(wf)
    rec = await run_workflow(wf)
    assert rec.status == "completed", rec.error
    report = by_name(wf, rec)["Normalize and assert contracts"]
    assert report["passed"] == 6 and report["failed"] == 0 and len(report["results"]) == 6


async def test_content_generator_against_a_local_model_server(http_server: Any) -> None:
    first = {"twitter": "t #x", "linkedin": "l", "reddit_title": "rt", "reddit_body": "rb", "instagram_caption": "i"}
    reviewed = {**first, "twitter": "t2 #x"}
    http_server.route("/api/generate",
                      Reply(text=json.dumps({"response": "Here: " + json.dumps(first)})),
                      Reply(text=json.dumps({"response": json.dumps(reviewed) + " done"})))  # fmt: skip
    wf, _ = import_file(CORPUS / "enescingoz__AI Social Media Content Generator with Ollama.json")
    point_at_variable(wf, "http://localhost:11434")
    ensure_valid(wf)
    rec = await run_workflow(wf, variables={"base_url": http_server.url})
    assert rec.status == "completed", rec.error
    out = by_name(wf, rec)["Final Content Output"]
    assert out["twitter"] == "t2 #x" and out["reviewed"] is True and out["topic"] == "Benefits of self-hosting AI models"
    sent = http_server.requests[0].json()  # n8n's default method (GET) with the JSON body, as the original
    assert http_server.requests[0].method == "GET" and sent["model"] == "llama3:8b" and "Benefits of self-hosting AI models" in sent["prompt"] and sent["stream"] is False


async def test_transport_intake_normalises_and_responds() -> None:
    wf, _ = import_file(CORPUS / "enescingoz__Transport_Request_Intake_Lite.json")
    assert sum(n.type == "code" for n in wf.nodes) == 3  # Set nodes whose JavaScript has no counterpart
    ensure_valid(wf)
    trigger = next(n for n in wf.nodes if n.type == "webhook_trigger")
    payload = {"pickup_postcode": " 1011AB ", "delivery_postcode": "", "pickup_date": "2026-12-24", "weight_kg": "12,5"}
    rec = await run_workflow(wf, payload, trigger=trigger.id)
    assert rec.status == "completed", rec.error
    got = by_name(wf, rec)
    assert got["Normalize Fields"] == {"pickup_postcode": "1011AB", "delivery_postcode": "", "pickup_date": "2026-12-24", "weight_kg": 12.5}
    assert rec.response["body"]["missing_fields"] == ["delivery_postcode"]


async def test_bounded_polling_loop_with_a_merge_inside_runs_to_the_result(http_server: Any) -> None:
    """The corpus' Seedance workflow: submit, then wait -> poll + carry state -> merge -> code ->
    if completed / failed / timed out -> back to the wait; its base URL is a Set field, pointed
    at the local server through a variable, and its poll interval shortened."""
    http_server.route("/v1/video/generations", Reply(json={"task_id": "t7", "data": {}}), method="POST")
    http_server.route("/v1/video/generations/t7",
                      Reply(json={"status": "processing", "object": "video", "data": {"status": "processing"}}),
                      Reply(json={"status": "processing", "object": "video", "data": {"status": "processing"}}),
                      Reply(json={"status": "completed", "object": "video", "metadata": {"url": "http://cdn/t7.mp4"},
                                  "data": {"status": "completed"}}))  # fmt: skip
    wf, summary = import_file(CORPUS / "enescingoz__Generate Seedance videos with Vancine API and bounded polling.json")
    assert not summary.unsupported and not summary.untranslated
    fields = next(n for n in wf.nodes if n.name == "setFields")
    fields.config["values"].update({"base_url": "{{ vars.base_url }}", "intervalSeconds": 0.01})
    ensure_valid(wf)
    rec = await run_workflow(wf, variables={"base_url": http_server.url})
    assert rec.status == "completed", rec.error
    got = by_name(wf, rec)
    assert got["outputResult"] == {"result_url": "http://cdn/t7.mp4"}
    assert got["mergeState"]["poll_index"] == 3 and got["mergeState"]["task_id"] == "t7"
    assert http_server.calls("/v1/video/generations/t7") == 3
    assert http_server.requests[0].json() == {"model": "Doubao-Seedance-1.5-pro", "prompt": "A timelapse of a flower blooming at sunrise", "size": "1280x720"}


async def test_bounded_polling_loop_stops_with_the_workflows_own_error(http_server: Any) -> None:
    http_server.route("/v1/video/generations", Reply(json={"id": "t8", "data": {}}), method="POST")
    http_server.route("/v1/video/generations/t8", Reply(json={"status": "failed", "object": "video",
                                                              "data": {"status": "failed", "fail_reason": "nsfw"}}))  # fmt: skip
    wf, _ = import_file(CORPUS / "enescingoz__Generate Seedance videos with Vancine API and bounded polling.json")
    fields = next(n for n in wf.nodes if n.name == "setFields")
    fields.config["values"].update({"base_url": "{{ vars.base_url }}", "intervalSeconds": 0.01})
    rec = await run_workflow(wf, variables={"base_url": http_server.url})
    fail = next(n for n in wf.nodes if n.name == "failNode")
    assert rec.status == "failed" and rec.error["node_id"] == fail.id
    assert "Seedance task t8 failed: nsfw" in rec.error["message"]
