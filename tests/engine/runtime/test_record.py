"""The run record: `to_json`/`from_json` are exact inverses (it is the checkpoint), through
real JSON text, with every piece of resumable state filled in."""

from __future__ import annotations

import json

from engine.runtime.record import MAIN_THREAD, Frame, LoopState, RunRecord, ThreadRecord


def full_record() -> RunRecord:
    main = ThreadRecord(
        thread_id=MAIN_THREAD,
        workflow_id="wf",
        status="paused",
        total=7,
        stack=[Frame("a", {"x": 1}, "in", 0, "run", 2, {"deadline": 12.5}), Frame("loop", kind="loop_tick")],
        waiting={"m": {3: {"v": 1}, 5: None}},
        loops={"loop": LoopState([1, 2, 3], 1, [{"r": 1}])},
        loop_stack=["loop"],
        variables={"base": "http://127.0.0.1"},
        outputs={"start": {}, "a": [1, 2]},
        node_status={"start": "succeeded", "a": "running", "s": "skipped", "f": "failed"},
        attempts={"a": [{"attempt": 1, "status": "failed", "started_at": 1.0, "duration_ms": 2.0, "error": {"message": "x"}}]},
        edge_counts={0: 1, 4: 3},
        in_flight="a",
        last_output={"done": True},
        started_at=1.0,
    )
    child = ThreadRecord(thread_id="main/sub#1", workflow_id="child", parent_thread_id=MAIN_THREAD, parent_node_id="call")
    return RunRecord(
        execution_id="e1",
        workflow_id="wf",
        status="paused",
        trigger_node="start",
        trigger_payload={"p": 1},
        started_at=1.0,
        threads={MAIN_THREAD: main, child.thread_id: child},
        response={"status": 201, "body": "ok"},
        workflow_file="/tmp/x.pe.json",
    )


def test_json_round_trip_is_exact_through_text() -> None:
    rec = full_record()
    again = RunRecord.from_json(json.loads(json.dumps(rec.to_json())))
    assert again == rec
    assert list(again.threads) == [MAIN_THREAD, "main/sub#1"]  # thread order is kept
    assert again.main.waiting == {"m": {3: {"v": 1}, 5: None}}  # integer keys survive JSON
    assert again.main.edge_counts == {0: 1, 4: 3}
    assert again.main.stack[0].state == {"deadline": 12.5}


def test_a_frame_without_resume_state_stays_short() -> None:
    assert Frame("n", 1).to_json() == ["n", 1, "in", None, "run", 0]
    assert Frame.from_json(["n", 1, "in", None, "run", 0]) == Frame("n", 1)


def test_progress_counts_each_end_state_apart() -> None:
    th = full_record().main
    assert th.progress() == {"total": 7, "completed": 1, "failed": 1, "skipped": 1, "percent": 42.9}
    assert ThreadRecord("t", "w").progress()["total"] == 0


def test_only_paused_and_interrupted_runs_are_resumable() -> None:
    rec = full_record()
    assert rec.resumable
    for status, resumable in (("interrupted", True), ("running", False), ("completed", False), ("cancelled", False)):
        rec.status = status
        assert rec.resumable is resumable


def test_the_repr_of_a_big_record_is_a_short_summary() -> None:
    """asyncio.run reprs its finished main task (and with it the task's result) on its way
    out; a record's repr spelling out every output made that the run's peak memory."""
    from engine.runtime.record import RunRecord, ThreadRecord

    rec = RunRecord(execution_id="e1", workflow_id="w", status="completed")
    th = ThreadRecord(thread_id="main", workflow_id="w", status="completed")
    th.outputs = {f"n{i}": {"payload": "x" * 100} for i in range(5000)}
    th.attempts = {f"n{i}": [{"attempt": 1, "status": "succeeded"}] for i in range(5000)}
    rec.threads["main"] = th
    text = repr(rec)
    assert len(text) < 300
    assert "'e1'" in text and "'completed'" in text and "outputs=5000" in text


def test_iso_times_are_datetime_s_own_text_at_every_rounding_edge() -> None:
    """Report times are formatted once per second and the milliseconds appended; the text is
    exactly datetime's, including microseconds that round up into the next second."""
    import random
    from datetime import UTC, datetime

    from engine.runtime.record import iso

    rnd = random.Random(3)
    edges = (0.0, 0.0000004, 0.0000005, 0.0005, 0.0009995, 0.5, 0.9994999, 0.9999994, 0.9999995, 0.9999996)
    stamps = [rnd.uniform(-1e9, 4e9) for _ in range(20000)]
    stamps += [whole + edge for whole in (-2.0, -1.0, 0.0, 1.0, 1765000000.0) for edge in edges]
    stamps += [rnd.randint(0, 2**31) + rnd.choice(edges) for _ in range(20000)]
    stamps += [1765000000 + i / 1e6 for i in range(-2000, 2000)]
    for ts in stamps:
        assert iso(ts) == datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds"), ts
    assert iso(None) is None
