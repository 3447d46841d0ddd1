"""The history panel: rows, numbering, filters, buttons by status."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.panels.history import HistoryPanel, format_duration, number_runs


def _run(eid, status, wid="wf", total=4, done=4, ms=1500.0):
    return {
        "execution_id": eid,
        "workflow_id": wid,
        "status": status,
        "progress": {"total": total, "completed": done, "failed": 0, "skipped": 0, "percent": 100.0 * done / total},
        "timing": {"started_at": "2026-01-02T03:04:05.000+00:00", "stopped_at": None, "duration_ms": ms},
        "error": {"message": "boom"} if status == "failed" else None,
    }


def test_rows_numbers_and_buttons(qtbot):
    panel = HistoryPanel()
    qtbot.addWidget(panel)
    panel.show()
    runs = number_runs([_run("e3", "paused", done=2), _run("e2", "failed"), _run("e1", "completed", ms=250)])
    assert [r["number"] for r in runs] == [3, 2, 1]
    panel.set_runs(runs, {"wf": "My flow"})
    t = panel.table
    assert [t.item(r, 0).text() for r in range(3)] == ["#3", "#2", "#1"]
    assert [t.item(0, c).text() for c in (1, 4, 5)] == ["paused", "2 completed, 0 failed, 0 skipped of 4 (50%)", "My flow"]
    assert t.item(2, 3).text() == "250 ms" and t.item(1, 3).text() == "1.5 s"
    assert t.item(1, 1).toolTip() == "boom"
    assert not panel.open_button.isEnabled()
    opened, resumed, deleted = [], [], []
    panel.open_requested.connect(lambda e, n: opened.append((e, n)))
    panel.resume_requested.connect(resumed.append)
    panel.delete_requested.connect(deleted.append)
    panel.select_execution("e3")
    assert panel.resume_button.isEnabled() and panel.cancel_button.isEnabled() and panel.delete_button.isEnabled()
    panel.resume_button.click()
    panel.open_button.click()
    assert resumed == ["e3"] and opened == [("e3", 3)]
    panel.select_execution("e1")
    assert not panel.resume_button.isEnabled() and panel.open_button.isEnabled()
    panel.delete_button.click()
    assert deleted == [] and panel.confirm.isVisible()  # asked first
    panel.confirm.confirm_button.click()
    assert deleted == [["e1"]] and not panel.confirm.isVisible()
    # a refresh keeps the selection
    panel.set_runs(runs, {})
    assert panel.selected_ids() == ["e1"]
    assert panel.table.item(0, 5).text() == "wf"  # no name known: the id


def test_running_runs_cannot_be_deleted_and_filters_ask_for_refresh(qtbot):
    panel = HistoryPanel()
    qtbot.addWidget(panel)
    panel.set_runs(number_runs([_run("e1", "running", done=1)]))
    panel.select_execution("e1")
    assert not panel.delete_button.isEnabled() and not panel.resume_button.isEnabled()
    asked = []
    panel.refresh_requested.connect(lambda: asked.append(1))
    panel.set_status_filter("failed")
    panel.set_all_workflows(True)
    assert panel.status_filter == "failed" and panel.all_workflows and len(asked) == 2
    assert format_duration(None) == "" and format_duration(125_000) == "2 min 5 s"


def test_delete_asks_inline_and_deletes_several_runs(qtbot):
    panel = HistoryPanel()
    qtbot.addWidget(panel)
    panel.resize(700, 300)
    panel.show()
    runs = number_runs([_run("e4", "completed"), _run("e3", "paused", done=2), _run("e2", "failed"), _run("e1", "completed")])
    panel.set_runs(runs)
    deleted: list[list[str]] = []
    panel.delete_requested.connect(deleted.append)
    t = panel.table
    # pick three rows with the mouse: click, ctrl+click, ctrl+click
    for row, mod in ((0, Qt.KeyboardModifier.NoModifier), (1, Qt.KeyboardModifier.ControlModifier), (3, Qt.KeyboardModifier.ControlModifier)):
        qtbot.mouseClick(t.viewport(), Qt.MouseButton.LeftButton, mod, t.visualItemRect(t.item(row, 1)).center())
    assert panel.selected_ids() == ["e4", "e3", "e1"] and panel.delete_button.isEnabled()
    assert not panel.open_button.isEnabled()  # open and resume are for one run
    panel.delete_button.click()
    bar = panel.confirm
    assert bar.isVisible() and not bar.isModal() and deleted == []
    assert "Delete 3 runs (#4, #3, #1)?" in bar.label.text() and "can still be resumed" in bar.label.text()
    assert bar.confirm_button.text() == "Delete 3"
    # the table stays usable while the question is open; "Keep" drops it
    bar.keep_button.click()
    assert not bar.isVisible() and deleted == []
    # the Delete key asks too; a history refresh (same rows selected) keeps the question
    t.setFocus()
    qtbot.keyClick(t, Qt.Key.Key_Delete)
    assert bar.isVisible() and bar.ids == ["e4", "e3", "e1"]
    panel.set_runs(runs)
    assert bar.isVisible() and panel.selected_ids() == ["e4", "e3", "e1"]
    bar.confirm_button.click()
    assert deleted == [["e4", "e3", "e1"]] and not bar.isVisible()


def test_another_selection_or_escape_drops_the_question(qtbot):
    panel = HistoryPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_runs(number_runs([_run("e2", "completed"), _run("e1", "failed")]))
    deleted: list[list[str]] = []
    panel.delete_requested.connect(deleted.append)
    panel.select_execution("e2")
    assert panel.ask_delete() and panel.confirm.isVisible()
    assert "Delete run #2?" in panel.confirm.label.text()
    panel.select_execution("e1")  # the question was about another row
    assert not panel.confirm.isVisible()
    assert panel.ask_delete()
    panel.table.setFocus()
    qtbot.keyClick(panel.table, Qt.Key.Key_Escape)
    assert not panel.confirm.isVisible() and deleted == []
    panel.select_executions([])
    assert not panel.ask_delete() and not panel.confirm.isVisible()
