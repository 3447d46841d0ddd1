"""The debugger in the real studio window: breakpoints, stepping, pending input, pins, retry buttons, re-runs.

Real window, real engine thread, real SQLite store, real local HTTP server; the
canvas items' states are asserted after each step. Set PE_DEBUG_SHOTS=DIR to
save a screenshot of each state.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.runner import controller as rc
from engine import fileformat
from tests.app.runner.helpers import workflow
from tests.app.runner.questions import refresh_during_each_question
from tests.servers import Reply


def chain_workflow():
    return workflow(
        [
            {"id": "start", "type": "manual_trigger", "name": "Start"},
            {"id": "a", "type": "set", "name": "Prepare", "config": {"values": {"x": 1}}},
            {"id": "b", "type": "set", "name": "Double", "config": {"values": {"x": "{{ input.x * 2 }}"}}},
            {"id": "c", "type": "set", "name": "Report", "config": {"values": {"total": "{{ input.x + 100 }}"}}},
        ],
        [("start", "out", "a"), ("a", "out", "b"), ("b", "out", "c")],
    )


def open_wf(window, wf, tmp_path: Path):
    path = tmp_path / "wf.pe.json"
    fileformat.save(wf, path)
    assert window.open_path(path, ask=False)


def item(window, node_id):
    return window.scene.node_item(node_id)


def shot(window, name: str) -> None:
    folder = os.environ.get("PE_DEBUG_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        window.grab().save(str(Path(folder) / f"{name}.png"))


def press(qtbot, window, key) -> None:
    """A key on the active window (a run's end can leave the offscreen window inactive)."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    qtbot.keyClick(window, key)


def record(runner, execution_id):
    return runner.controller.call_blocking(lambda s: s.record(execution_id))


def test_breakpoint_step_edit_the_pending_input_and_continue(window, runner, qtbot, tmp_path):
    open_wf(window, chain_workflow(), tmp_path)
    c, dbg = runner.controller, runner.debug
    window.scene.select_nodes(["b"])
    qtbot.keyClick(window.view, Qt.Key.Key_F9)
    assert dbg.session.breakpoints == {"b": {"condition": None, "enabled": True, "hits": 0}}
    assert item(window, "b").breakpoint == "on"
    assert dbg.breakpoints.tree.topLevelItemCount() == 1
    window.scene.clearSelection()
    qtbot.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: c.state == rc.PAUSED and dbg.session.paused_at is not None, timeout=10000)
    assert dbg.session.paused_at["node_id"] == "b" and dbg.session.paused_at["reason"] == "breakpoint"
    assert item(window, "b").paused_here and not item(window, "a").paused_here
    qtbot.waitUntil(lambda: item(window, "a").run_state == "succeeded" and item(window, "b").run_state == "pending", timeout=3000)
    assert "Double" in dbg.call_stack.list.item(0).text() and "breakpoint" in dbg.call_stack.list.item(0).text()
    assert c.resume_action.text() == "Continue" and dbg.session.step_action.isEnabled()
    assert dbg.breakpoints.tree.topLevelItem(0).text(2) == "1"  # hit count
    assert window.scene.selected_node_ids() == ["b"] and dbg.bar.pending_box.isVisibleTo(dbg.bar)
    runner.docks["data"].raise_()
    runner.docks["call_stack"].raise_()
    shot(window, "paused_at_breakpoint")
    # F10: one node runs, the run pauses before the next
    press(qtbot, window, Qt.Key.Key_F10)
    qtbot.waitUntil(lambda: c.state == rc.PAUSED and (dbg.session.paused_at or {}).get("node_id") == "c", timeout=10000)
    assert dbg.session.paused_at["reason"] == "step"
    qtbot.waitUntil(lambda: item(window, "b").run_state == "succeeded" and item(window, "c").paused_here, timeout=3000)
    assert not item(window, "b").paused_here
    # edit the pending input of the paused node in Run data, then continue (F5)
    assert dbg.bar.pending.value()[0] == {"x": 2}
    dbg.bar.pending.text.setPlainText('{"x": ')
    assert not dbg.bar.apply_button.isEnabled() and "Not valid JSON" in dbg.bar.pending.error.text()
    dbg.bar.pending.text.setPlainText('{"x": 40}')
    qtbot.mouseClick(dbg.bar.apply_button, Qt.MouseButton.LeftButton)
    shot(window, "pending_input_edited")
    press(qtbot, window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED, timeout=10000)
    qtbot.waitUntil(lambda: not item(window, "c").paused_here and item(window, "c").run_state == "succeeded", timeout=3000)
    rec = record(runner, c.execution_id)
    assert rec.main.outputs["c"] == {"total": 140}
    assert [e["kind"] for e in rec.debug.edits] == ["input"]
    assert dbg.call_stack.list.item(0).text() == "Not paused."


def test_variables_dock_edits_apply_when_the_run_goes_on(window, runner, qtbot, tmp_path):
    wf = chain_workflow()
    wf.variables = {"k": 1}
    wf.node("c").config = {"values": {"total": "{{ input.x + vars.k }}"}}
    open_wf(window, wf, tmp_path)
    c, dbg = runner.controller, runner.debug
    dbg.session.toggle("c")
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.PAUSED and dbg.session.paused_at is not None, timeout=10000)
    table = dbg.variables.table
    assert table.rowCount() == 1 and table.item(0, 0).text() == "k"
    table.item(0, 1).setText("oops")
    assert "not valid JSON" in dbg.variables.note.text()
    table.item(0, 1).setText("1000")
    c.resume_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED, timeout=10000)
    assert record(runner, c.execution_id).main.outputs["c"] == {"total": 1002}


def test_pin_from_run_data_is_undoable_and_the_run_uses_it(window, runner, qtbot, tmp_path, http_server):
    http_server.route("/n", Reply(json={"n": 1}))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger", "name": "Start"},
            {"id": "get", "type": "http_request", "name": "Get", "config": {"url": http_server.url_for("/n")}, "retry": "none"},
            {"id": "use", "type": "set", "name": "Use", "config": {"values": {"n": "{{ input.body.n }}"}}},
        ],
        [("start", "out", "get"), ("get", "out", "use")],
    )
    open_wf(window, wf, tmp_path)
    c, dbg = runner.controller, runner.debug
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED, timeout=10000)
    assert http_server.calls("/n") == 1
    window.scene.select_nodes(["get"])
    qtbot.waitUntil(lambda: (runner.data.data or {}).get("has_output") is True, timeout=5000)
    qtbot.mouseClick(dbg.bar.pin_button, Qt.MouseButton.LeftButton)
    node = window.document.workflow.node("get")
    assert node.pin["body"] == {"n": 1} and item(window, "get").pinned
    assert dbg.bar.pin_button.text() == "Unpin"
    window.document.undo_stack.undo()
    assert window.document.workflow.node("get").pin is None and not item(window, "get").pinned
    window.document.undo_stack.redo()
    assert item(window, "get").pinned
    # edit the pin as JSON: invalid text keeps OK disabled
    dialog = dbg.edit_pin("get")
    dialog.editor.text.setPlainText("{nope")
    from PySide6.QtWidgets import QDialogButtonBox

    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    dialog.editor.text.setPlainText('{"status": 200, "body": {"n": 7}}')
    dialog.accept()
    assert window.document.workflow.node("get").pin == {"status": 200, "body": {"n": 7}}
    # the pinned node does not run: no request, its canvas state says pinned
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED, timeout=10000)
    assert http_server.calls("/n") == 1
    qtbot.waitUntil(lambda: item(window, "get").run_state == "pinned", timeout=3000)  # painted on the next frame
    assert record(runner, c.execution_id).main.outputs["use"] == {"n": 7}
    shot(window, "pinned")
    # copied with the node
    from app.document import clipboard

    assert clipboard.parse_fragment(clipboard.copy_text(window.document.workflow, ["get"])).node("get").pin == {"status": 200, "body": {"n": 7}}


def test_rerun_from_here_reuses_upstream_and_execute_one_node(window, runner, qtbot, tmp_path, http_server):
    http_server.route("/n", Reply(json={"n": 1}))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger", "name": "Start"},
            {"id": "get", "type": "http_request", "name": "Get", "config": {"url": http_server.url_for("/n")}, "retry": "none"},
            {"id": "use", "type": "set", "name": "Use", "config": {"values": {"n": "{{ input.body.n }}"}}},
            {"id": "end", "type": "set", "name": "End", "config": {"values": {"m": "{{ input.n + 1 }}"}}},
        ],
        [("start", "out", "get"), ("get", "out", "use"), ("use", "out", "end")],
    )
    open_wf(window, wf, tmp_path)
    c, dbg = runner.controller, runner.debug
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED, timeout=10000)
    first = c.execution_id
    window.scene.select_nodes(["use"])
    assert dbg.session.rerun_action.isEnabled()
    dbg.session.rerun_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED and c.execution_id != first, timeout=10000)
    assert http_server.calls("/n") == 1
    qtbot.waitUntil(lambda: item(window, "get").run_state == "reused" and item(window, "start").run_state == "reused", timeout=3000)
    assert item(window, "use").run_state == "succeeded" and item(window, "end").run_state == "succeeded"
    status = c.call_blocking(lambda s: s.status(c.execution_id))
    assert status["rerun_of"] == first
    shot(window, "rerun_reused")
    # an edited document asks which version; answered up front here
    window.controller.set_config("end", {"values": {"m": "{{ input.n + 10 }}"}})
    second = c.execution_id
    c.spawn(dbg.session.rerun(from_node="end", choice="edited"))
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED and c.execution_id != second, timeout=10000)
    assert record(runner, c.execution_id).main.outputs["end"] == {"m": 11}
    # asked: "No" takes the version the run used (the edited document is discarded)
    from PySide6.QtWidgets import QMessageBox

    window.controller.set_config("end", {"values": {"m": "{{ input.n + 500 }}"}})
    edited_run = c.execution_id
    window.answerer.answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Discard]
    c.spawn(dbg.session.rerun(from_node="end"))
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED and c.execution_id != edited_run, timeout=10000)
    assert window.answerer.seen[0]["title"] == "Re-run"
    assert record(runner, c.execution_id).main.outputs["end"] == {"m": 11}
    # execute this node: just it, with its recorded input
    window.scene.select_nodes(["use"])
    third = c.execution_id
    dbg.session.execute_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.PAUSED and c.execution_id != third, timeout=10000)
    qtbot.waitUntil(lambda: item(window, "use").run_state == "succeeded" and item(window, "end").paused_here, timeout=3000)


def test_retry_now_and_give_up_buttons_on_a_retrying_node(window, runner, qtbot, tmp_path, http_server):
    http_server.fail_first("/flaky", 1)
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger", "name": "Start"},
            {"id": "get", "type": "http_request", "name": "Get", "config": {"url": http_server.url_for("/flaky")},
             "retry": {"max_attempts": 3, "initial_delay_s": 60, "jitter": False}},
        ],
        [("start", "out", "get")],
    )
    open_wf(window, wf, tmp_path)
    c, dbg = runner.controller, runner.debug
    c.run_action.trigger()
    qtbot.waitUntil(lambda: item(window, "get").run_state == "retrying", timeout=10000)
    assert dbg.session.retry_now_action.isEnabled() and dbg.session.give_up_action.isEnabled()
    shot(window, "retrying_buttons")
    it = item(window, "get")
    rect = dict(it._retry_rects())["retry_now"]
    view = window.view
    view.centerOn(it)
    point = view.mapFromScene(it.mapToScene(rect.center()))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED, timeout=10000)
    statuses = [a["status"] for a in record(runner, c.execution_id).main.attempts["get"]]
    assert statuses == ["failed", "retry_now", "succeeded"]


def test_breakpoints_dock_conditions_preview_enable_and_remove(window, runner, qtbot, tmp_path):
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger", "name": "Start"},
            {"id": "each", "type": "loop", "name": "Each", "config": {"items": "{{ [1, 2, 3, 4] }}"}},
            {"id": "body", "type": "set", "name": "Body", "config": {"values": {"v": "{{ input * 10 }}"}}},
            {"id": "after", "type": "set", "name": "After", "config": {"values": {"n": "{{ len(input) }}"}}},
        ],
        [("start", "out", "each"), ("each", "loop", "body"), ("body", "out", "each"), ("each", "done", "after")],
    )
    open_wf(window, wf, tmp_path)
    c, dbg = runner.controller, runner.debug
    panel = dbg.breakpoints
    c.run_action.trigger()  # a first run gives the preview real data
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED and runner.samples is not None, timeout=10000)
    dbg.session.toggle("after")
    panel.tree.setCurrentItem(panel.tree.topLevelItem(0))
    qtbot.keyClicks(panel.condition, "len(input) > 3")  # the last run's input: the 4 body results
    assert "pauses" in panel.preview.text() and "does not" not in panel.preview.text()
    panel.condition.setText("")
    qtbot.keyClicks(panel.condition, "len(input) > 9")
    assert "does not pause" in panel.preview.text()
    dbg.session.remove(["after"])
    dbg.session.toggle("body")
    assert panel.tree.topLevelItemCount() == 1
    panel.tree.setCurrentItem(panel.tree.topLevelItem(0))
    panel.condition.setText("")
    qtbot.keyClicks(panel.condition, "input >= 3")
    panel.condition.editingFinished.emit()
    assert dbg.session.breakpoints["body"]["condition"] == "input >= 3"
    assert item(window, "body").breakpoint == "conditional"
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.PAUSED and dbg.session.paused_at is not None, timeout=10000)
    at = dbg.session.paused_at
    assert at["input"] == 3 and at["stack"][0]["loop"]["index"] == 2
    assert "Each [3/4]" in dbg.call_stack.list.item(0).text()
    # disable it in the dock: the run goes on to the end
    panel.tree.topLevelItem(0).setCheckState(0, Qt.CheckState.Unchecked)
    assert dbg.session.breakpoints["body"]["enabled"] is False and item(window, "body").breakpoint == "disabled"
    c.resume_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED, timeout=10000)
    assert panel.tree.topLevelItem(0).text(2) == "1"
    qtbot.mouseClick(panel.remove_all_button, Qt.MouseButton.LeftButton)
    assert dbg.session.breakpoints == {} and item(window, "body").breakpoint is None


def test_history_reruns_a_failed_run_from_its_failed_node(window, runner, qtbot, tmp_path, http_server):
    http_server.route("/once", Reply(status=404, json={"error": "not yet"}))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger", "name": "Start"},
            {"id": "prep", "type": "set", "name": "Prep", "config": {"values": {"q": 1}}},
            {"id": "get", "type": "http_request", "name": "Get", "config": {"url": http_server.url_for("/once")}, "retry": "none"},
        ],
        [("start", "out", "prep"), ("prep", "out", "get")],
    )
    open_wf(window, wf, tmp_path)
    c, dbg = runner.controller, runner.debug
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.FAILED, timeout=10000)
    failed = c.execution_id
    qtbot.waitUntil(lambda: (runner.history.row_of(failed) or {}).get("status") == "failed", timeout=5000)
    runner.history.select_executions([failed])
    qtbot.waitUntil(dbg.history_rerun.isEnabled, timeout=3000)
    http_server.route("/once", Reply(json={"ok": True}))
    qtbot.mouseClick(dbg.history_rerun, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED and c.execution_id != failed, timeout=10000)
    rec = record(runner, c.execution_id)
    assert rec.debug.rerun_of == failed and rec.debug.rerun_from == "get"
    assert [a["status"] for a in rec.main.attempts["prep"]] == ["reused"]
    assert rec.main.outputs["get"]["body"] == {"ok": True}


def test_run_to_here_from_idle_and_from_a_pause(window, runner, qtbot, tmp_path):
    open_wf(window, chain_workflow(), tmp_path)
    c, dbg = runner.controller, runner.debug
    window.scene.select_nodes(["a"])
    assert dbg.session.run_to_action.isEnabled() and not dbg.session.retry_now_action.isEnabled()
    dbg.session.run_to_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.PAUSED and dbg.session.paused_at is not None, timeout=10000)
    assert dbg.session.paused_at["reason"] == "to" and dbg.session.paused_at["node_id"] == "b"
    qtbot.waitUntil(lambda: item(window, "a").run_state == "succeeded" and item(window, "b").paused_here, timeout=3000)
    window.scene.select_nodes(["c"])
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    qtbot.keyClick(window, Qt.Key.Key_F10, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED, timeout=10000)  # c was the last node: nothing left to pause before
    assert record(runner, c.execution_id).main.outputs["c"] == {"total": 102}



def test_a_history_refresh_during_the_rerun_questions_completes(window, runner, qtbot, tmp_path):
    """Re-run of an edited document asks which version, then about the unsaved changes. A
    history refresh that starts while each question is open completes; asked from inside the
    re-run's task (a nested event loop in its step), its wake-up was refused."""
    open_wf(window, chain_workflow(), tmp_path)
    c, dbg = runner.controller, runner.debug
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED, timeout=10000)
    first = c.execution_id
    window.controller.set_config("c", {"values": {"total": "{{ input.x + 500 }}"}})
    answers = {"Re-run": QMessageBox.StandardButton.No, "Unsaved changes": QMessageBox.StandardButton.Discard}
    with refresh_during_each_question(window, runner, answers) as q:
        window.scene.select_nodes(["c"])
        dbg.session.rerun_action.trigger()
        qtbot.waitUntil(lambda: q.settled(2), timeout=10000)
        assert q.refused.seen == []
        qtbot.waitUntil(lambda: c.state == rc.COMPLETED and c.execution_id != first, timeout=10000)
    assert q.asked == ["Re-run", "Unsaved changes"] and q.refreshes_completed()
    assert record(runner, c.execution_id).main.outputs["c"] == {"total": 102}  # the version the run used
