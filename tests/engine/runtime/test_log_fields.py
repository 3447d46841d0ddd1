"""The orchestrator's log records carry the execution and node ids as structured fields
(`record.execution_id`, `record.node_id`), so programs (the app's Log dock, JSON log
shippers) never parse them back out of the text; the text stays as people read it.
The failing node asks 127.0.0.1 port 9, where nothing listens."""

from __future__ import annotations

import asyncio
import logging

import pytest

from engine.fileformat import parse
from engine.runtime.runner import run_workflow

EID = "exec-fields"


def _workflow() -> object:
    return parse({
        "format": "processengine/1", "id": "wf-fields", "name": "fields", "variables": {},
        "nodes": [
            {"id": "start", "type": "manual_trigger", "name": "Start", "position": [0, 0], "config": {}},
            {"id": "js", "type": "code", "name": "Say", "position": [260, 0],
             "config": {"language": "javascript", "code": "console.log('trying'); return {};"}},
            {"id": "boom", "type": "http_request", "name": "Boom", "position": [520, 0],
             "config": {"method": "GET", "url": "http://127.0.0.1:9/nothing-listens", "timeout_s": 5},
             "retry": {"max_attempts": 2, "initial_delay_s": 0.01, "multiplier": 1.0, "max_delay_s": 0.01, "jitter": False}},
        ],
        "connections": [
            {"from": "start", "from_port": "out", "to": "js", "to_port": "in"},
            {"from": "js", "from_port": "out", "to": "boom", "to_port": "in"},
        ],
    })  # fmt: skip


def test_every_line_of_a_run_names_its_execution_and_node_in_fields(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="engine")
    record = asyncio.run(run_workflow(_workflow(), execution_id=EID))  # type: ignore[arg-type]
    assert record.status == "failed"
    lines = [r for r in caplog.records if r.name.startswith("engine.runtime")]
    assert lines and all(getattr(r, "execution_id", None) == EID for r in lines)
    by_text = {r.getMessage(): getattr(r, "node_id", None) for r in lines}
    assert by_text[f"execution={EID} node=boom started attempt 2"] == "boom"
    assert by_text[f"execution={EID} node=start started attempt 1"] == "start"
    retry = next(r for r in lines if r.levelno == logging.WARNING)
    assert (retry.node_id, retry.getMessage().startswith(f"execution={EID} node=boom attempt 1/2 failed")) == ("boom", True)
    console = [r for r in lines if r.getMessage().endswith("console.log: trying")]
    assert len(console) == 1 and {(r.node_id, r.source) for r in console} == {("js", "console")}  # type: ignore[attr-defined]
    failed = next(r for r in lines if r.getMessage().startswith(f"execution={EID} failed node=boom"))
    assert failed.node_id == "boom" and failed.levelno == logging.ERROR
    run_lines = [r for r in lines if r.getMessage() == f"execution={EID} started workflow=wf-fields"]
    assert len(run_lines) == 1 and getattr(run_lines[0], "node_id", None) is None
