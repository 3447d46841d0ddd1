"""The code node's editor: highlighting, line numbers, completion, undo, and Test."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app import trust_dialog
from app.panels.inspector.code_editor import CodeFieldEditor, completion_words, field_paths

ORDERS = [{"id": "A-1", "customer": {"name": "acme", "country": "DE"}, "total": 120.5},
          {"id": "A-2", "customer": {"name": "globex", "country": "FR"}, "total": 80}]

DOC = {
    "format": "processengine/1",
    "id": "wf-code",
    "name": "Code demo",
    "variables": {"rate": 2},
    "nodes": [
        {"id": "start", "type": "manual_trigger", "name": "Start", "position": [0, 0], "config": {}},
        {"id": "js", "type": "code", "name": "Shape", "position": [280, 0], "config": {"code": (
            "// totals per order\nconst out = [];\nfor (const o of input) {\n"
            "  out.push({ id: o.id, total: o.total * vars.rate, name: 'x' });\n}\nreturn out;"
        )}},
        {"id": "py", "type": "code", "name": "Calc", "position": [560, 0],
         "config": {"language": "python", "code": "# sum\nreturn sum(o['total'] for o in input)"}},
    ],
    "connections": [
        {"from": "start", "from_port": "out", "to": "js", "to_port": "in"},
        {"from": "js", "from_port": "out", "to": "py", "to_port": "in"},
    ],
}


@pytest.fixture
def code_window(window, tmp_path):
    path = tmp_path / "code.pe.json"
    path.write_text(json.dumps(DOC), encoding="utf-8")
    assert window.open_path(path)
    return window


def _editor(window, node_id: str, sample=ORDERS) -> CodeFieldEditor:
    window.scene.select_nodes([node_id])
    form = window.inspector.node_form
    form.sample.set_text(json.dumps(sample))
    form._sample_changed()
    editor = form.rows["code"].editor
    assert isinstance(editor, CodeFieldEditor)
    return editor


def _formats_at(edit, line: int, column: int) -> tuple[int, bool, str] | None:
    """(weight, italic, colour) of the highlight at a place, None if unformatted."""
    block = edit.document().findBlockByNumber(line - 1)
    for fr in block.layout().formats():
        if fr.start <= column < fr.start + fr.length:
            f = fr.format
            return f.fontWeight(), f.fontItalic(), f.foreground().color().name()
    return None


def test_highlighting_and_line_numbers(code_window, tmp_path):
    editor = _editor(code_window, "js")
    edit = editor.edit
    assert edit.language == "javascript"
    kw = _formats_at(edit, 2, 0)  # "const"
    comment = _formats_at(edit, 1, 3)
    string = _formats_at(edit, 4, 58)  # 'x'
    name = _formats_at(edit, 3, 16)  # input
    assert kw is not None and kw[0] > 400
    assert comment is not None and comment[1]
    assert string is not None and name is not None
    assert len({kw[2], comment[2], string[2], name[2]}) == 4
    assert edit.viewportMargins().left() == edit.gutter_width() > 0
    QApplication.processEvents()  # lay the new form out before the picture
    code_window.inspector.grab().save(str(tmp_path / "code_editor.png"))


def test_language_switch_follows_the_model_and_undo(code_window):
    editor = _editor(code_window, "js")
    form = code_window.inspector.node_form
    form.rows["language"].editor.combo.setCurrentIndex(form.rows["language"].editor.combo.findData("python"))
    assert code_window.document.workflow.node("js").config["language"] == "python"
    assert editor.edit.language == "python"
    code_window.document.undo_stack.undo()
    assert editor.edit.language == "javascript"


def test_typing_edits_the_config_and_undoes(code_window):
    editor = _editor(code_window, "js")
    edit = editor.edit
    edit.setFocus()
    edit.selectAll()
    QTest.keyClick(edit, Qt.Key.Key_Delete)
    QTest.keyClicks(edit, "if (input) {")
    QTest.keyClick(edit, Qt.Key.Key_Return)  # indents the next line
    QTest.keyClicks(edit, "return 1;")
    assert code_window.document.workflow.node("js").config["code"] == "if (input) {\n  return 1;"
    while code_window.document.undo_stack.canUndo():
        code_window.document.undo_stack.undo()
    assert edit.toPlainText() == DOC["nodes"][1]["config"]["code"]


def test_completion_offers_input_fields(code_window):
    editor = _editor(code_window, "js")
    words = editor.edit.completions()
    for word in ("input[0].customer.country", "$json.customer.name", "$('Calc').item.json", "vars.rate", "$input.all()"):
        assert word in words
    py = _editor(code_window, "py")
    assert 'input[0]["customer"]["name"]' in py.edit.completions()
    assert 'nodes["Shape"]' in py.edit.completions()
    # typing shows the popup filtered by what was typed; choosing inserts the field
    edit = editor.edit
    edit.setFocus()
    edit.moveCursor(edit.textCursor().MoveOperation.End)
    QTest.keyClick(edit, Qt.Key.Key_Return)
    QTest.keyClicks(edit, "$json.cust")
    assert edit.completer.popup().isVisible()
    assert edit.completer.completionPrefix() == "$json.cust"
    edit.insert_completion("$json.customer.country")
    assert edit.toPlainText().endswith("\n$json.customer.country")


def test_field_paths_styles():
    sample = {"a": {"b c": 1, "d": [{"e": 2}]}}
    assert field_paths(sample, "input", "javascript") == [
        "input.a", 'input.a["b c"]', "input.a.d", "input.a.d[0].e"]
    assert field_paths(sample, "input", "python")[:2] == ['input["a"]', 'input["a"]["b c"]']
    assert "console.log" in completion_words("javascript", {"input": None}, [])


def test_test_button_shows_the_output(code_window, qtbot):
    editor = _editor(code_window, "js")
    editor.test_button.click()
    qtbot.waitUntil(lambda: editor.last_run is not None, timeout=10000)
    assert editor.last_run.error is None
    assert editor.last_run.value == [
        {"id": "A-1", "total": 241.0, "name": "x"}, {"id": "A-2", "total": 160, "name": "x"}]
    assert editor.result.toPlainText().startswith("✓ output:")
    assert editor.source_label.text() == "ran on the sample input"
    assert editor.edit.error_line is None


def test_test_button_marks_the_error_line(code_window, qtbot, tmp_path):
    editor = _editor(code_window, "js", sample=[{"id": "A-1"}, None])
    editor.test_button.click()
    qtbot.waitUntil(lambda: editor.last_run is not None, timeout=10000)
    assert editor.last_run.error == "line 4: TypeError: Cannot read properties of null (reading 'id')"
    assert editor.edit.error_line == 4
    assert editor.result.toPlainText().startswith("✗ line 4: TypeError")
    code_window.inspector.grab().save(str(tmp_path / "code_error.png"))
    QTest.keyClicks(editor.edit, " ")  # editing clears the mark
    assert editor.edit.error_line is None


def test_test_of_python_asks_for_trust(code_window, qtbot, monkeypatch):
    editor = _editor(code_window, "py")
    answers = [False, True]
    asked: list[str] = []

    def hook(dialog):
        asked.append(dialog.windowTitle())
        QTimer.singleShot(0, dialog.trust_button.click if answers.pop(0) else dialog.cancel_button.click)

    monkeypatch.setattr(trust_dialog, "on_dialog", [hook])
    editor.test_button.click()  # refused: nothing runs
    assert asked == ["Trust this workflow?"] and editor.last_run is None
    assert "not trusted" in editor.result.toPlainText()
    editor.test_button.click()
    qtbot.waitUntil(lambda: editor.last_run is not None, timeout=15000)
    assert editor.last_run.value == 200.5 and editor.last_run.error is None
    assert len(asked) == 2


def test_test_runs_on_the_last_runs_input(code_window, qtbot):
    last = {"input": [{"id": "R-9", "total": 5}], "nodes": {"Start": {}}}
    code_window.inspector.set_sample_provider(lambda node_id: last if node_id == "js" else None)
    editor = _editor(code_window, "js")
    assert "input[0].total" in editor.edit.completions()  # completion follows the last run too
    editor.test_button.click()
    qtbot.waitUntil(lambda: editor.last_run is not None, timeout=10000)
    assert editor.last_run.value == [{"id": "R-9", "total": 10, "name": "x"}]
    assert editor.source_label.text() == "ran on the last run's input"


def test_command_arguments_with_commas_survive_the_form(window, tmp_path):
    doc = {**DOC, "nodes": [DOC["nodes"][0], {
        "id": "cmd", "type": "execute_command", "name": "Run", "position": [280, 0],
        "config": {"command": ["sh", "-c", "echo a, b"]}}], "connections": []}
    path = tmp_path / "cmd.pe.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert window.open_path(path)
    window.scene.select_nodes(["cmd"])
    edit = window.inspector.node_form.rows["command"].editor.edit
    assert json.loads(edit.text()) == ["sh", "-c", "echo a, b"]
    edit.setFocus()
    edit.selectAll()
    QTest.keyClick(edit, Qt.Key.Key_Delete)
    QTest.keyClicks(edit, '["printf", "%s,%s", "x"]')
    assert window.document.workflow.node("cmd").config["command"] == ["printf", "%s,%s", "x"]
