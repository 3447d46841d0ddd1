"""The runner installed in the real main window: toolbar, history, run view, docks, closing."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from app.dock_tabs import stray_tab_bars
from app.runner import controller as rc
from app.runner.install import install_runner
from engine import fileformat
from tests.app.runner.helpers import RUN_MS, http_retry_workflow, wait_workflow
from tests.app.test_dock_tabs import show_and_settle
from tests.servers import Reply


def _open(window, wf, tmp_path, name="wf.pe.json"):
    path = tmp_path / name
    fileformat.save(wf, path)
    assert window.open_path(path, ask=False)
    return path


def _states(window):
    return {i.node_id: i.run_state for i in window.scene.node_items()}


def test_run_then_open_it_from_history_read_only(window, runner, http_server, qtbot, tmp_path):
    http_server.fail_first("/h", 1, status=503, then=Reply(json={"items": [1]}))
    _open(window, http_retry_workflow(http_server.url_for("/h")), tmp_path)
    c = runner.controller
    assert window.menus["run"].menuAction().isVisible()
    qtbot.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED, timeout=10000)
    live = _states(window)
    assert live == {"start": "succeeded", "get": "succeeded", "check": "succeeded", "yes": "skipped", "no": "succeeded"}
    # the history lists it (read on the engine thread), with progress
    qtbot.waitUntil(lambda: [r["status"] for r in runner.history.runs] == ["completed"], timeout=5000)
    row = runner.history.runs[0]
    assert row["status"] == "completed" and row["number"] == 1
    assert runner.history.table.item(0, 4).text() == "4 completed, 0 failed, 1 skipped of 5 (100%)"
    # the log dock got the run's lines; filter by node and level
    assert any(ln.node_id == "get" and ln.level == "WARNING" and "503" in ln.message for ln in runner.logs.model.lines)
    assert not any(ln.message.startswith("execution=") for ln in runner.logs.model.lines)  # ids are columns
    runner.logs.set_node("get")
    runner.logs.set_level("WARNING")
    shown = runner.logs.shown_lines()
    assert shown and all(ln.node_id == "get" and ln.level in ("WARNING", "ERROR") for ln in shown)
    # the timeline has both attempts of the HTTP node as separate bars
    qtbot.waitUntil(lambda: len([b for b in runner.timeline.bars if b.span.node_id == "get"]) == 2, timeout=3000)
    # second run, then go back to the first from the history
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED and [r["status"] for r in runner.history.runs] == ["completed"] * 2, timeout=10000)
    window.scene.clearSelection()
    r = next(i for i, run in enumerate(runner.history.runs) if run["execution_id"] == row["execution_id"])
    table = runner.history.table
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualItemRect(table.item(r, 1)).center())
    qtbot.waitUntil(lambda: c.state == rc.VIEWING, timeout=5000)
    assert c.viewing == (row["execution_id"], 1)
    assert runner.host.banner.banner.isVisible() and "Viewing run #1" in runner.host.banner.banner_label.text()
    assert _states(window) == live
    assert not window.actions_by_name["delete"].isEnabled() and not window.node_palette.isEnabled()
    assert c.resume_action.isEnabled() is False and c.run_action.isEnabled()
    assert window.read_only and window.controller.read_only
    # selecting a node shows its data from that run; editing stays off
    window.scene.select_nodes(["get"])
    assert not window.actions_by_name["delete"].isEnabled() and not window.inspector.node_form.isEnabled()
    count = window.document.undo_stack.count()
    qtbot.keyClick(window.view, Qt.Key.Key_Delete)
    window.controller.delete(["get"])
    assert window.document.undo_stack.count() == count and window.document.workflow.get("get") is not None
    qtbot.waitUntil(lambda: runner.data.data is not None and runner.data.data["node_id"] == "get", timeout=5000)
    assert runner.data.output_view.value["body"] == {"items": [1]}
    assert [a["status"] for a in runner.data.data["attempts"]] == ["failed", "succeeded"]
    assert "503" in runner.data.attempts.item(0, 4).text()
    # the inspector previews expressions with the last run's data
    qtbot.waitUntil(lambda: runner.samples is not None, timeout=5000)
    assert runner.sample_for("check") == {"input": {"status": 200, "headers": runner.samples["inputs"]["check"]["headers"], "body": {"items": [1]}}, "nodes": runner.samples["nodes"]}
    assert runner.samples["nodes"]["Get items"]["body"] == {"items": [1]}
    assert window.inspector.sample_provider is not None
    # back to editing
    runner.host.banner.back.click()
    assert c.state == rc.IDLE and not runner.host.banner.banner.isVisible()
    assert all(s is None for s in _states(window).values())
    assert window.node_palette.isEnabled() and not window.read_only and window.inspector.node_form.isEnabled()


def test_delete_runs_from_history(window, runner, qtbot, tmp_path):
    _open(window, wait_workflow(0.0), tmp_path)
    c = runner.controller
    for n in range(1, 4):
        c.run_action.trigger()
        qtbot.waitUntil(lambda n=n: c.state == rc.COMPLETED and len(runner.history.runs) == n, timeout=RUN_MS)
    qtbot.waitUntil(lambda: [r["status"] for r in runner.history.runs] == ["completed"] * 3, timeout=RUN_MS)
    ids = [r["execution_id"] for r in runner.history.runs]
    # one run: asked first, nothing deleted until confirmed
    runner.history.select_execution(ids[1])
    with qtbot.assertNotEmitted(runner.history.delete_requested):
        runner.history.delete_button.click()
    assert runner.history.confirm.isVisible()
    assert c.call_blocking(lambda s: len(s.list_runs())) == 3
    with qtbot.waitSignal(runner.history.delete_requested, timeout=RUN_MS):
        runner.history.confirm.confirm_button.click()
    qtbot.waitUntil(lambda: len(runner.history.runs) == 2, timeout=RUN_MS)
    assert ids[1] not in c.call_blocking(lambda s: [r["execution_id"] for r in s.list_runs()])
    # several at once, one of them shown on the canvas: the view goes back to editing
    c.spawn(runner.open_run(ids[0], None))
    qtbot.waitUntil(lambda: c.state == rc.VIEWING and window.read_only, timeout=RUN_MS)
    runner.history.select_executions([ids[0], ids[2]])
    runner.history.delete_button.click()
    assert "Delete 2 runs" in runner.history.confirm.label.text()
    runner.history.confirm.confirm_button.click()
    qtbot.waitUntil(lambda: runner.history.runs == [] and c.state == rc.IDLE, timeout=RUN_MS)
    assert c.call_blocking(lambda s: s.list_runs()) == [] and not window.read_only


def test_history_filters_by_status_and_resumes_a_paused_run(window, runner, qtbot, tmp_path):
    _open(window, wait_workflow(0.8), tmp_path)
    c = runner.controller
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.RUNNING and window.scene.node_item("w").run_state == "running", timeout=5000)
    c.pause_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.PAUSED, timeout=5000)
    paused_id = c.execution_id
    c.cancel_action.trigger()  # cancel that one, then pause another for the history
    qtbot.waitUntil(lambda: c.state == rc.CANCELLED, timeout=5000)
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.RUNNING and window.scene.node_item("w").run_state == "running", timeout=5000)
    c.pause_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.PAUSED, timeout=5000)
    second = c.execution_id
    runner.history.set_status_filter("paused")
    qtbot.waitUntil(lambda: [r["execution_id"] for r in runner.history.runs] == [second], timeout=5000)
    runner.history.set_status_filter("cancelled")
    qtbot.waitUntil(lambda: [r["execution_id"] for r in runner.history.runs] == [paused_id], timeout=5000)
    runner.history.set_status_filter(None)
    qtbot.waitUntil(lambda: len(runner.history.runs) == 2, timeout=5000)
    # open the paused run (read-only), then resume it from the history
    runner.history.select_execution(second)
    runner.history.open_button.click()
    qtbot.waitUntil(lambda: c.state == rc.VIEWING, timeout=5000)
    assert window.scene.node_item("w").run_state == "paused"
    assert window.scene.node_item("b").run_state == "pending"
    assert runner.history.resume_button.isEnabled() and c.resume_action.isEnabled()
    runner.history.resume_button.click()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED, timeout=8000)
    assert c.execution_id == second
    assert _states(window) == {"start": "succeeded", "a": "succeeded", "w": "succeeded", "b": "succeeded"}
    status = c.call_blocking(lambda s: s.status(second))
    assert status["status"] == "completed"


def test_closing_during_a_run_asks_and_pause_saves_it(window, runner, qtbot, tmp_path):
    _open(window, wait_workflow(30), tmp_path)
    c = runner.controller
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.RUNNING and window.scene.node_item("w").run_state == "running", timeout=5000)
    eid = c.execution_id
    assert not window.close()  # refused for now: the question is open
    box = runner.close_box
    assert box is not None and box.isVisible() and window.isVisible()
    runner.keep_running.click()
    qtbot.waitUntil(lambda: not box.isVisible(), timeout=2000)
    assert c.state == rc.RUNNING and window.isVisible()
    window.close()
    assert runner.close_box.isVisible()
    runner.pause_close.click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=8000)
    status = c.call_blocking(lambda s: s.status(eid))
    assert status["status"] == "paused" and status["resumable"]


def test_closing_during_a_run_can_cancel_it(window, runner, qtbot, tmp_path):
    _open(window, wait_workflow(30), tmp_path)
    c = runner.controller
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.RUNNING and window.scene.node_item("w").run_state == "running", timeout=5000)
    eid = c.execution_id
    window.close()
    runner.cancel_close.click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=8000)
    assert c.call_blocking(lambda s: s.status(eid))["status"] == "cancelled"


def test_invalid_workflow_is_not_started(window, runner, qtbot, tmp_path):
    doc = json.loads(fileformat.dumps(wait_workflow()))
    doc["connections"].append({"from": "b", "from_port": "out", "to": "a", "to_port": "in"})  # a cycle
    path = tmp_path / "bad.pe.json"
    path.write_text(json.dumps(doc))
    window.open_path(path, ask=False)
    ended = []
    runner.controller.run_ended.connect(lambda eid, status: ended.append(status))
    window.start_run()  # validated on the engine thread, then refused
    qtbot.waitUntil(lambda: ended == ["invalid"], timeout=5000)
    assert "cycle" in window.statusBar().currentMessage().lower()
    assert runner.controller.state == rc.IDLE and runner.controller.execution_id is None
    assert all(i.run_state is None for i in window.scene.node_items())
    assert runner.controller.call_blocking(lambda s: s.list_runs()) == []  # nothing was run


def test_all_workflows_scope_and_cancel_a_paused_run_from_history(window, runner, qtbot, tmp_path):
    c = runner.controller
    _open(window, wait_workflow(0.0), tmp_path, "quick.pe.json")
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED, timeout=5000)
    other = http_retry_workflow("http://127.0.0.1:9/never")  # another workflow id
    other_doc = json.loads(fileformat.dumps(other))
    other_doc["nodes"] = [n for n in other_doc["nodes"] if n["id"] == "start"] + [
        {"id": "w", "type": "wait", "name": "Wait", "position": [260, 0], "config": {"seconds": 30}}
    ]
    other_doc["connections"] = [{"from": "start", "from_port": "out", "to": "w", "to_port": "in"}]
    path = tmp_path / "other.pe.json"
    path.write_text(json.dumps(other_doc))
    assert window.open_path(path, ask=False)
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.RUNNING and window.scene.node_item("w").run_state == "running", timeout=5000)
    c.pause_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.PAUSED, timeout=5000)
    paused = c.execution_id
    qtbot.waitUntil(lambda: [r["status"] for r in runner.history.runs] == ["paused"], timeout=5000)  # this workflow only
    runner.history.set_all_workflows(True)
    qtbot.waitUntil(lambda: sorted(r["status"] for r in runner.history.runs) == ["completed", "paused"], timeout=5000)
    names = {runner.history.table.item(r, 5).text() for r in range(2)}
    assert names == {"quick", "other"}  # as the title bar named each (their files)
    runner.history.select_execution(paused)
    assert runner.history.cancel_button.isEnabled()
    runner.history.cancel_button.click()
    qtbot.waitUntil(lambda: c.call_blocking(lambda s: s.status(paused))["status"] == "cancelled", timeout=5000)
    qtbot.waitUntil(lambda: runner.history.row_of(paused) is not None and runner.history.row_of(paused)["status"] == "cancelled", timeout=5000)
    assert c.state == rc.CANCELLED and window.scene.node_item("w").run_state == "cancelled"


def test_pause_and_close_leaves_no_run_to_pause_at_exit(window, runner, qtbot, tmp_path, caplog):
    """"Pause and close": the window closes with the run paused and the controller no longer
    active, so the app's exit does not pause it a second time ("could not pause … already paused")."""
    import logging

    from PySide6.QtCore import QEvent, QObject

    _open(window, wait_workflow(30), tmp_path)
    c = runner.controller
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.RUNNING and window.scene.node_item("w").run_state == "running", timeout=5000)
    eid = c.execution_id
    at_close: list[tuple[bool, str]] = []

    class CloseSpy(QObject):
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Close and runner._close_ok:
                at_close.append((c.active, c.state))
            return False

    spy = CloseSpy(window)
    window.installEventFilter(spy)
    window.close()
    runner.pause_close.click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=8000)
    assert at_close == [(False, rc.PAUSED)]
    with caplog.at_level(logging.DEBUG, logger="app"):
        runner.shutdown()  # what the app's aboutToQuit does
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], [r.getMessage() for r in caplog.records]
    assert c.call_blocking(lambda s: s.status(eid))["status"] == "paused"


def test_history_banner_follows_the_run_shown(window, runner, qtbot, tmp_path):
    """Click run #2, then run #1: the canvas and the banner both show #1."""
    _open(window, wait_workflow(0.05), tmp_path)
    c = runner.controller
    for n in (1, 2):
        c.run_action.trigger()
        qtbot.waitUntil(lambda n=n: c.state == rc.COMPLETED and len(runner.history.runs) == n, timeout=10000)
    table = runner.history.table
    label = runner.host.banner.banner_label
    for number in (2, 1, 2):
        row = next(i for i, run in enumerate(runner.history.runs) if run["number"] == number)
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualItemRect(table.item(row, 1)).center())
        qtbot.waitUntil(lambda number=number: c.state == rc.VIEWING and c.viewing[1] == number, timeout=5000)
        assert runner.host.banner.banner.isVisible()
        assert label.text().startswith(f"Viewing run #{number} ·"), label.text()
        assert c.progress_label.text().startswith(f"Viewing run #{number} ·")


def test_exit_while_the_run_has_just_paused_does_not_pause_it_again(window, runner, qtbot, tmp_path, caplog):
    """The run paused in the engine, but the window has not heard yet (the pause is still on
    its way): quitting must not report a failed pause of a run that is already paused."""
    import logging

    _open(window, wait_workflow(30), tmp_path)
    c = runner.controller
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.RUNNING and window.scene.node_item("w").run_state == "running", timeout=5000)
    eid = c.execution_id
    svc = c._service_future.result(5)

    async def pause_and_wait():
        svc.pause(eid)
        return await svc.wait(eid)

    assert runner.engine.run_blocking(pause_and_wait(), timeout=15).status == "paused"  # no Qt events in between
    assert c.active  # the controller has not seen the pause yet
    with caplog.at_level(logging.DEBUG, logger="app"):
        runner.shutdown()  # what the app's aboutToQuit does
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], [r.getMessage() for r in caplog.records]
    status = c.call_blocking(lambda s: s.status(eid)) if runner.engine.alive else None
    assert status is None or status["status"] == "paused"


def _mixed_workflow():
    from tests.app.runner.helpers import workflow

    return workflow(
        [
            {"id": "start", "type": "manual_trigger", "name": "Start"},
            {"id": "check", "type": "if", "name": "Check", "config": {"condition": "{{ 1 > 2 }}"}},
            {"id": "yes", "type": "set", "name": "Yes", "config": {"values": {"a": 1}}},
            {"id": "boom", "type": "set", "name": "Boom", "config": {"values": {"a": "{{ 1 / 0 }}"}}, "on_error": "continue"},
            {"id": "after", "type": "set", "name": "After", "config": {"values": {"b": 2}}},
        ],
        [("start", "out", "check"), ("check", "true", "yes"), ("check", "false", "boom"), ("boom", "out", "after")],
        wf_id="wf-mixed",
    )


def test_progress_reads_the_same_in_the_status_bar_history_and_cli(window, runner, qtbot, tmp_path, db_path):
    """One run with completed, failed and skipped nodes: the app's status bar, its History and
    the CLI (a real subprocess) all show the three apart, with the same numbers."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    _open(window, _mixed_workflow(), tmp_path)
    c = runner.controller
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED and len(runner.history.runs) == 1, timeout=10000)
    expected = "3 completed, 1 failed, 1 skipped of 5 (100%)"
    assert expected in c.progress_label.text()
    assert runner.history.table.item(0, 4).text() == expected
    root = Path(__file__).resolve().parents[3]
    env = dict(os.environ, PYTHONPATH=str(root))
    cli = subprocess.run([sys.executable, "-m", "engine.cli", "status", c.execution_id, "--db", db_path],
                         capture_output=True, text=True, timeout=60, env=env, cwd=root)  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert expected in cli.stdout


def test_shortcut_list_has_the_run_keys(window, runner):
    window.actions_by_name["shortcuts"].trigger()
    text = window.answerer.seen[-1]["text"]
    for keys, what in (("F5", "Run"), ("F6", "Pause"), ("F6", "Resume"), ("Shift+F5", "Cancel"), ("Ctrl+Z", "Undo")):
        assert f"<b>{keys}</b>&nbsp;&nbsp;</td><td>{what}</td>" in text, (keys, what)


def test_history_names_the_workflow_as_the_title_does(window, runner, qtbot, tmp_path):
    """A workflow still named "Untitled" saved as orders.pe.json: title and History say "orders"."""
    wf = wait_workflow(0.05)
    wf.name = "Untitled"
    _open(window, wf, tmp_path, name="orders.pe.json")
    assert window.windowTitle().startswith("orders")
    runner.controller.run_action.trigger()
    qtbot.waitUntil(lambda: len(runner.history.runs) == 1 and runner.controller.state == rc.COMPLETED, timeout=10000)
    qtbot.waitUntil(lambda: runner.history.table.item(0, 5).text() == "orders", timeout=5000)


def test_timeline_names_every_row_in_its_dock_and_stays_docked(window, runner, qtbot, tmp_path):
    """In the default layout (a short bottom dock) the four nodes of a run get four row
    names; resizing the dock keeps it docked and the names follow the new height."""
    _open(window, wait_workflow(0.05), tmp_path)
    c = runner.controller
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED, timeout=10000)
    dock = runner.docks["timeline"]
    dock.raise_()
    qtbot.waitUntil(lambda: len(runner.timeline.bars) == 4 and runner.timeline.isVisible(), timeout=5000)
    axis = runner.timeline.gantt.getPlotItem().getAxis("left")

    def names():
        """The row names the axis actually draws (it drops names that do not fit)."""
        from PySide6.QtGui import QImage, QPainter

        image = QImage(10, 10, QImage.Format.Format_ARGB32)
        painter = QPainter(image)
        try:
            specs = axis.generateDrawSpecs(painter)
        finally:
            painter.end()
        return sorted(text for _rect, _flags, text in specs[2]) if specs else []

    qtbot.waitUntil(lambda: names() == ["Finish", "Prepare", "Start", "Wait"], timeout=5000)
    assert dock.minimumSizeHint().height() <= window.problems_dock.minimumSizeHint().height() + 10
    for height in (110, 260, 120):
        window.resizeDocks([dock], [height], Qt.Orientation.Vertical)
        qtbot.waitUntil(lambda: names() == ["Finish", "Prepare", "Start", "Wait"], timeout=5000)
        assert not dock.isFloating()


def test_the_live_clock_stops_while_the_run_is_paused(window, runner, qtbot, tmp_path):
    import time

    _open(window, wait_workflow(30), tmp_path)
    c = runner.controller
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.RUNNING and window.scene.node_item("w").run_state == "running", timeout=5000)
    c.pause_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.PAUSED, timeout=8000)
    frozen = c.active_elapsed()
    paused_at = time.time()
    qtbot.waitUntil(lambda: time.time() - paused_at > 1.0, timeout=5000)  # the pause lasts a while
    assert c.active_elapsed() == frozen
    assert c.elapsed_label.text() == f"elapsed {rc.format_elapsed(frozen)}"
    c.resume_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.RUNNING, timeout=8000)
    wall = time.time() - c.started_at
    assert c.paused_s >= 1.0 and c.active_elapsed() <= wall - 1.0
    c.cancel_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.CANCELLED, timeout=8000)


def test_each_dock_group_shows_one_tab_bar(qtbot, qloop, engine, db_path):
    """Qt 6.11 leaves a copy of the Inspector / Run data tab bar floating over the bottom docks
    when the run tools' docks are tabified before the window is first shown (the screenshots do)."""
    from PySide6.QtWidgets import QTabBar

    from app.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1500, 900)
    ui = install_runner(window, db=db_path, engine=engine, recover=False)
    try:
        show_and_settle(window)
        assert not window.dock_tabs.pending
        assert not stray_tab_bars(window)
        bars = window.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly)
        groups = [tuple(b.tabText(i) for i in range(b.count())) for b in bars if b.isVisible()]
        assert len(groups) == len(set(groups)), groups
        assert ("Inspector", "Run data") in groups
    finally:
        ui.shutdown()
        window.document.undo_stack.setClean()



@pytest.fixture
def spawned_late():
    """Tasks spawned as a test ends; checked once the loop is closed (this fixture is set up
    before the loop, so it is torn down after it): each must have finished."""
    spawned = []
    yield spawned
    assert [t for t in spawned if not t.done()] == [], "a task was left pending when the loop closed"


@pytest.fixture
def refresh_at_teardown(runner, spawned_late):
    """At teardown, after pytest-qt has processed the test's last events, spawn a history
    refresh: what the history timer does when it fires in that last processing."""
    yield
    spawned_late.append(runner.controller.spawn(runner.refresh_history()))


def test_a_history_refresh_spawned_as_the_test_ends_is_cancelled_not_dropped(spawned_late, window, runner, refresh_at_teardown, qtbot):
    """The refresh's task has not started when the loop closes. Closed without letting the task
    take its cancellation, the task stayed pending and its coroutine, never started, was later
    dropped by the garbage collector ("coroutine 'RunnerUi.refresh_history' was never awaited")."""
    task = runner.controller.spawn(runner.refresh_history())  # one spawned during the test runs to its end
    qtbot.waitUntil(task.done, timeout=10000)
    assert task.exception() is None


def test_the_status_bar_says_the_next_run_is_starting_not_how_the_last_one_ended(window, runner, qtbot, tmp_path):
    """The previous run's "Run completed" stayed in the status bar while the next run was
    starting (validating, saving its version): the message now follows the new run."""
    _open(window, wait_workflow(0.05), tmp_path)
    c = runner.controller
    bar = window.statusBar()
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED and bar.currentMessage() == "Run completed", timeout=10000)
    starting: list[str] = []  # the status bar's message while the next run is starting
    c.execution_changed.connect(lambda eid: starting.append(bar.currentMessage()) if eid is None and c.state == rc.STARTING else None)
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED and bool(starting), timeout=10000)
    assert starting[0] == "Starting run: wait test"
