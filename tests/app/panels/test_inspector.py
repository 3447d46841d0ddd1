"""Editing nodes in the inspector: every change is an undoable command; the form follows undo."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest


@pytest.fixture
def demo(window, demo_file):
    assert window.open_path(demo_file)
    return window


def _select(window, node_id: str):
    window.scene.select_nodes([node_id])
    form = window.inspector.node_form
    assert form is not None and form.node_id == node_id
    return form


def _type(edit, text: str) -> None:
    edit.setFocus()
    edit.selectAll()
    QTest.keyClick(edit, Qt.Key.Key_Delete)
    QTest.keyClicks(edit, text)


def test_nothing_selected_shows_the_workflow(demo):
    form = demo.inspector.form
    assert type(form).__name__ == "WorkflowForm"
    assert form.name.text() == "Fetch and notify"
    assert dict(form.variables.rows()) == {"base_url": "http://127.0.0.1:8080", "threshold": "2"}
    # edit a variable: typed JSON becomes a number
    form.variables.table.item(1, 1).setText("5")
    assert demo.document.workflow.variables == {"base_url": "http://127.0.0.1:8080", "threshold": 5}
    demo.document.undo_stack.undo()
    assert demo.document.workflow.variables["threshold"] == 2
    assert dict(form.variables.rows())["threshold"] == "2"


def test_edit_text_field_merges_typing_and_undoes(demo):
    wf = demo.document.workflow
    original = wf.clone()
    form = _select(demo, "get")
    edit = form.rows["url"].editor.edit
    assert edit.text() == "{{ vars.base_url }}/items"
    count = demo.document.undo_stack.count()
    _type(edit, "http://127.0.0.1:9/x")
    assert wf.node("get").config["url"] == "http://127.0.0.1:9/x"
    assert demo.document.undo_stack.count() == count + 1  # one step for the whole burst
    demo.document.undo_stack.undo()
    assert wf == original
    assert edit.text() == "{{ vars.base_url }}/items"  # the form follows undo
    demo.document.undo_stack.redo()
    assert edit.text() == "http://127.0.0.1:9/x"


def test_enum_number_bool_and_key_value_fields(demo):
    wf = demo.document.workflow
    original = wf.clone()
    form = _select(demo, "get")
    combo = form.rows["method"].editor.combo
    combo.setCurrentIndex(combo.findData("POST"))
    assert wf.node("get").config["method"] == "POST"
    combo.setCurrentIndex(combo.findData("GET"))
    assert "method" not in wf.node("get").config  # the default is left out of the file
    # number: valid text commits a number, junk shows an inline error and commits nothing
    timeout = form.rows["timeout_s"].editor
    _type(timeout.edit, "2.5")
    assert wf.node("get").config["timeout_s"] == 2.5
    QTest.keyClicks(timeout.edit, "x")  # "2.5x"
    assert wf.node("get").config["timeout_s"] == 2.5
    assert "not a number" in form.rows["timeout_s"].problem.text()
    _type(timeout.edit, "{{ vars.threshold * 2 }}")
    assert wf.node("get").config["timeout_s"] == "{{ vars.threshold * 2 }}"
    # key/value: add a header row
    headers = form.rows["headers"].editor
    headers.add_row()
    headers.table.item(0, 0).setText("Accept")
    headers.table.item(0, 1).setText("application/json")
    assert wf.node("get").config["headers"] == {"Accept": "application/json"}
    headers.table.selectRow(0)
    headers.remove_selected()
    assert "headers" not in wf.node("get").config
    # bool on another node
    form = _select(demo, "log")
    box = form.rows["keep_input"].editor.box
    box.setChecked(True)
    assert wf.node("log").config["keep_input"] is True
    stack = demo.document.undo_stack
    while stack.canUndo() and stack.index() > 0:
        stack.undo()
    assert wf == original


def test_list_and_json_fields(demo):
    wf = demo.document.workflow
    form = _select(demo, "mail")
    to = form.rows["to"].editor
    assert to.edit.text() == "ops@example.com"
    _type(to.edit, "a@example.com, b@example.com")
    assert wf.node("mail").config["to"] == ["a@example.com", "b@example.com"]
    form = _select(demo, "log")
    values = form.rows["values"].editor
    values.table.item(0, 1).setText('{"code": 1}')
    assert wf.node("log").config["values"] == {"error": {"code": 1}}


def test_rename_and_refused_duplicate_name(demo):
    wf = demo.document.workflow
    form = _select(demo, "get")
    form.name.setText("Fetch")
    form.name.editingFinished.emit()
    assert wf.node("get").name == "Fetch"
    assert demo.scene.node_item("get").name == "Fetch"
    form.name.setText("Start")
    form.name.editingFinished.emit()
    assert wf.node("get").name == "Fetch"
    assert "already called" in form.name_problem.text()
    assert form.name.text() == "Fetch"


def test_on_error_and_retry_policy(demo):
    wf = demo.document.workflow
    form = _select(demo, "get")
    assert "up to 4 attempts" in form.retry.preview.text()
    assert "0.5 s → 1 s → 2 s" in form.retry.preview.text().replace("500 ms", "0.5 s")
    form.retry.preset.setCurrentIndex(form.retry.preset.findData("strict"))
    assert wf.node("get").retry == "strict"
    assert "up to 5 attempts" in form.retry.preview.text()
    assert "429" in form.retry.preview.text()
    form.retry.preset.setCurrentIndex(form.retry.preset.findData("custom"))
    form.retry.attempts.setValue(6)
    assert wf.node("get").retry["max_attempts"] == 6
    assert "up to 6 attempts" in form.retry.preview.text()
    form.retry.preset.setCurrentIndex(0)  # back to the type's default
    assert wf.node("get").retry is None
    # on_error: leaving `route` drops the error port and its connection, undo brings both back
    form.on_error.setCurrentIndex(form.on_error.findData("continue"))
    assert wf.node("get").on_error == "continue"
    assert list(demo.scene.node_item("get").outputs) == ["out"]
    assert not any(c.from_port == "error" for c in wf.connections)
    demo.document.undo_stack.undo()
    assert form.on_error.currentData() == "route"
    assert any(c.from_port == "error" for c in wf.connections)


def test_expression_highlight_preview_and_errors(demo):
    form = _select(demo, "get")
    field = form.rows["url"].editor.field
    assert field.preview.isVisible() or field.preview.text()
    assert field.preview.text() == '= "http://127.0.0.1:8080/items"'
    _type(field.edit, "{{ vars.nope }}")
    assert field.preview.error is not None and "nope" in field.preview.error
    _type(field.edit, "{{ vars.base_url + }}")
    assert field.preview.error is None  # a syntax error is listed once, under the field, by the validator
    # the highlighter marks the expression span
    _type(field.edit, "x {{ vars.base_url }} y")
    block = field.edit.document().firstBlock()
    formats = block.layout().formats()
    assert any(f.start == 2 and f.length == len("{{ vars.base_url }}") for f in formats)
    # the if node previews against the sample input
    form = _select(demo, "many")
    cond = form.rows["condition"].editor.field
    assert "input has no key" in (cond.preview.error or "")
    form.sample.setPlainText('{"body": {"items": [1, 2, 3]}}')
    assert cond.preview.text() == "= true"
    form.sample.setPlainText("{not json")
    assert "not valid JSON" in form.sample_problem.text()


def test_completion_offers_names_inside_braces(demo):
    form = _select(demo, "many")
    edit = form.rows["condition"].editor.edit
    _type(edit, "{{ va")
    assert edit.completer.popup().isVisible()
    assert edit.completer.currentCompletion() == "vars"
    edit.insert_completion("vars.threshold")
    assert edit.text() == "{{ vars.threshold"
    _type(edit, "plain text")
    assert edit.current_prefix() is None
    _type(edit, '{{ nodes["Ge')
    assert edit.completer.currentCompletion() == 'nodes["Get items"]'


def test_problems_show_next_to_their_fields(demo):
    form = _select(demo, "mail")
    _type(form.rows["smtp_host"].editor.edit, "")
    assert "smtp_host" not in demo.document.workflow.node("mail").config
    demo.validator.run_now()
    assert "required" in form.rows["smtp_host"].problem.text().lower()


def test_sample_provider_feeds_last_run_data(demo):
    demo.inspector.set_sample_provider(lambda node_id: {"input": {"body": {"items": list(range(10))}}, "nodes": {}})
    form = _select(demo, "many")
    assert form.rows["condition"].editor.field.preview.text() == "= true"


def test_another_node_opens_at_the_top_of_the_inspector(window, demo_file, qtbot):
    assert window.open_path(demo_file, ask=False)
    _select(window, "get")
    bar = window.inspector.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    bar.setValue(bar.maximum())
    _select(window, "mail")
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    assert bar.value() == 0
    window.inspector.form.name.setText("Notify")
    bar.setValue(bar.maximum() // 2)
    kept = bar.value()
    window.inspector.show_selection(["mail"])  # the same node again: where the user was
    assert bar.value() == kept


def test_an_unclosed_brace_error_is_shown_once(window, demo_file, qtbot):
    """`{{` without `}}`: one line under the field (the validator's, with its position), no
    second copy in the preview; an error only evaluation finds still shows in the preview."""
    assert window.open_path(demo_file, ask=False)
    form = _select(window, "get")
    row = form.rows["url"]
    field = row.editor.field
    field.edit.setPlainText("{{ vars.base_url /items")
    qtbot.waitUntil(lambda: row.problem.isVisible(), timeout=5000)
    shown = [w.text() for w in (row.problem, field.preview) if w.isVisible() and w.text()]
    assert sum(t.count("unterminated '{{'") for t in shown) == 1, shown
    field.edit.setPlainText("{{ vars.missing.x }}")
    qtbot.waitUntil(lambda: not row.problem.isVisible(), timeout=5000)
    assert field.preview.isVisible() and field.preview.error
    window.inspector.ensureWidgetVisible(row)


def test_selecting_a_node_with_an_object_body_holding_expressions_changes_nothing(window, tmp_path) -> None:
    from engine import fileformat
    from tests.app.runner.helpers import workflow

    body = {"n": "{{ input.body.n }}"}
    wf = workflow([{"id": "start", "type": "manual_trigger"},
                   {"id": "post", "type": "http_request", "config": {"method": "POST", "url": "http://127.0.0.1:9/b", "json": body}}],
                  [("start", "out", "post")])
    path = tmp_path / "body.pe.json"
    fileformat.save(wf, path)
    assert window.open_path(path, ask=False)
    _select(window, "post")
    assert window.document.workflow.node("post").config["json"] == body
    assert window.document.undo_stack.count() == 0 and not window.document.is_dirty
