"""History, workspaces, retention and housekeeping of the store (through ExecutionService)."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from engine.errors import StoreError
from engine.service import ExecutionNotFound, ExecutionService, InvalidExecutionState
from engine.store import schema as t
from tests.engine.runtime.helpers import chain, workflow
from tests.engine.store.fixtures import Db
from tests.engine.store.workflows import waits


def failing() -> Any:
    wf = workflow(
        [{"id": "start", "type": "manual_trigger"}, {"id": "boom", "type": "set", "config": {"values": {"x": "{{ 1 / 0 }}"}}}],
        [("start", "out", "boom")],
    )
    wf.id = "wf-failing"
    return wf


def age(svc: ExecutionService, execution_id: str, days: float) -> None:
    """Pretend a run stopped `days` ago."""
    e = t.executions
    past = time.time() - days * 86400
    with svc.store.engine.begin() as conn:
        conn.execute(e.update().where(e.c.id == execution_id).values(stopped_at=past, created_at=past))


async def test_a_run_in_one_workspace_is_invisible_and_untouchable_from_another(db: Db) -> None:
    a = db.service()
    b = db.service(workspace=db.workspace + "-other")
    try:
        rec = await a.run(chain(3))
        eid = rec.execution_id
        assert b.list_runs() == []
        for call in (b.status, b.record, b.workflow_of, b.pause, b.cancel, b.delete, lambda i: b.mark_failed(i, "x")):
            with pytest.raises(ExecutionNotFound):
                call(eid)
        with pytest.raises(KeyError):
            b.status(eid)
        with pytest.raises(ExecutionNotFound):
            await b.resume(eid)
        assert b.prune(older_than_days=0) == 0
        assert a.status(eid)["status"] == "completed"
        assert [s["execution_id"] for s in a.list_runs()] == [eid]
    finally:
        a.close()
        b.close()


async def test_list_is_newest_first_with_filters(svc: ExecutionService) -> None:
    first = await svc.run(chain(2))
    bad = await svc.run(failing())
    third = await svc.run(chain(2))
    ids = [s["execution_id"] for s in svc.list_runs()]
    assert ids == [third.execution_id, bad.execution_id, first.execution_id]
    assert [s["execution_id"] for s in svc.list_runs(status="failed")] == [bad.execution_id]
    assert svc.list_runs(status="failed")[0]["error"]["node_id"] == "boom"
    assert [s["execution_id"] for s in svc.list_runs(workflow_id="wf-failing")] == [bad.execution_id]
    assert len(svc.list_runs(limit=2)) == 2
    assert svc.list_runs(since=datetime.now(UTC) + timedelta(minutes=1)) == []
    assert len(svc.list_runs(since=datetime.now(UTC) - timedelta(minutes=1))) == 3
    assert svc.list_runs(status="running") == []


async def test_prune_and_retention(db: Db) -> None:
    svc = db.service()
    old_ok = (await svc.run(chain(2))).execution_id
    old_bad = (await svc.run(failing())).execution_id
    new_ok = (await svc.run(chain(2))).execution_id
    age(svc, old_ok, 10)
    age(svc, old_bad, 10)
    assert svc.prune(older_than_days=5, keep_failed=True) == 1
    with pytest.raises(ExecutionNotFound):
        svc.status(old_ok)
    assert svc.status(old_bad)["status"] == "failed"
    svc.close()
    # retention on open prunes what is older than the setting, failed runs included
    svc = db.service(retention_days=5)
    try:
        assert [s["execution_id"] for s in svc.list_runs()] == [new_ok]
        with svc.store.engine.connect() as conn:
            left = conn.execute(sa.select(sa.func.count()).where(t.node_runs.c.execution_id == old_bad)).scalar()
        assert left == 0
    finally:
        svc.close()


async def test_delete_mark_failed_and_workflow_versions(svc: ExecutionService) -> None:
    wf = chain(2)
    one = await svc.run(wf)
    two = await svc.run(wf)
    assert svc.workflow_of(one.execution_id) == wf
    with svc.store.engine.connect() as conn:
        versions = conn.execute(sa.select(sa.func.count()).select_from(t.workflows).where(t.workflows.c.workspace_id == svc.store.ws_id)).scalar()
    assert versions == 1  # same content, one saved version
    wf.nodes[1].config = {"values": {"i": 99}}
    three = await svc.run(wf)
    assert svc.workflow_of(three.execution_id).nodes[1].config == {"values": {"i": 99}}
    assert svc.workflow_of(one.execution_id).nodes[1].config != {"values": {"i": 99}}
    svc.delete(two.execution_id)
    with pytest.raises(ExecutionNotFound):
        svc.record(two.execution_id)
    with pytest.raises(InvalidExecutionState, match="a finished run keeps its status"):
        svc.mark_failed(one.execution_id, "given up by hand")  # completed stays completed
    assert svc.status(one.execution_id)["status"] == "completed"
    handle = await svc.start(waits(3, 30.0))
    svc.pause(handle.execution_id)
    assert (await handle.task).status == "paused"
    svc.mark_failed(handle.execution_id, "given up by hand")
    st = svc.status(handle.execution_id)
    assert st["status"] == "failed" and st["error"]["message"] == "given up by hand"


async def test_state_errors_are_clear(svc: ExecutionService) -> None:
    rec = await svc.run(chain(1))
    with pytest.raises(InvalidExecutionState, match="completed"):
        await svc.resume(rec.execution_id)
    with pytest.raises(InvalidExecutionState, match="completed"):
        svc.pause(rec.execution_id)
    with pytest.raises(InvalidExecutionState, match="completed"):
        svc.cancel(rec.execution_id)
    with pytest.raises(ExecutionNotFound, match="no execution 'nope'"):
        svc.status("nope")
    assert isinstance(ExecutionNotFound("x"), StoreError)


async def test_concurrent_readers_never_see_database_is_locked(db: Db) -> None:
    writer, reader = db.service(), db.service()
    errors: list[BaseException] = []
    reads = 0
    stop = threading.Event()
    try:
        handle = await writer.start(waits(150))

        def read() -> None:
            nonlocal reads
            while not stop.is_set():
                try:
                    reader.status(handle.execution_id)
                    reader.list_runs(limit=5)
                    reader.record(handle.execution_id)
                    reads += 1
                except BaseException as exc:  # every failure counts
                    errors.append(exc)
                    return

        threads = [threading.Thread(target=read) for _ in range(2)]
        for th in threads:
            th.start()
        rec = await handle.task
        stop.set()
        for th in threads:
            th.join()
        assert rec.status == "completed"
        assert errors == []
        assert reads > 3
    finally:
        stop.set()
        writer.close()
        reader.close()


async def test_recover_reports_runs_whose_owner_is_gone(db: Db) -> None:
    svc = db.service()
    try:
        rec = await svc.run(chain(2))
        e = t.executions
        with svc.store.engine.begin() as conn:  # a run owned by a process that no longer exists
            conn.execute(e.update().where(e.c.id == rec.execution_id).values(status="running", owner_pid=2**22 + 7, stopped_at=None))
        assert svc.status(rec.execution_id)["status"] == "interrupted"
        assert svc.status(rec.execution_id)["resumable"] is True
        assert svc.recover() == [rec.execution_id]
        with svc.store.engine.connect() as conn:
            assert conn.execute(sa.select(e.c.status).where(e.c.id == rec.execution_id)).scalar() == "interrupted"
        assert [s["execution_id"] for s in svc.list_runs(status="interrupted")] == [rec.execution_id]
    finally:
        svc.close()


async def test_in_memory_service_has_the_same_verbs() -> None:
    svc = ExecutionService(in_memory=True)
    wf = waits(3, 0.01)
    handle = await svc.start(wf)
    await asyncio.sleep(0)
    svc.pause(handle.execution_id)
    rec = await handle.task
    assert rec.status == "paused" and svc.status(rec.execution_id)["resumable"]
    done = await (await svc.resume(rec.execution_id, workflow=wf)).task
    assert done.status == "completed"
    assert svc.record(rec.execution_id) is done
    assert [s["execution_id"] for s in svc.list_runs(status="completed")] == [rec.execution_id]
    assert svc.url is None
    with pytest.raises(ExecutionNotFound):
        svc.status("missing")
    svc.delete(rec.execution_id)
    assert svc.list_runs() == []


async def test_workflow_names_come_from_the_newest_version_of_this_workspace(db: Db) -> None:
    a = db.service()
    b = db.service(workspace=db.workspace + "-other")
    try:
        wf = chain(2)
        wf.name = "first name"
        await a.run(wf)
        renamed = chain(2)
        renamed.name = "second name"
        await a.run(renamed)  # same workflow id, a new version
        assert a.workflow_names([wf.id, "unknown-id"]) == {wf.id: "second name"}
        assert b.workflow_names([wf.id]) == {}
        assert a.workflow_names([]) == {}
    finally:
        a.close()
        b.close()


def _count_reads(store: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What `store` reads through its own statements from now on (each read's `what`)."""
    reads: list[str] = []
    read = store._read

    def counted(what: str, stmt: Any, params: dict[str, Any]) -> Any:
        reads.append(what)
        return read(what, stmt, params)

    monkeypatch.setattr(store, "_read", counted)
    return reads


def test_a_new_workspace_or_workflow_version_is_not_read_back_after_its_insert(db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    """The id of a row just inserted comes from the insert (SQLite: lastrowid, PostgreSQL:
    RETURNING): one lookup, one insert; before, a second read followed each insert."""
    svc = db.service()
    try:
        store = svc.store
        reads = _count_reads(store, monkeypatch)
        wf = chain(3)
        version = store.save_workflow(wf)
        other = f"{db.workspace}-other"
        ws = store._workspace_id(other)
        assert reads == ["save the workflow", "open the workspace"]
        w, spaces = t.workflows, t.workspaces
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(w.c.id).where(w.c.workspace_id == store.ws_id)).scalars().all() == [version]
            assert conn.execute(sa.select(spaces.c.id).where(spaces.c.name == other)).scalar_one() == ws
        store._versions.clear()
        assert store.save_workflow(wf) == version and store._workspace_id(other) == ws  # found: no insert
        ran = asyncio.run(svc.run(wf))
        assert svc.workflow_of(ran.execution_id) == wf  # the version id it was given is the row's
    finally:
        svc.close()


# each child opens the store, says so, and when told saves the same new workflow version
# and opens the same new workspace: the inserts of all of them race
SAVE_WHEN_TOLD = """
import sys
from engine.paths import resolve_db_url
from engine.store.store import ExecutionStore
from tests.engine.runtime.helpers import chain
store = ExecutionStore(resolve_db_url(sys.argv[1]), workspace=sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
print(store.save_workflow(chain(4)), store._workspace_id(sys.argv[2] + "-new"), flush=True)
store.close()
"""


def test_processes_saving_the_same_version_and_workspace_at_once_get_one_row(db: Db) -> None:
    """Inserts of one unique row racing: one process inserts, every other one finds its row."""
    import os

    from tests.together import run_together

    db.service().close()  # created and migrated before the race
    results = run_together(SAVE_WHEN_TOLD, [db.url, db.workspace], 4, env=dict(os.environ, PYTHONPATH=os.getcwd()))
    assert [rc for rc, _out, _err in results] == [0] * 4, [err for _rc, _out, err in results]
    assert len({out for _rc, out, _err in results}) == 1  # the same version id and workspace id everywhere
    w, spaces = t.workflows, t.workspaces
    svc = db.service()
    try:
        with svc.store.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(w).where(w.c.workspace_id == svc.store.ws_id)).scalar() == 1
            assert conn.execute(sa.select(sa.func.count()).select_from(spaces).where(spaces.c.name == db.workspace + "-new")).scalar() == 1
    finally:
        svc.close()
