"""Questions asked while a run is opened, resumed or re-run come from outside the task that
asks (`app.runner.modal.outside_task`): a history refresh started while one is open completes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QMessageBox

from app.runner import controller as rc
from engine import fileformat
from tests.app.runner.helpers import RUN_MS, wait_workflow, workflow
from tests.app.runner.questions import refresh_during_each_question

DISCARD = {"Unsaved changes": QMessageBox.StandardButton.Discard}


def _open(window: Any, wf: Any, path: Path) -> None:
    fileformat.save(wf, path)
    assert window.open_path(path, ask=False)


def _edited_other_workflow(window: Any, tmp_path: Path) -> None:
    """Another workflow in the window, with unsaved changes: opening a run asks about them."""
    other = workflow([{"id": "start", "type": "manual_trigger"}, {"id": "x", "type": "set", "config": {"values": {"v": 1}}}],
                     [("start", "out", "x")], wf_id="wf-other", name="other")  # fmt: skip
    _open(window, other, tmp_path / "other.pe.json")
    window.controller.set_config("x", {"values": {"v": 2}})
    assert window.document.is_dirty


def test_opening_another_workflows_run_asks_outside_the_task(window: Any, runner: Any, qtbot: Any, tmp_path: Path) -> None:
    _open(window, wait_workflow(0.0), tmp_path / "wait.pe.json")
    c = runner.controller
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED, timeout=RUN_MS)
    ran = c.execution_id
    _edited_other_workflow(window, tmp_path)
    with refresh_during_each_question(window, runner, DISCARD) as q:
        c.spawn(runner.open_run(ran, None))
        qtbot.waitUntil(lambda: q.settled(1), timeout=RUN_MS)
        assert q.refused.seen == []
        qtbot.waitUntil(lambda: c.state == rc.VIEWING, timeout=RUN_MS)
    assert q.asked == ["Unsaved changes"] and q.refreshes_completed()
    assert c.viewing is not None and c.viewing[0] == ran and window.document.workflow.id == "wf-wait"


def test_resuming_another_workflows_run_asks_outside_the_task(window: Any, runner: Any, qtbot: Any, tmp_path: Path) -> None:
    _open(window, wait_workflow(30.0), tmp_path / "wait.pe.json")
    c = runner.controller
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.RUNNING and window.scene.node_item("w").run_state == "running", timeout=RUN_MS)
    c.pause_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.PAUSED, timeout=RUN_MS)
    paused = c.execution_id
    _edited_other_workflow(window, tmp_path)
    with refresh_during_each_question(window, runner, DISCARD) as q:
        c.spawn(c.resume_execution(paused))
        qtbot.waitUntil(lambda: q.settled(1), timeout=RUN_MS)
        assert q.refused.seen == []
        qtbot.waitUntil(lambda: c.state == rc.RUNNING and c.execution_id == paused, timeout=RUN_MS)
    assert q.asked == ["Unsaved changes"] and q.refreshes_completed()
    assert window.document.workflow.id == "wf-wait"
    c.cancel_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.CANCELLED, timeout=RUN_MS)
