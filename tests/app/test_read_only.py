"""`MainWindow.set_read_only`: while a past run is shown no gesture may change the document.

Every gesture the editor offers is tried for real (mouse, keys, actions, drops, the
context menu, the inspector, the clipboard) and the undo stack must not grow.
"""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu

from app.canvas.view import PALETTE_MIME
from app.document import clipboard
from app.main_window import EDIT_ACTIONS, MainWindow
from engine.model import Connection


@pytest.fixture
def viewing(window, demo_file):
    """The demo workflow open with one undoable edit done (so Undo would have work), read-only."""
    assert window.open_path(demo_file)
    window.controller.set_config_value("many", "condition", "{{ true }}")
    window.view.zoom_reset()
    window.view.centerOn(QPointF(420, 120))
    window.scene.select_nodes(["get"])
    window.copy()  # the clipboard holds nodes: Paste would have work too
    window.set_read_only(True)
    window.answerer.default = None
    return window


def _unchanged(window, before, count) -> None:
    assert window.document.undo_stack.count() == count
    assert window.document.undo_stack.index() == count
    assert window.document.workflow == before


def test_no_gesture_pushes_an_edit_while_read_only(viewing: MainWindow, ui: Any) -> None:
    w = viewing
    before, count = w.document.workflow.clone(), w.document.undo_stack.count()
    assert count == 1 and w.read_only
    for gesture in (_edit_actions, _keyboard, _mouse_drags, _double_clicks, _palette_drop,
                    _context_menu, _inspector, _direct_calls, _still_allowed):  # fmt: skip
        gesture(w, ui)
        _unchanged(w, before, count)


def _edit_actions(w: MainWindow, ui: Any) -> None:
    """Every edit action is off, also after the selection changes (which updates actions)."""
    w.scene.select_nodes(["get", "many"])
    for name in EDIT_ACTIONS:
        assert not w.actions_by_name[name].isEnabled(), name
        w.actions_by_name[name].trigger()
    assert w.actions_by_name["copy"].isEnabled() and w.actions_by_name["select_all"].isEnabled()


def _keyboard(w: MainWindow, ui: Any) -> None:
    """Delete, undo, redo, paste, cut, duplicate, disable, quick-add (Tab), nudge (arrows)."""
    view = w.view
    view.setFocus()
    for keys in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace, Qt.Key.Key_Tab, Qt.Key.Key_Left, Qt.Key.Key_Down):
        QTest.keyClick(view, keys)
    for seq in (QKeySequence.StandardKey.Undo, QKeySequence.StandardKey.Redo, QKeySequence.StandardKey.Paste,
                QKeySequence.StandardKey.Cut):  # fmt: skip
        combo = QKeySequence(seq)[0]
        QTest.keyClick(view, combo.key(), combo.keyboardModifiers())
    QTest.keyClick(view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(view, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert not w.quick_add.isVisible()


def _mouse_drags(w: MainWindow, ui: Any) -> None:
    """Drag a card, drag port to port, drag a link onto empty canvas, resize a note."""
    wf, view, scene = w.document.workflow, w.view, w.scene
    get_item = scene.node_item("get")
    grab = get_item.mapToScene(QPointF(100, 20))
    ui.mouse_drag(view, grab, grab + QPointF(120, 80))
    assert get_item.pos() == QPointF(*wf.node("get").position)
    ui.mouse_drag(view, ui.port_pos(scene, "many", "true", True), ui.port_pos(scene, "log", "in", False))
    ui.mouse_drag(view, ui.port_pos(scene, "many", "true", True), QPointF(900, 420))
    assert not w.quick_add.isVisible()
    note = scene.note_item("n1")
    nw, nh = note.size
    grip = note.mapToScene(QPointF(nw - 4, nh - 4))
    ui.mouse_drag(view, grip, grip + QPointF(90, 50))
    assert note.size == (nw, nh)


def _double_clicks(w: MainWindow, ui: Any) -> None:
    """A note does not start editing, empty canvas offers no quick-add."""
    view, vp = w.view, w.view.viewport()
    note = w.scene.note_item("n1")
    QTest.mouseDClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view.mapFromScene(note.mapToScene(QPointF(40, 40))))
    assert not note.editing
    QTest.keyClicks(vp, "typed into the note")
    QTest.mouseDClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view.mapFromScene(QPointF(1400, 900)))
    assert not w.quick_add.isVisible()


def _palette_drop(w: MainWindow, ui: Any) -> None:
    """A palette drop is refused (the palette itself is disabled too)."""
    vp = w.view.viewport()
    assert not w.node_palette.isEnabled()
    mime = w.node_palette.tree.mimeData([w.node_palette.item_for("set")])
    point = w.view.mapFromScene(QPointF(600, 400))
    enter = QDragEnterEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, enter)
    assert not enter.isAccepted()
    QApplication.sendEvent(vp, QDropEvent(QPointF(point), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    raw = QMimeData()
    raw.setData(PALETTE_MIME, b"set")
    QApplication.sendEvent(vp, QDropEvent(QPointF(point), Qt.DropAction.CopyAction, raw, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    assert "Read-only" in w.statusBar().currentMessage()


def _context_menu(w: MainWindow, ui: Any) -> None:
    """The context menu's own entries are off."""
    w.show_context_menu(QPointF(700, 500), w.view.viewport().mapToGlobal(QPoint(10, 10)))
    menu = next(m for m in w.findChildren(QMenu) if m.isVisible())
    entries = {a.text(): a for a in menu.actions() if a.text()}
    assert not entries["Add node here…"].isEnabled() and not entries["Add sticky note here"].isEnabled()
    entries["Add sticky note here"].trigger()
    menu.close()


def _inspector(w: MainWindow, ui: Any) -> None:
    """The inspector shows the node but does not edit."""
    w.scene.select_nodes(["get"])
    form = w.inspector.node_form
    assert form is not None and not form.isEnabled() and w.inspector.isEnabled()
    form.name.setText("Renamed")
    form.name.editingFinished.emit()


def _direct_calls(w: MainWindow, ui: Any) -> None:
    """Calls that bypass the UI are refused by the controller itself."""
    QGuiApplication.clipboard().setMimeData(clipboard.to_mime(w.controller.copy_text(["get"])))
    w.paste()
    w.controller.add_node("set", (900.0, 900.0))
    w.controller.connect("many", "true", "log", "in")
    w.controller.delete(["get"])
    w.controller.rename("get", "Other")
    w.controller.set_disabled(["get", "many"], True)
    w.controller.move({"get": ((280.0, 0.0), (500.0, 500.0))})
    w.controller.add_node_linked("set", (700.0, 0.0), "many", "true", True)
    w.add_note_at_center()
    assert "read-only" in w.statusBar().currentMessage()


def _still_allowed(w: MainWindow, ui: Any) -> None:
    """Selecting, rubber band, copying and zooming still work."""
    w.scene.clearSelection()
    ui.mouse_drag(w.view, QPointF(-80, -80), QPointF(640, 90))
    assert set(w.scene.selected_node_ids()) >= {"start", "get", "many"}
    assert w.copy()
    w.view.zoom_in()


def test_back_to_editing_allows_every_gesture_again(viewing, ui):
    w = viewing
    wf = w.document.workflow
    w.set_read_only(False)
    assert not w.read_only and w.node_palette.isEnabled() and w.actions_by_name["undo"].isEnabled()
    count = w.document.undo_stack.count()
    w.scene.select_nodes(["get"])
    assert w.inspector.node_form.isEnabled()
    ui.mouse_drag(w.view, ui.port_pos(w.scene, "many", "true", True), ui.port_pos(w.scene, "log", "in", False))
    assert Connection("many", "true", "log", "in") in wf.connections
    grab = w.scene.node_item("get").mapToScene(QPointF(100, 20))
    ui.mouse_drag(w.view, grab, grab + QPointF(120, 80))
    assert wf.node("get").position != (280, 0)
    assert w.document.undo_stack.count() == count + 2
