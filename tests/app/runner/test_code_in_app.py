"""A code node in the whole window: console lines in the Log dock; Test on the last run's input."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.panels.inspector.code_editor import CodeFieldEditor
from app.runner import controller as rc
from engine import fileformat
from tests.app.runner.helpers import workflow


def test_console_lines_reach_the_log_dock_and_test_uses_the_last_input(window, runner, qtbot, tmp_path):
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger", "name": "Start"},
            {"id": "data", "type": "set", "name": "Data", "config": {"values": {"items": [3, 4]}}},
            {"id": "sum", "type": "code", "name": "Sum", "config": {"code": (
                "console.log('summing', input.items.length, 'items');\n"
                "console.warn('careful');\n"
                "return input.items.reduce((a, b) => a + b, 0);"
            )}},
        ],
        [("start", "out", "data"), ("data", "out", "sum")],
    )
    path = tmp_path / "sum.pe.json"
    fileformat.save(wf, path)
    assert window.open_path(path, ask=False)
    qtbot.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: runner.controller.state == rc.COMPLETED, timeout=15000)
    lines = [(ln.node_id, ln.level, ln.message) for ln in runner.logs.model.lines if "console" in ln.message]
    assert lines == [("sum", "INFO", "console.log: summing 2 items"), ("sum", "WARNING", "console.warn: careful")]

    window.scene.select_nodes(["sum"])
    editor = window.inspector.node_form.rows["code"].editor
    assert isinstance(editor, CodeFieldEditor)
    qtbot.waitUntil(lambda: "input.items" in editor.edit.completions(), timeout=5000)
    editor.test_button.click()
    qtbot.waitUntil(lambda: editor.last_run is not None, timeout=10000)
    assert editor.last_run.value == 7
    assert editor.source_label.text() == "ran on the last run's input"
    assert editor.last_run.logs == ["console.log: summing 2 items", "console.warn: careful"]
    window.grab().save(str(tmp_path / "window_code.png"))
