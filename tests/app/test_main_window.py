"""The main window: files, dirty state, dialogs, clipboard, recovery, problems, settings."""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData, QPointF, QRectF, QSizeF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox

from app import settings
from app.document import clipboard
from app.main_window import MainWindow
from app.theme import LIGHT
from engine import fileformat
from engine.model import Connection


def test_open_edit_save_and_reopen_equals(window, demo_file, tmp_path):
    assert window.open_path(demo_file)
    assert window.windowTitle().startswith("demo[*]")
    assert not window.isWindowModified()
    c = window.controller
    a = c.add_node("wait", (900, 0))
    c.connect("mail", "out", a, "in")
    c.set_config_value(a, "seconds", 2)
    c.set_retry("mail", "strict")
    c.add_note((0, 400), "hello")
    c.set_variables({"threshold": 3})
    c.rename("log", "Log the error")
    assert window.isWindowModified()
    target = tmp_path / "out.pe.json"
    assert window.save_to(target)
    assert not window.isWindowModified()
    assert window.windowTitle().startswith("out[*]")
    assert fileformat.load(target) == window.document.workflow
    # reopen in a fresh window: the same model
    other = MainWindow()
    try:
        assert other.open_path(target)
        assert other.document.workflow == window.document.workflow
    finally:
        other.close()
    # undoing back to the saved state clears the marker again
    c.rename("log", "x")
    assert window.isWindowModified()
    window.document.undo_stack.undo()
    assert not window.isWindowModified()
    assert settings.recent_files()[0] == str(target.resolve())


def test_broken_files_show_a_dialog_and_the_app_keeps_going(window, demo_file, tmp_path):
    assert window.open_path(demo_file)
    before = window.document.workflow.clone()
    cases = {
        "garbage.pe.json": ("{ not json", "not valid JSON"),
        "newer.pe.json": (json.dumps({"format": "processengine/9", "id": "x"}), "newer"),
        "badnode.pe.json": (
            json.dumps({"format": "processengine/1", "id": "x", "nodes": [
                {"id": "n1", "type": "http_request", "name": "A", "config": {}, "extra": 1}]}),
            "extra",
        ),
    }
    binary = {
        "picture.png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff", "not valid JSON"),
        "empty.pe.json": (b"", "not valid JSON"),
        "list.pe.json": (b"[1, 2, 3]", "JSON object"),
        "utf16.pe.json": ("{}".encode("utf-16"), "missing 'format'"),
    }
    (tmp_path / "folder.pe.json").mkdir()
    for name, (data, expected) in binary.items():
        (tmp_path / name).write_bytes(data)
        assert not window.open_path(tmp_path / name)
        shown = window.answerer.seen[-1]
        assert shown["title"] == "Cannot open workflow" and name in shown["text"]
        assert expected in shown["informative"], shown
        assert window.document.workflow == before
    assert not window.open_path(tmp_path / "folder.pe.json")
    assert "cannot read file" in window.answerer.seen[-1]["informative"]
    for name, (text, expected) in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        assert not window.open_path(path)
        shown = window.answerer.seen[-1]
        assert shown["title"] == "Cannot open workflow"
        assert name in shown["text"]
        assert expected in shown["informative"], shown
        assert window.document.workflow == before  # the open document is untouched
    assert "node 'n1'" in window.answerer.seen[-1]["informative"]
    assert not window.open_path(tmp_path / "missing.pe.json")
    assert "cannot read file" in window.answerer.seen[-1]["informative"]
    assert window.isVisible()


def test_config_problems_open_and_are_listed(window, tmp_path):
    """A workflow that cannot run yet (bad config, unknown type) still opens for fixing."""
    path = tmp_path / "fixme.pe.json"
    path.write_text(json.dumps({"format": "processengine/1", "id": "x", "nodes": [
        {"id": "n1", "type": "http_request", "name": "A", "config": {"url": "ftp://nope", "retries": 3}},
        {"id": "n2", "type": "teleport", "name": "B"}]}))  # fmt: skip
    assert window.open_path(path)
    assert window.answerer.seen == []
    messages = [(p.node_id, p.field, p.message) for p in window.validator.problems]
    assert any(n == "n1" and f == "config.retries" for n, f, _ in messages)
    assert any(n == "n1" and f == "config.url" for n, f, _ in messages)
    assert any(n == "n2" and "teleport" in m for n, _, m in messages)
    assert "Unknown type" in window.scene.node_item("n2").title
    assert window.problems.tree.topLevelItemCount() == len(messages)


def test_close_with_unsaved_changes_asks(window, tmp_path):
    window.controller.add_node("set", (0, 0))
    window.answerer.answers.append(QMessageBox.StandardButton.Cancel)
    assert not window.close()
    assert window.isVisible()
    assert window.answerer.seen[-1]["title"] == "Unsaved changes"
    # Save on a never-saved document asks for a file name, then closes
    target = tmp_path / "named.pe.json"
    window.answerer.answers.extend([QMessageBox.StandardButton.Save, str(target)])
    assert window.close()
    assert fileformat.load(target) == window.document.workflow


def test_new_and_revert(window, demo_file):
    assert window.open_path(demo_file)
    window.controller.rename("log", "Changed")
    window.answerer.answers.append(QMessageBox.StandardButton.Discard)
    window.actions_by_name["revert"].trigger()
    assert window.document.workflow.node("log").name == "Log error"
    assert not window.isWindowModified()
    window.actions_by_name["new"].trigger()
    assert window.document.workflow.nodes == [] and window.document.path is None
    assert window.scene.node_items() == []


def test_copy_paste_between_windows_and_text(window, demo_file, qtbot):
    assert window.open_path(demo_file)
    wf = window.document.workflow
    window.scene.select_nodes(["start", "get"], ["n1"])
    window.actions_by_name["copy"].trigger()
    mime = QGuiApplication.clipboard().mimeData()
    assert mime.hasFormat(clipboard.MIME_TYPE)
    text = mime.text()
    copied = fileformat.loads(text)  # plain text is a complete, loadable file
    assert [n.id for n in copied.nodes] == ["start", "get"]
    assert copied.connections == [Connection("start", "out", "get", "in")]
    window.actions_by_name["paste"].trigger()
    assert len(wf.nodes) == 7 and len(wf.notes) == 2
    new = wf.nodes[-2:]
    assert [n.name for n in new] == ["Start 2", "Get items 2"]
    assert {n.id for n in new}.isdisjoint({"start", "get"})
    assert wf.connections[-1] == Connection(new[0].id, "out", new[1].id, "in")
    assert new[1].position == (320, 40) and new[1].retry == wf.node("get").retry
    assert sorted(window.scene.selected_node_ids()) == sorted(n.id for n in new)
    window.document.undo_stack.undo()
    assert len(wf.nodes) == 5 and len(wf.notes) == 1
    # another window pastes the same clipboard
    other = MainWindow()
    qtbot.addWidget(other)
    other.actions_by_name["paste"].trigger()
    assert [n.name for n in other.document.workflow.nodes] == ["Start", "Get items"]
    # text copied from an editor (only text/plain) pastes too
    mime = QMimeData()
    mime.setText(fileformat.dumps(copied))
    QGuiApplication.clipboard().setMimeData(mime)
    other.paste()
    assert len(other.document.workflow.nodes) == 4
    other.document.undo_stack.setClean()
    # cut removes, duplicate copies in place
    window.scene.select_nodes(["log"])
    window.actions_by_name["cut"].trigger()
    assert wf.get("log") is None and not any(c.to_node == "log" for c in wf.connections)
    window.scene.select_nodes(["mail"])
    window.actions_by_name["duplicate"].trigger()
    assert wf.nodes[-1].name == "Notify 2" and wf.nodes[-1].config == wf.node("mail").config


def test_paste_of_non_workflow_text_is_refused(window):
    mime = QMimeData()
    mime.setText('{"format": "something/1"}')
    QGuiApplication.clipboard().setMimeData(mime)
    window.paste()
    assert window.answerer.seen[-1]["title"] == "Cannot paste"
    mime = QMimeData()
    mime.setText("hello")
    QGuiApplication.clipboard().setMimeData(mime)
    window.paste()
    assert "no workflow" in window.statusBar().currentMessage()
    assert window.document.workflow.nodes == []


def test_autosave_and_recovery_after_a_crash(window, demo_file, qtbot, ui):
    assert window.open_path(demo_file)
    window.controller.rename("log", "Unsaved work")
    saved = window.autosaver.autosave()
    assert saved is not None and saved.exists()
    edited = window.document.workflow.clone()
    # "crash": the window never closes cleanly; a new session starts and is asked
    session = MainWindow()
    qtbot.addWidget(session)
    answerer = ui.DialogAnswerer(session.dialogs)
    answerer.answers.append(QMessageBox.StandardButton.Yes)
    assert session.offer_recovery()
    assert answerer.seen[-1]["title"] == "Recover unsaved work?"
    assert "automatic copy" in answerer.seen[-1]["informative"]
    assert session.document.workflow == edited
    assert session.document.path == demo_file.resolve()
    assert session.isWindowModified()
    assert not saved.exists()  # taken over by the new session's own autosave
    assert session.autosaver.file.exists()
    answerer.default = QMessageBox.StandardButton.Discard
    assert session.close()
    assert not session.autosaver.file.exists()  # a clean close leaves nothing to recover
    # a clean save removes the first session's recovery file too
    window.autosaver.autosave()
    assert window.autosaver.file.exists()
    window.save()
    assert not window.autosaver.file.exists()


def test_discarding_a_recovery_deletes_it(window, demo_file, qtbot, ui):
    assert window.open_path(demo_file)
    window.controller.rename("log", "Unsaved work")
    saved = window.autosaver.autosave()
    session = MainWindow()
    qtbot.addWidget(session)
    answerer = ui.DialogAnswerer(session.dialogs)
    answerer.answers.append(QMessageBox.StandardButton.Discard)
    assert not session.offer_recovery()
    assert not saved.exists()
    assert session.document.workflow.nodes == []


def test_problems_are_listed_badged_and_navigable(window, demo_file, qtbot):
    assert window.open_path(demo_file)
    assert window.validator.problems == []
    assert "No problems" in window.problems.summary.text()
    window.controller.set_config_value("mail", "smtp_host", None, remove=True)
    qtbot.waitUntil(lambda: bool(window.validator.problems), timeout=2000)
    assert window.problems.tree.topLevelItemCount() >= 1
    item = window.problems.tree.topLevelItem(0)
    assert item.text(0) == "Notify" and "smtp_host" in item.text(1)
    assert window.scene.node_item("mail").problems
    assert "problem" in window.problem_label.text()
    window.scene.clearSelection()
    window.view.centerOn(QPointF(-3000, -3000))
    window.problems.tree.itemActivated.emit(item, 0)
    assert window.scene.selected_node_ids() == ["mail"]
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert visible.contains(window.scene.node_item("mail").sceneBoundingRect().center())
    window.document.undo_stack.undo()
    qtbot.waitUntil(lambda: not window.validator.problems, timeout=2000)
    assert window.scene.node_item("mail").problems == []


def test_theme_minimap_and_layout_persist(window, qtbot):
    window.actions_by_name["dark"].trigger()
    assert QApplication.instance().palette().color(QPalette.ColorRole.Window).lightness() < 80
    # the window keeps QWidget.palette() (its node list is `node_palette`, not `palette`)
    assert window.palette().color(QPalette.ColorRole.Window).lightness() < 80
    assert window.scene.theme.dark
    window.actions_by_name["minimap"].trigger()
    assert not window.view.minimap.isVisible()
    window.resize(640, 480)
    window.save_settings()
    again = MainWindow()
    qtbot.addWidget(again)
    assert again.theme.dark and again.actions_by_name["dark"].isChecked()
    assert not again.actions_by_name["minimap"].isChecked()
    assert again.size().width() == 640
    again.apply_theme(LIGHT)
    assert not again.scene.theme.dark


def test_drop_a_file_on_the_window_opens_it(window, demo_file):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(demo_file))])
    pos = window.rect().center()
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(window, QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    assert window.document.path == demo_file.resolve()
    # onto the canvas as well
    window.new_document()
    vp = window.view.viewport()
    QApplication.sendEvent(vp, QDragEnterEvent(vp.rect().center(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    QApplication.sendEvent(vp, QDropEvent(QPointF(vp.rect().center()), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    assert window.document.path == demo_file.resolve()


def test_a_thousand_node_workflow_loads(window, tmp_path):
    nodes = [{"id": "t", "type": "manual_trigger", "name": "Start", "position": [0, 0], "config": {}}]
    conns = []
    for i in range(999):
        nodes.append({"id": f"n{i}", "type": "set", "name": f"Step {i}", "position": [240 * (i % 40 + 1), 120 * (i // 40)],
                      "config": {"values": {"i": i}}})  # fmt: skip
        conns.append({"from": "t" if i == 0 else f"n{i - 1}", "from_port": "out", "to": f"n{i}", "to_port": "in"})
    path = tmp_path / "big.pe.json"
    path.write_text(json.dumps({"format": "processengine/1", "id": "big", "name": "Big", "nodes": nodes, "connections": conns}))
    assert window.open_path(path)
    assert len(window.scene.node_items()) == 1000
    assert len(window.scene.edge_items()) == 999
    window.view.fit_all()
    assert window.view.zoom < 0.3
    assert not window.view.grab().isNull()


def test_help_dialogs(window):
    window.actions_by_name["shortcuts"].trigger()
    assert window.answerer.seen[-1]["title"] == "Keyboard shortcuts"
    assert "Ctrl+Z" in window.answerer.seen[-1]["text"]
    window.actions_by_name["about"].trigger()
    assert "ProcessEngine Studio" in window.answerer.seen[-1]["text"]


def test_theme_switch_repaints_cached_cards(window, qtbot):
    """Regression: the minimap must not leave stale (light) card pixmaps in the view."""
    from app.theme import DARK

    node_id = window.add_node_at("set", QPointF(0, 0))
    window.view.centerOn(QPointF(100, 30))
    item = window.scene.node_item(node_id)

    def card_pixel() -> str:
        image = window.view.grab().toImage()
        return image.pixelColor(window.view.mapFromScene(item.mapToScene(QPointF(150, 48)))).name()

    qtbot.waitUntil(lambda: card_pixel() == LIGHT.card, timeout=2000)
    window.actions_by_name["dark"].trigger()
    qtbot.waitUntil(lambda: card_pixel() == DARK.card, timeout=2000)  # a stale light pixmap never turns dark


def test_pasting_again_and_again_never_stacks_copies(window, demo_file):
    """Each paste (and duplicate) lands clear of the originals and of the earlier copies."""
    assert window.open_path(demo_file, ask=False)
    window.scene.select_nodes(["get", "many"], ["n1"])
    assert window.copy()
    originals = {tuple(n.position) for n in window.document.workflow.nodes}
    for _ in range(3):
        window.paste()
    window.scene.select_nodes(["get"])
    window.duplicate()
    wf = window.document.workflow
    positions = [tuple(n.position) for n in wf.nodes]
    assert len(wf.nodes) == 5 + 3 * 2 + 1
    assert len(set(positions)) == len(positions)  # no two cards on the same spot
    assert len({tuple(n.position) for n in wf.notes}) == len(wf.notes) == 4
    assert originals <= set(positions)
    pasted = [i for i in window.scene.node_items() if i.node_id not in {"start", "get", "many", "mail", "log"}]
    assert all((i.pos().x(), i.pos().y()) not in originals for i in pasted)


def test_a_new_sticky_note_is_not_hidden_under_a_node(window, demo_file, qtbot):
    """Notes are drawn under the cards: a new one goes below the card it would overlap."""
    assert window.open_path(demo_file, ask=False)
    card = window.scene.node_item("get")
    window.view.centerOn(card.sceneBoundingRect().center())
    window.actions_by_name["add_note"].trigger()
    new = [n for n in window.document.workflow.notes if n.id != "n1"]
    assert len(new) == 1
    item = window.scene.note_item(new[0].id)
    assert not any(item.sceneBoundingRect().intersects(i.sceneBoundingRect()) for i in window.scene.node_items())
    # "Add sticky note here" from the context menu over a card does the same
    spot = window.free_note_spot(window.scene.node_item("many").sceneBoundingRect().center())
    rect = QRectF(spot, QSizeF(200, 120))
    assert not any(rect.intersects(i.sceneBoundingRect()) for i in window.scene.node_items())
