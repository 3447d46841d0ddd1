"""Time travel and run comparison in the app: the Steps dock scrubs a past run on the
canvas and in Run data; History's Compare opens the diff of two runs and tints the canvas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from app.runner import controller as rc
from engine import fileformat
from tests.app.runner.helpers import http_retry_workflow
from tests.servers import HttpTestServer, Reply


def _states(window: Any) -> dict[str, str | None]:
    return {i.node_id: i.run_state for i in window.scene.node_items()}


def _run(runner: Any, qtbot: Any, n: int) -> None:
    c = runner.controller
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED and len(runner.history.runs) == n, timeout=10000)
    qtbot.waitUntil(lambda: all(r["status"] == "completed" for r in runner.history.runs), timeout=5000)


def test_scrubbing_a_run_shows_each_step_on_the_canvas_and_in_run_data(
    window: Any, runner: Any, http_server: HttpTestServer, qtbot: Any, tmp_path: Path
) -> None:
    http_server.fail_first("/h", 1, status=503, then=Reply(json={"items": [1]}))
    path = tmp_path / "wf.pe.json"
    fileformat.save(http_retry_workflow(http_server.url_for("/h")), path)
    assert window.open_path(path, ask=False)
    _run(runner, qtbot, 1)
    steps = runner.time_travel.panel
    qtbot.waitUntil(lambda: steps.count == 5, timeout=5000)  # start, get (2 attempts), check, no
    assert steps.current == 4 and "Step 5 of 5" in steps.title.text()
    final = _states(window)
    # back to the first failed attempt of `get`: it waits for its retry, nothing after it ran
    steps.list.setFocus()
    for _ in range(3):
        qtbot.keyClick(steps.list, Qt.Key.Key_Left)
    assert steps.current == 1
    qtbot.waitUntil(lambda: window.scene.node_item("get").run_state == "retrying", timeout=5000)
    assert window.scene.node_item("get").run_badge == "retry 2 to come"
    shown = _states(window)
    assert shown["start"] == "succeeded" and shown["check"] == "pending" and shown["no"] == "pending"
    runner.docks["steps"].raise_()
    window.grab().save(str(tmp_path / "window_at_step_1.png"))
    # Run data shows `get` as it was then: one failed attempt, no output yet
    window.scene.select_nodes(["get"])
    qtbot.waitUntil(lambda: runner.data.data is not None and runner.data.data["node_id"] == "get", timeout=5000)
    qtbot.waitUntil(lambda: [a["status"] for a in runner.data.data["attempts"]] == ["failed"], timeout=5000)
    assert not runner.data.data["has_output"]
    # to the end again: the run as it ended
    qtbot.keyClick(steps, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: _states(window) == final, timeout=5000)
    qtbot.waitUntil(lambda: [a["status"] for a in runner.data.data["attempts"]] == ["failed", "succeeded"], timeout=5000)
    steps.grab().save(str(tmp_path / "steps.png"))


def test_compare_two_runs_from_history(
    window: Any, runner: Any, http_server: HttpTestServer, qtbot: Any, tmp_path: Path
) -> None:
    http_server.route("/h", Reply(json={"items": [1]}), Reply(json={"items": [1, 2, 3]}))
    path = tmp_path / "wf.pe.json"
    fileformat.save(http_retry_workflow(http_server.url_for("/h")), path)
    assert window.open_path(path, ask=False)
    _run(runner, qtbot, 1)
    _run(runner, qtbot, 2)
    history = runner.history
    assert not history.compare_button.isEnabled()
    history.select_executions([r["execution_id"] for r in history.runs])
    assert history.compare_button.isEnabled()
    history.compare_button.click()
    qtbot.waitUntil(lambda: len(runner.time_travel.dialogs) == 1, timeout=5000)
    dialog = runner.time_travel.dialogs[0]
    assert "First divergence at step 2: Get items produced a different output" in dialog.summary.text()
    assert dialog.selected_node() == "get"
    assert dialog.left_view.value["body"] == {"items": [1]} and dialog.right_view.value["body"] == {"items": [1, 2, 3]}
    paths = {dialog.changes.item(r, 0).text() for r in range(dialog.changes.rowCount())}
    assert {"body.items[1]", "body.items[2]"} <= paths
    assert window.scene.selected_node_ids() == ["get"]
    states = _states(window)
    assert states["get"] == "retrying" and window.scene.node_item("get").run_badge == "≠ output"
    assert states["start"] == "skipped"  # the same in both runs
    dialog.grab().save(str(tmp_path / "compare.png"))
    dialog.close()
    qtbot.waitUntil(lambda: window.scene.node_item("start").run_state != "skipped", timeout=5000)
