"""Checkpoints: the record is rebuilt exactly from the rows; per-node writes stay O(1)."""

from __future__ import annotations

import asyncio
import zlib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine import events as ev
from engine import fileformat
from engine.model import Workflow
from engine.runtime.status import status_object
from engine.service import ExecutionService
from engine.store import schema as t
from engine.store.codec import COMPRESS_OVER
from engine.store.sql import RawTransaction
from tests.engine.runtime.helpers import chain, workflow
from tests.engine.store.fixtures import Db
from tests.engine.store.workflows import mixed, waits
from tests.servers import Reply


def error_route() -> Workflow:
    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "bad", "type": "set", "config": {"values": {"x": "{{ input.missing.deeper }}"}}, "on_error": "route"},
            {"id": "handled", "type": "set", "config": {"values": {"msg": "{{ input.message }}"}}},
            {"id": "cont", "type": "set", "config": {"values": {"y": "{{ 1 / 0 }}"}}, "on_error": "continue"},
        ],
        [("start", "out", "bad"), ("bad", "error", "handled"), ("handled", "out", "cont")],
    )


def disabled() -> Workflow:
    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "off", "type": "set", "config": {"values": {"x": 1}}, "disabled": True},
            {"id": "on", "type": "set", "config": {"values": {"x": 2}, "keep_input": True}},
        ],
        [("start", "out", "off"), ("off", "out", "on")],
    )


async def run_and_compare(svc: ExecutionService, wf: Workflow, **kw: Any) -> Any:
    live = await svc.run(wf, **kw)
    back = svc.record(live.execution_id)
    assert back.to_json() == live.to_json()
    expected = status_object(live)
    got = svc.status(live.execution_id)
    assert got.pop("in_flight") is None
    assert got == expected
    return live


@pytest.mark.parametrize("make", [lambda: chain(30), mixed, error_route, disabled], ids=["chain", "mixed", "error_route", "disabled"])
async def test_record_is_rebuilt_exactly_and_status_matches(svc: ExecutionService, make: Any) -> None:
    live = await run_and_compare(svc, make())
    assert live.status == "completed"


async def test_retries_are_stored_one_row_per_attempt(svc: ExecutionService, http_server: Any) -> None:
    http_server.fail_first("/flaky", 2, status=503, then=Reply(json={"ok": True}))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "config": {"url": http_server.url_for("/flaky")},
             "retry": {"max_attempts": 3, "initial_delay_s": 0.01, "jitter": False}},
        ],
        [("start", "out", "get")],
    )
    live = await run_and_compare(svc, wf)
    assert [a["status"] for a in live.main.attempts["get"]] == ["failed", "failed", "succeeded"]
    with svc.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.node_runs.c.attempt, t.node_runs.c.status, t.node_runs.c.output_seq)
            .where(t.node_runs.c.execution_id == live.execution_id, t.node_runs.c.node_id == "get")
            .order_by(t.node_runs.c.seq)
        ).all()
    assert [(r.attempt, r.status) for r in rows] == [(1, "failed"), (2, "failed"), (3, "succeeded")]
    assert rows[0].output_seq is None and rows[2].output_seq is not None


async def test_sub_workflow_threads_are_stored(svc: ExecutionService, tmp_path: Path) -> None:
    child = workflow(
        [{"id": "cstart", "type": "manual_trigger"}, {"id": "double", "type": "set", "config": {"values": {"v": "{{ input.v * 2 }}"}}}],
        [("cstart", "out", "double")],
    )
    child.id = "child-wf"
    fileformat.save(child, tmp_path / "child.pe.json")
    parent = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "call", "type": "sub_workflow", "config": {"file": "child.pe.json", "inputs": {"v": 21}}},
            {"id": "after", "type": "set", "config": {"values": {"got": "{{ input.v }}"}}},
        ],
        [("start", "out", "call"), ("call", "out", "after")],
    )
    live = await run_and_compare(svc, parent, workflow_file=str(tmp_path / "parent.pe.json"))
    assert live.main.outputs["after"] == {"got": 42}
    assert len(live.threads) == 2
    threads = svc.status(live.execution_id)["threads"]
    assert [th["thread_id"] for th in threads] == list(live.threads)
    assert threads[1]["progress"]["completed"] == 2
    # the child version was saved: a call by workflow id finds it
    assert svc.store.latest_workflow("child-wf") == child


class Commits:
    """Checkpoint commits made from now on (the checkpointer commits on raw DBAPI connections)."""

    def __init__(self) -> None:
        self.start = RawTransaction.committed

    @property
    def n(self) -> int:
        return RawTransaction.committed - self.start


async def test_pure_nodes_are_group_committed(svc: ExecutionService) -> None:
    commits = Commits()
    rec = await svc.run(chain(400))
    assert rec.status == "completed"
    # one commit per node would be 401; the group commit makes it a handful
    assert 2 <= commits.n < 80, commits.n
    with svc.store.engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).where(t.node_runs.c.execution_id == rec.execution_id)).scalar()
    assert n == 401


async def test_nodes_that_are_not_pure_are_committed_one_by_one(svc: ExecutionService) -> None:
    commits = Commits()
    rec = await svc.run(waits(30))
    assert rec.status == "completed"
    assert commits.n >= 30


async def test_per_node_writes_do_not_grow_with_the_run(svc: ExecutionService) -> None:
    """Each commit writes the node's rows and a small state row, never all outputs again."""
    big = "x" * 5000
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "manual_trigger"}]
    conns = []
    prev = "start"
    for i in range(1, 121):
        nodes.append({"id": f"w{i}", "type": "wait", "config": {"seconds": 0}} if i % 2 else
                     {"id": f"w{i}", "type": "set", "config": {"values": {"blob": big, "i": i}}})
        conns.append((prev, "out", f"w{i}"))
        prev = f"w{i}"
    wf = workflow(nodes, conns)
    sizes: list[int] = []
    engine = svc.store.engine

    def probe(e: ev.NodeFinished, rec: Any) -> None:
        if e.node_id in ("w21", "w119"):
            with engine.connect() as conn:
                sizes.append(
                    conn.execute(
                        sa.select(sa.func.max(sa.func.length(t.execution_state.c.data))).where(t.execution_state.c.execution_id == rec.execution_id)
                    ).scalar()
                )

    hooks = ev.LifecycleHooks()
    hooks.on(ev.NodeFinished, probe)
    rec = await svc.run(wf, hooks=hooks)
    assert rec.status == "completed"
    early, late = sizes
    # the biggest state row holds one frame's value (~5 KB), early and late alike
    assert early < 3 * len(big) and late < 3 * len(big), sizes
    with engine.connect() as conn:
        outs = conn.execute(sa.select(sa.func.count()).where(t.outputs.c.execution_id == rec.execution_id)).scalar()
        journal = conn.execute(sa.select(sa.func.count()).where(t.execution_state.c.execution_id == rec.execution_id)).scalar()
    assert outs == 121  # one output row per node
    assert journal == 1  # compacted when the run ended


async def test_large_outputs_are_compressed_out_of_row(svc: ExecutionService) -> None:
    blob = "abc" * (COMPRESS_OVER // 2)
    wf = workflow(
        [{"id": "start", "type": "manual_trigger"}, {"id": "big", "type": "set", "config": {"values": {"blob": blob}}}],
        [("start", "out", "big")],
    )
    live = await run_and_compare(svc, wf)
    with svc.store.engine.connect() as conn:
        row = conn.execute(
            sa.select(t.outputs).where(t.outputs.c.execution_id == live.execution_id, t.outputs.c.node_id == "big")
        ).one()
    assert row.encoding == "zjson" and row.size > COMPRESS_OVER
    assert len(row.data) < row.size // 10
    assert blob in zlib.decompress(row.data).decode()


async def test_side_effect_node_is_durable_before_it_runs(db: Db, http_server: Any) -> None:
    http_server.route("/slow", Reply(hang=True))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "before", "type": "set", "config": {"values": {"ready": True}}},
            {"id": "post", "type": "http_request", "config": {"method": "POST", "url": http_server.url_for("/slow"), "json": {"a": 1}}, "retry": "none"},
        ],
        [("start", "out", "before"), ("before", "out", "post")],
    )
    svc, reader = db.service(), db.service()
    try:
        handle = await svc.start(wf)
        await asyncio.to_thread(http_server.wait_for_requests, 1, 5.0, "/slow")
        st = reader.status(handle.execution_id)
        assert st["status"] == "running"
        assert st["in_flight"] == {"node_id": "post", "side_effects": True, "thread_id": "main"}
        # the pure node before it was flushed with the marker, before the request went out
        assert reader.record(handle.execution_id).main.outputs["before"] == {"ready": True}
        svc.cancel(handle.execution_id)
        rec = await asyncio.wait_for(handle.task, 5)
        assert rec.status == "cancelled"
        assert reader.status(handle.execution_id)["in_flight"] is None
    finally:
        svc.close()
        reader.close()


async def test_pause_during_back_off_keeps_the_attempt_count_across_the_store(db: Db, http_server: Any) -> None:
    http_server.fail_first("/flaky", 1, status=503, then=Reply(json={"ok": True}))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "config": {"url": http_server.url_for("/flaky")},
             "retry": {"max_attempts": 3, "initial_delay_s": 30, "jitter": False}},
        ],
        [("start", "out", "get")],
    )
    svc = db.service()
    try:
        box: dict[str, Any] = {}
        hooks = ev.LifecycleHooks()
        hooks.on(ev.NodeRetrying, lambda e, r: box["h"].control.pause())
        box["h"] = handle = await svc.start(wf, hooks=hooks)
        paused = await asyncio.wait_for(handle.task, 5)
        assert paused.status == "paused"
        back = svc.record(handle.execution_id)
        assert back.to_json() == paused.to_json()
        assert back.main.stack[-1].node_id == "get" and back.main.stack[-1].attempt == 1
        done = await (await svc.resume(handle.execution_id)).task
        assert done.status == "completed"
        assert [(a["attempt"], a["status"]) for a in svc.record(handle.execution_id).main.attempts["get"]] == [(1, "failed"), (2, "succeeded")]
    finally:
        svc.close()


def _loop_with_a_slow_body(items: int) -> Workflow:
    """Every body step ends with a `wait` (not pure): one journal row per item."""
    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "each", "type": "loop", "config": {"items": "{{ " + str(list(range(items))) + " }}", "max_iterations": items}},
            {"id": "sq", "type": "set", "config": {"values": {"sq": "{{ loop.item * loop.item }}"}}},
            {"id": "w", "type": "wait", "config": {"seconds": 0}},
        ],
        [("start", "out", "each"), ("each", "loop", "sq"), ("sq", "out", "w"), ("w", "out", "each")],
        variables={"pad": "x" * 2000},  # variables are journaled once, not in every row
    )


async def test_a_loop_journals_each_result_once_and_rebuilds_them_all(svc: ExecutionService) -> None:
    """Journal rows carry a loop's results from where the previous row left off, and its
    items and the variables once (a K-item loop used to write O(K²) bytes); a record
    rebuilt from those rows has every result and the variables."""
    engine = svc.store.engine
    sizes: dict[int, int] = {}
    rebuilt_ok: list[bool] = []

    def probe(e: ev.NodeFinished, rec: Any) -> None:
        if e.node_id != "w":
            return
        done = len(rec.main.loops["each"].results) if "each" in rec.main.loops else 0
        if done in (20, 200):
            with engine.connect() as conn:
                js = t.execution_state
                sizes[done] = conn.execute(  # the newest journal row
                    sa.select(sa.func.length(js.c.data)).where(js.c.execution_id == rec.execution_id).order_by(js.c.seq.desc()).limit(1)
                ).scalar()
        if done % 37 == 0:  # the committed journal, read back, has every result so far
            stored = svc.store.load_record(rec.execution_id)[0]
            got = stored.main.loops["each"].results
            rebuilt_ok.append(got == rec.main.loops["each"].results[: len(got)] and len(got) >= done - 1)
            rebuilt_ok.append(stored.main.variables == {"pad": "x" * 2000})

    hooks = ev.LifecycleHooks()
    hooks.on(ev.NodeFinished, probe)
    rec = await svc.run(_loop_with_a_slow_body(240), hooks=hooks)
    assert rec.status == "completed"
    assert rec.main.outputs["each"] == [{"sq": i * i} for i in range(240)]
    assert sizes[200] < sizes[20] + 200, sizes  # neither 180 more results nor the items in every row
    assert sizes[200] < 700, sizes  # the 240 items (~1 KB) are not in it
    assert rebuilt_ok and all(rebuilt_ok)
    assert svc.store.load_record(rec.execution_id)[0].main.variables == {"pad": "x" * 2000}


def _fan_out_of_waits(width: int) -> Workflow:
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "manual_trigger"}, {"id": "m", "type": "merge", "config": {}}]
    conns: list[tuple[str, str, str]] = []
    for i in range(width):
        nodes.append({"id": f"w{i}", "type": "wait", "config": {"seconds": 0}})  # not pure: a commit each
        conns += [("start", "out", f"w{i}"), (f"w{i}", "out", "m")]
    return workflow(nodes, conns)


async def test_a_fan_out_journals_only_the_top_of_its_stack_and_rebuilds_all_of_it(svc: ExecutionService) -> None:
    """A journal row holds the frames above the part of the stack the row before it already
    holds, and the merge's arrivals since that row (a W-wide fan-out wrote its whole
    remaining stack and every arrival so far at every commit: O(W²) bytes); a record
    rebuilt from the rows has the whole stack and waiting map."""
    engine = svc.store.engine
    sizes: dict[int, int] = {}
    rebuilt_ok: list[bool] = []
    finished = {"n": 0}

    def probe(e: ev.NodeFinished, rec: Any) -> None:
        if not e.node_id.startswith("w"):
            return
        finished["n"] += 1
        n = finished["n"]
        if n in (10, 250):
            with engine.connect() as conn:
                js = t.execution_state
                sizes[n] = conn.execute(  # the newest journal row
                    sa.select(sa.func.length(js.c.data)).where(js.c.execution_id == rec.execution_id).order_by(js.c.seq.desc()).limit(1)
                ).scalar()
        if n % 41 == 0:  # the committed journal, read back, has the stack as it was at that commit
            stored = svc.store.load_record(rec.execution_id)[0]
            got = [f.to_json() for f in stored.main.stack]
            now = [f.to_json() for f in rec.main.stack]
            rebuilt_ok.append(len(got) >= len(now) and got[: len(now)] == now[: len(now)] and len(got) - len(now) <= 2)
            stored_waiting, waiting = stored.main.waiting.get("m", {}), rec.main.waiting.get("m", {})
            rebuilt_ok.append(
                all(waiting[i] == v for i, v in stored_waiting.items()) and len(waiting) - 2 <= len(stored_waiting) <= len(waiting)
            )

    hooks = ev.LifecycleHooks()
    hooks.on(ev.NodeFinished, probe)
    rec = await svc.run(_fan_out_of_waits(300), hooks=hooks)
    assert rec.status == "completed", rec.error
    assert len(rec.main.outputs["m"]) == 300
    assert sizes[10] < 1500 and sizes[250] < 1500, sizes  # not ~290 frames (tens of KB)
    assert rebuilt_ok and all(rebuilt_ok), rebuilt_ok


def test_the_common_prefix_of_two_stacks_is_found_whatever_changed() -> None:
    """The journal reuses the bottom of the stack the previous row holds; the shared part is
    found by identity wherever the two stacks differ (top, middle or bottom)."""
    import random

    from engine.store.checkpoint import _common_prefix

    def plain(a: list[Any], b: list[Any]) -> int:
        n = 0
        for x, y in zip(a, b, strict=False):
            if x is not y:
                break
            n += 1
        return n

    frames = [object() for _ in range(12)]
    rnd = random.Random(7)
    for _ in range(5000):
        a = [rnd.choice(frames) for _ in range(rnd.randint(0, 9))]
        b = a[: rnd.randint(0, len(a))] + [rnd.choice(frames) for _ in range(rnd.randint(0, 4))]
        if b and rnd.random() < 0.3:
            b[rnd.randrange(len(b))] = rnd.choice(frames)  # a frame replaced below the top
        assert _common_prefix(a, b) == plain(a, b), (a, b)


async def test_the_compacted_row_holds_every_status_and_edge_count(svc: ExecutionService, monkeypatch: pytest.MonkeyPatch) -> None:
    """The final row is written piece by piece (edge counts a chunk at a time); a record
    rebuilt from it is the record that ran, whatever the chunk size."""
    from engine.store import checkpoint

    monkeypatch.setattr(checkpoint, "PAIRS_CHUNK", 3)
    live = await run_and_compare(svc, chain(10))
    assert len(live.main.edge_counts) == 10 and live.main.node_status["s10"] == "succeeded"


def test_a_thread_tracked_again_starts_with_nothing_marked_changed() -> None:
    """The change-tracking maps stay on the record after a run (no copy of 100,000-entry
    maps at its end); a checkpointer that takes the record up again writes only what
    changes from then on, as with fresh maps."""
    from engine.runtime.record import ThreadRecord
    from engine.store.tracked import StatusDict, TrackedDict, clear_changes, progress_counts, track

    th = ThreadRecord(thread_id="main", workflow_id="w", node_status={"a": "succeeded"}, edge_counts={0: 1})
    track(th)
    th.edge_counts[1] = 1
    th.node_status["b"] = "failed"
    clear_changes(th)  # the run ended
    th.edge_counts[2] = 1  # changed while no checkpointer was writing
    tracked = th.edge_counts
    track(th)
    assert th.edge_counts is tracked and isinstance(th.node_status, StatusDict) and isinstance(th.edge_counts, TrackedDict)
    assert th.edge_counts.take() == {} and th.node_status.take() == {}  # type: ignore[attr-defined]
    assert progress_counts(th) == {"completed": 1, "failed": 1, "skipped": 0}
    th.node_status["c"] = "skipped"
    assert list(th.node_status.take()) == ["c"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("size", [0, 1, 3, 4, 7, 9])
def test_a_map_encoded_a_chunk_at_a_time_is_its_json(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    from engine.store import checkpoint, codec

    monkeypatch.setattr(checkpoint, "PAIRS_CHUNK", 3)
    values = {f"n{i}": ["succeeded", None, 'é "q" \\', i][i % 4] for i in range(size)}
    assert checkpoint._map_json(values) == codec.dumps(values)
