"""`serve` saves the workflow version each run uses from its file's kept content hash.

A served file's version (content hash and canonical document) is found once, when the file
is loaded (`engine.compiled`), not encoded and hashed again for every request. The rows
must be what saving the workflow from scratch writes: the same hash and document, one
version however many requests, and a new version when the file changed - with the
compiled-workflow cache (a cold load, then warm ones) and without it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from engine import fileformat
from engine.service import ExecutionService
from engine.store.store import workflow_document
from tests.engine.api.helpers import ServeProcess
from tests.engine.runtime.helpers import workflow
from tests.servers import app_client


def hook_workflow(path: str, reply: str, wf_id: str = "wf-hook") -> Any:
    """A webhook on /webhook/`path` answering {"reply": `reply`, "got": the body}."""
    wf = workflow(
        [
            {"id": "hook", "type": "webhook_trigger", "config": {"path": path, "method": "POST"}},
            {"id": "answer", "type": "respond_webhook", "config": {"status": 200, "body": {"reply": reply, "got": "{{ nodes.hook.body }}"}}},
        ],
        [("hook", "out", "answer")],
    )
    wf.id = wf.name = wf_id
    return wf


def expected_row(path: Path) -> tuple[str, str, str, str]:
    """(workflow id, name, content hash, document) as saving the loaded file from scratch writes them."""
    wf = fileformat.load(path)
    document, content_hash = workflow_document(wf)
    return wf.id, wf.name, content_hash, document


def saved(db: str) -> tuple[list[tuple[Any, ...]], list[int]]:
    """(the workflow version rows: id, workflow id, name, hash, document; each execution's version, in start order)."""
    from engine.store.schema import executions, workflows

    svc = ExecutionService(db)
    try:
        with svc.store.engine.connect() as conn:
            w = workflows
            versions = [tuple(r) for r in conn.execute(sa.select(w.c.id, w.c.workflow_id, w.c.name, w.c.content_hash, w.c.document).order_by(w.c.id))]
            used = [r[0] for r in conn.execute(sa.select(executions.c.workflow_version).order_by(executions.c.started_at))]
    finally:
        svc.close()
    return versions, used


def serve(db: Path, cache: str, *files: Path, posts: dict[str, int]) -> None:
    """`serve FILE...` on a free port: `posts[path]` requests to each webhook path, then stopped."""
    server = ServeProcess("serve", *map(str, files), "--port", "0", env={"PROCESSENGINE_DB": str(db), "PROCESSENGINE_CACHE_DIR": cache})
    try:
        found = re.search(r"(http://[\d.]+:\d+)/webhook/", server.wait_line("serving "))
        assert found, server.out
        with httpx.Client(base_url=found.group(1), timeout=60) as client:
            for hook, n in posts.items():
                for i in range(n):
                    answer = client.post(f"/webhook/{hook}", json={"i": i})
                    assert answer.status_code == 200 and answer.json()["got"] == {"i": i}, answer.text
    finally:
        assert server.stop() == 0


@pytest.mark.timeout(300)
@pytest.mark.parametrize("cached", [True, False], ids=["cache", "no-cache"])
def test_served_versions_are_saved_as_before_and_a_changed_file_gets_a_new_one(tmp_path: Path, cached: bool) -> None:
    cache = str(tmp_path / "cache") if cached else ""  # "": no compiled-workflow cache at all
    path, other = tmp_path / "hook.pe.json", tmp_path / "other.pe.json"
    fileformat.save(hook_workflow("v", "first"), path)
    fileformat.save(hook_workflow("o", "other", wf_id="wf-other"), other)
    first = expected_row(path)
    db, fresh = tmp_path / "pe.db", tmp_path / "fresh.db"

    serve(db, cache, path, posts={"v": 2})  # a cold load (with the cache: its entry is written)
    serve(fresh, cache, path, posts={"v": 1})  # warm with the cache: the hash known, the version not saved yet
    serve(db, cache, path, posts={"v": 1})  # the version saved before: found by its hash
    versions, used = saved(db)
    assert [v[1:] for v in versions] == [first]
    assert used == [versions[0][0]] * 3
    assert [v[1:] for v in saved(fresh)[0]] == [first]

    fileformat.save(hook_workflow("v", "second"), path)
    second = expected_row(path)
    assert second[2] != first[2]
    serve(db, cache, path, other, posts={"v": 1, "o": 1})  # several files: the other way `serve` starts
    versions, used = saved(db)
    assert [v[1:] for v in versions] == [first, second, expected_row(other)]
    assert used == [versions[0][0]] * 3 + [versions[1][0], versions[2][0]]


async def test_requests_find_the_version_without_encoding_the_workflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process: with the version given at start, requests never encode the workflow."""
    from engine.store import store as store_module
    from engine.webhook_server import make_app

    path = tmp_path / "hook.pe.json"
    fileformat.save(hook_workflow("v", "first"), path)
    wf = fileformat.load(path)
    document, content_hash = workflow_document(wf)
    encoded: list[str] = []
    real = store_module.workflow_document

    def counted(w: Any) -> tuple[str, str]:
        encoded.append(w.id)
        return real(w)

    monkeypatch.setattr(store_module, "workflow_document", counted)
    db = tmp_path / "pe.db"
    service = ExecutionService(str(db))
    try:
        async with app_client(make_app(service, wf, workflow_file=str(path), version=(content_hash, document))) as client:
            for i in range(3):
                assert (await client.post("/webhook/v", json={"i": i})).json()["got"] == {"i": i}
    finally:
        service.close()
    assert encoded == []
    versions, used = saved(str(db))
    assert [v[1:] for v in versions] == [expected_row(path)]
    assert used == [versions[0][0]] * 3
