"""The history panel in queue mode: queued runs, and which worker runs each."""

from __future__ import annotations

from app.panels.history import STATUSES, WORKER_COLUMN, HistoryPanel, number_runs


def _run(eid, status, worker=None, started="2026-01-02T03:04:05.000+00:00"):
    run = {
        "execution_id": eid,
        "workflow_id": "wf",
        "status": status,
        "progress": {"total": 4, "completed": 0 if status == "queued" else 2, "failed": 0, "skipped": 0, "percent": 0.0 if status == "queued" else 50.0},
        "timing": {"started_at": None if status == "queued" else started, "stopped_at": None, "duration_ms": None},
        "error": None,
    }
    if worker:
        run["worker"] = worker
    return run


def test_queued_runs_and_their_workers_are_shown(qtbot):
    panel = HistoryPanel()
    qtbot.addWidget(panel)
    panel.resize(760, 220)
    panel.show()
    runs = number_runs([_run("e3", "queued"), _run("e2", "running", "build-1:4242"), _run("e1", "completed", "build-2:77")])
    panel.set_runs(runs, {"wf": "Nightly import"})
    t = panel.table
    assert t.horizontalHeaderItem(WORKER_COLUMN).text() == "Worker" and not t.isColumnHidden(WORKER_COLUMN)
    assert [t.item(r, 1).text() for r in range(3)] == ["queued", "running", "completed"]
    assert [t.item(r, WORKER_COLUMN).text() for r in range(3)] == ["", "build-1:4242", "build-2:77"]
    assert t.item(0, 2).text() == ""  # not started yet
    panel.grab().save("/tmp/history_queue.png")
    assert "queued" in STATUSES and panel.status.findData("queued") >= 0
    # the column goes away when no run came from a worker (a desktop-only history)
    panel.set_runs(number_runs([_run("e9", "completed")]), {})
    assert t.isColumnHidden(WORKER_COLUMN)
    panel.select_execution("e9")
    panel.set_runs(runs, {})
    panel.select_execution("e3")
    assert not panel.resume_button.isEnabled()  # a queued run is not resumable, but it can be cancelled
    cancelled = []
    panel.cancel_requested.connect(cancelled.append)
    assert panel.cancel_button.isEnabled()
    panel.cancel_button.click()
    assert cancelled == ["e3"]
