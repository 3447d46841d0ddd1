"""The rows a run leaves in the store, compared with the rows the hook-driven checkpointer
wrote before the node path became one explicit call (`record_rows.json`, written by that
code at commit 03a374a with `PROCESSENGINE_WRITE_RECORD_ROWS=1`).

One varied workflow covers every way a node ends: a loop, an `if` that leaves a branch
skipped, a merge that fires with what arrived, an error routed and one passed through, a
disabled node, an HTTP node that fails twice and then succeeds, a pinned HTTP node, a
sub-workflow, and a breakpoint that pauses the run (compared at the pause and after the
resume). Times, ids, ports and tracebacks differ from run to run and are left out; seq
numbers depend on how many journal rows a run's timing made, so rows are compared in seq
order and an attempt's output is named by its place among the output rows.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from engine.model import Workflow
from engine.service import ExecutionService
from engine.store import codec
from engine.store import schema as t
from tests.engine.runtime.helpers import save_doubling_child, workflow
from tests.engine.store.fixtures import Db
from tests.engine.store.workflows import http_out
from tests.servers import Reply

GOLDEN = Path(__file__).with_name("record_rows.json")
TIMES = {"started_at", "stopped_at", "duration_ms", "heartbeat_at", "paused_ms", "created_at", "traceback"}


def varied(folder: Path, url: str) -> Workflow:
    save_doubling_child(folder)
    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "a", "type": "set", "config": {"values": {"n": 3}}},
            {"id": "each", "type": "loop", "config": {"items": "{{ [1, 2, 3] }}"}},
            {"id": "body", "type": "set", "config": {"values": {"sq": "{{ loop.item * loop.item }}"}}},
            {"id": "chk", "type": "if", "config": {"condition": "{{ len(input) > 5 }}"}},
            {"id": "yes", "type": "set", "config": {"values": {"big": True}}},
            {"id": "no", "type": "set", "config": {"values": {"big": False}}},
            {"id": "bad", "type": "set", "config": {"values": {"x": "{{ input.missing.deeper }}"}}, "on_error": "route"},
            {"id": "handled", "type": "set", "config": {"values": {"msg": "{{ input.message }}"}}},
            {"id": "cont", "type": "set", "config": {"values": {"y": "{{ 1 / 0 }}"}}, "on_error": "continue"},
            {"id": "off", "type": "set", "config": {"values": {"x": 1}}, "disabled": True},
            {"id": "flaky", "type": "http_request", "config": {"url": url + "/flaky"},
             "retry": {"max_attempts": 3, "initial_delay_s": 0.01, "jitter": False}},
            {"id": "pinned", "type": "http_request", "config": {"url": url + "/pinned"}, "pin": {"status": 200, "body": {"p": 1}}},
            {"id": "call", "type": "sub_workflow", "config": {"file": "child.pe.json", "inputs": {"n": 21}}},
            {"id": "w", "type": "wait", "config": {"seconds": 0}},
            {"id": "m", "type": "merge", "config": {}},
            {"id": "end", "type": "set", "config": {"values": {"all": "{{ input }}"}}},
        ],
        [
            ("start", "out", "a"),
            ("a", "out", "each"),
            ("each", "loop", "body"),
            ("body", "out", "each"),
            ("each", "done", "chk"),
            ("chk", "true", "yes"),
            ("chk", "false", "no"),
            ("no", "out", "bad"),
            ("bad", "error", "handled"),
            ("handled", "out", "cont"),
            ("cont", "out", "off"),
            ("off", "out", "flaky"),
            ("flaky", "out", "pinned"),
            ("pinned", "out", "call"),
            ("call", "out", "w"),
            ("yes", "out", "m"),
            ("w", "out", "m"),
            ("a", "out", "m"),
            ("m", "out", "end"),
        ],
    )


def _plain(value: Any, url: str) -> Any:
    """A stored value with what changes from run to run left out."""
    if isinstance(value, dict):
        return {k: _plain(v, url) for k, v in http_out(value).items() if k not in TIMES}
    if isinstance(value, list):
        return [_plain(v, url) for v in value]
    if isinstance(value, str):
        return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", value.replace(url, "<url>"))
    return value


def _json(text: Any, url: str) -> Any:
    return None if text is None else _plain(codec.loads(text), url)


def rows(svc: ExecutionService, execution_id: str, url: str) -> dict[str, Any]:
    """Every row the run has in the store, as plain data."""
    with svc.store.engine.connect() as conn:
        runs = conn.execute(sa.select(t.node_runs).where(t.node_runs.c.execution_id == execution_id).order_by(t.node_runs.c.seq)).all()
        outs = conn.execute(sa.select(t.outputs).where(t.outputs.c.execution_id == execution_id).order_by(t.outputs.c.seq)).all()
        state = conn.execute(sa.select(t.execution_state).where(t.execution_state.c.execution_id == execution_id).order_by(t.execution_state.c.seq)).all()
        threads = conn.execute(sa.select(t.thread_executions).where(t.thread_executions.c.execution_id == execution_id).order_by(t.thread_executions.c.ordinal)).all()
        ex = conn.execute(sa.select(t.executions).where(t.executions.c.id == execution_id)).one()
    place = {o.seq: i for i, o in enumerate(outs)}
    return {
        "node_runs": [
            [r.thread_id, r.node_id, r.attempt, r.status, _json(r.error, url), place.get(r.output_seq)] for r in runs
        ],
        "outputs": [
            [o.thread_id, o.node_id, o.encoding, _plain(codec.decode_value(o.encoding, o.data), url)]
            + ([] if o.node_id in ("flaky", "pinned") else [bytes(o.data).decode("utf-8"), o.size])
            for o in outs
        ],
        "state": [[s.full, _json(s.data, url)] for s in state],
        "threads": [
            [th.thread_id, th.ordinal, th.parent_thread_id, th.parent_node_id, th.status, th.total, th.completed, th.failed, th.skipped, th.in_flight, _json(th.error, url)]
            for th in threads
        ],
        "execution": {
            k: _json(getattr(ex, k), url) if k in ("error", "response", "in_flight", "debug", "paused_at") else getattr(ex, k)
            for k in ("status", "total", "completed", "failed", "skipped", "error", "response", "in_flight", "debug", "paused_at", "control_request")
        },
    }


async def test_a_varied_run_writes_the_rows_it_always_wrote(db: Db, http_server: Any, tmp_path: Path) -> None:
    http_server.fail_first("/flaky", 2, status=503, then=Reply(json={"ok": True}))
    url = http_server.url
    wf = varied(tmp_path, url)
    svc = db.service(pins=True)
    try:
        handle = await svc.start(wf, workflow_file=str(tmp_path / "varied.pe.json"), breakpoints=["call"])
        paused = await handle.task
        assert paused.status == "paused"
        at_pause = rows(svc, paused.execution_id, url)
        done = await (await svc.resume(paused.execution_id)).task
        assert done.status == "completed", done.error
        got = {"paused": at_pause, "completed": rows(svc, done.execution_id, url)}
        assert svc.record(done.execution_id).to_json() == done.to_json()
    finally:
        svc.close()
    got = json.loads(json.dumps(got))  # tuples as lists, as in the file
    if os.environ.get("PROCESSENGINE_WRITE_RECORD_ROWS") and db.backend == "sqlite":
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    assert got == json.loads(GOLDEN.read_text())
