"""The node data inspector: JSON tree, table for lists of objects, attempts, copy as JSON."""

from __future__ import annotations

import json

from PySide6.QtGui import QGuiApplication

from app.panels.data_inspector import DataInspector, JsonView, is_table

ROWS = [{"id": 1, "name": "a"}, {"id": 2, "name": "b", "extra": {"x": [1, 2]}}]


def test_list_of_objects_shows_as_table_and_tree(qtbot):
    view = JsonView()
    qtbot.addWidget(view)
    view.set_value(ROWS)
    assert view.mode == "table"
    assert [view.table.horizontalHeaderItem(c).text() for c in range(view.table.columnCount())] == ["id", "name", "extra"]
    assert view.table.rowCount() == 2
    assert view.table.item(1, 2).text() == '{"x": [1, 2]}'
    assert view.table.item(0, 2) is None  # a missing key stays empty
    view.show_mode("tree")
    assert view.mode == "tree"
    root = view.tree.topLevelItem(0)
    assert root.text(2) == "array · 2 items" and root.childCount() == 2
    second = root.child(1)
    assert second.text(0) == "[1]" and second.child(2).text(0) == "extra"
    assert second.child(2).child(0).text(2) == "array · 2 items"


def test_scalars_and_objects_show_as_tree_only(qtbot):
    view = JsonView()
    qtbot.addWidget(view)
    view.set_value({"status": 200, "body": {"ok": True}, "text": "hi"})
    assert view.mode == "tree" and not view.table_button.isEnabled()
    root = view.tree.topLevelItem(0)
    assert [root.child(i).text(0) for i in range(root.childCount())] == ["status", "body", "text"]
    assert root.child(0).text(1) == "200" and root.child(2).text(1) == '"hi"'
    assert not is_table([]) and not is_table([1, {"a": 1}]) and is_table([{}])
    view.set_value(None, present=False)
    assert view.mode == "empty" and not view.copy_button.isEnabled()
    view.set_value(None)  # a real null output is a value
    assert view.mode == "tree" and view.tree.topLevelItem(0).text(1) == "null"


def test_copy_as_json_round_trips(qtbot):
    view = JsonView()
    qtbot.addWidget(view)
    view.set_value(ROWS)
    view.copy_button.click()
    assert json.loads(QGuiApplication.clipboard().text()) == ROWS


def test_attempts_with_error_and_traceback(qtbot):
    panel = DataInspector()
    qtbot.addWidget(panel)
    data = {
        "node_id": "get",
        "status": "succeeded",
        "input": {},
        "output": {"status": 200, "body": ROWS},
        "has_output": True,
        "attempts": [
            {"attempt": 1, "status": "failed", "started_at": 1_700_000_000.0, "duration_ms": 12.5, "error": {"message": "HTTP 503", "traceback": "Traceback...\nNodeError: HTTP 503"}},
            {"attempt": 2, "status": "succeeded", "started_at": 1_700_000_001.0, "duration_ms": 8.0, "error": None},
        ],
    }
    panel.show_data("Get items", data)
    assert "Get items" in panel.title.text() and "2 attempts" in panel.title.text()
    assert panel.attempts.rowCount() == 2
    assert [panel.attempts.item(0, c).text() for c in (0, 1, 3, 4)] == ["1", "failed", "12.5 ms", "HTTP 503"]
    panel.attempts.selectRow(0)
    assert "NodeError: HTTP 503" in panel.traceback.toPlainText()
    panel.attempts.selectRow(1)
    assert panel.traceback.toPlainText() == ""
    assert panel.output_view.value["body"] == ROWS and panel.input_view.value == {}
    panel.copy_all.click()
    assert json.loads(QGuiApplication.clipboard().text())["attempts"][0]["error"]["message"] == "HTTP 503"
    panel.clear()
    assert panel.data is None and panel.attempts.rowCount() == 0 and not panel.copy_all.isEnabled()
