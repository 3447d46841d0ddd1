"""File → Import n8n workflow…, dropping an n8n export, the summary dialog and its links,
placeholders on the canvas and in the inspector, and a cycle's back-edge."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QLabel, QPlainTextEdit

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "engine" / "n8n" / "corpus"
WORKFLOWS = ROOT / "tests" / "engine" / "n8n" / "workflows"
WATCHDOG = CORPUS / "enescingoz__disk-space-watchdog.json"


def test_import_from_the_file_menu_shows_the_summary_with_links(window, qtbot) -> None:
    window.answerer.answers = [WATCHDOG]
    window.actions_by_name["import_n8n"].trigger()
    qtbot.waitUntil(lambda: window.import_summary is not None and window.import_summary.isVisible())
    dialog = window.import_summary
    wf = window.document.workflow
    assert len(wf.nodes) == 6 and window.document.path is None
    assert [i.text(0) for i in dialog.entries("Unsupported")] == ["Check Disk Usage (SSH)", "Send Telegram Alert"]
    assert "n8n-nodes-base.ssh v1" in dialog.entries("Unsupported")[0].text(1)
    assert len(dialog.entries("Mapped")) == 4 and len(dialog.entries("Expressions translated")) == 4
    assert "2 unsupported" in dialog.header.text()
    # a click on an entry selects its node on the canvas
    entry = dialog.entries("Unsupported")[1]
    dialog.tree.itemClicked.emit(entry, 0)
    telegram = next(n for n in wf.nodes if n.name == "Send Telegram Alert")
    assert window.scene.selected_node_ids() == [telegram.id]
    # the placeholder looks different on the canvas and its settings are read-only
    item = window.scene.node_item(telegram.id)
    assert item.placeholder == "n8n-nodes-base.telegram" and item.title == "unsupported: telegram"
    qtbot.waitUntil(lambda: window.inspector.node_form is not None and window.inspector.node_form.node_id == telegram.id)
    view = window.inspector.node_form.findChild(QPlainTextEdit, "placeholderSettings")
    assert view is not None and view.isReadOnly() and '"chatId"' in view.toPlainText()
    assert window.inspector.node_form.rows == {}
    on_error = next(w for w in window.inspector.node_form.findChildren(QLabel) if w.text() == "on error")
    qtbot.waitUntil(lambda: view.geometry().bottom() < on_error.geometry().top())  # laid out, nothing overlaps
    # validation names the placeholders
    problems = window.validator.run_now()
    assert sum("unsupported node" in p.message for p in problems) == 2
    window.grab().save("/tmp/n8n_import_window.png")
    dialog.grab().save("/tmp/n8n_import_dialog.png")


def test_dropping_an_n8n_export_imports_it(window, qtbot) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(WORKFLOWS / "poll_until_done.json"))])
    pos = window.rect().center()
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(window, QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    qtbot.waitUntil(lambda: window.import_summary is not None)
    wf = window.document.workflow
    assert wf.name == "Poll until done" and len(wf.nodes) == 7
    # the polling loop's way back is drawn as a back-edge; the others are not
    back = [e for e in window.scene.edge_items() if e.back_edge]
    names = {n.id: n.name for n in wf.nodes}
    assert [(names[e.conn.from_node], e.conn.from_port, names[e.conn.to_node]) for e in back] == [("Done?", "false", "Wait a moment")]
    assert back[0].path().boundingRect().bottom() > window.scene.node_item(back[0].conn.to_node).sceneBoundingRect().bottom()
    window.view.fit_all()
    window.grab().save("/tmp/n8n_poll_window.png")


def test_a_file_that_is_not_an_export_is_reported(window, tmp_path) -> None:
    bad = tmp_path / "list.json"
    bad.write_text("[1, 2]")
    from app.dialogs_import import import_n8n

    assert import_n8n(window, bad) is None
    assert window.answerer.seen[-1]["title"] == "Cannot open workflow"


def test_max_node_visits_is_a_workflow_setting_with_undo(window, qtbot, tmp_path) -> None:
    window.inspector.show_selection([])
    form = window.inspector.form
    form.max_visits.setValue(25)
    form.max_visits.editingFinished.emit()
    wf = window.document.workflow
    assert wf.max_node_visits == 25
    window.document.undo_stack.undo()
    assert wf.max_node_visits == 1000
    qtbot.waitUntil(lambda: window.inspector.form.max_visits.value() == 1000)
    window.document.undo_stack.redo()
    path = tmp_path / "saved.pe.json"
    assert window.save_to(path)
    assert '"max_node_visits": 25' in path.read_text()


def test_opening_an_n8n_export_imports_it(window, qtbot) -> None:
    assert window.open_path(WATCHDOG, ask=False)
    assert window.document.path is None and len(window.document.workflow.nodes) == 6
    assert window.import_summary is not None and window.import_summary.isVisible()


def test_the_summary_saves_the_imported_workflow(window, qtbot, tmp_path) -> None:
    from app.dialogs_import import import_n8n

    dialog = import_n8n(window, WATCHDOG)
    target = tmp_path / "watchdog.pe.json"
    window.answerer.answers = [target]
    dialog.save_button.click()
    qtbot.waitUntil(lambda: window.document.path is not None)
    assert window.document.path == target and '"type": "unsupported"' in target.read_text()

