"""A bug in a handler never kills the app: it is logged, shown, and work goes on.

The faults are real: node types registered the way a plugin would, with a broken
icon file or ports that raise; malformed drag data; a failing thread.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QWidget

from app.canvas.view import PALETTE_MIME
from app.crash_guard import ErrorDialog, guarded, install_error_reporter
from engine.model import Node
from engine.nodes import registry
from engine.nodes.base import NodeSpec
from tests.app.canvas.test_view import drop_from_palette


class _BrokenIconSpec(NodeSpec):
    type = "test_broken_icon"
    title = "Broken icon"
    category = "Data"
    description = "A plugin node whose icon file is corrupt (fails when painted)."


class _BrokenPortsSpec(NodeSpec):
    type = "test_broken_ports"
    title = "Broken ports"
    category = "Data"
    description = "A plugin node whose port list raises (fails when added)."

    def base_output_ports(self, node: Node) -> list[str]:
        raise RuntimeError("plugin bug: no ports today")


@pytest.fixture
def faulty_types(tmp_path, monkeypatch):
    bad_svg = tmp_path / "broken.svg"
    bad_svg.write_bytes(b"<svg \xff\xfe\x00 not text")
    icon = _BrokenIconSpec()
    icon.icon = str(tmp_path / "broken")  # resolves to the corrupt file
    monkeypatch.setitem(registry._REGISTRY, icon.type, icon)
    monkeypatch.setitem(registry._REGISTRY, _BrokenPortsSpec.type, _BrokenPortsSpec())
    return icon


@pytest.fixture
def guarded_window(qtbot, ui, faulty_types):
    """A real main window (its palette lists the faulty types) with the app's error reporter."""
    from app.main_window import MainWindow

    w = MainWindow()
    w.answerer = ui.DialogAnswerer(w.dialogs)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    reporter = install_error_reporter(w)
    w.reporter = reporter
    yield w
    reporter.uninstall()
    if reporter.dialog is not None:
        reporter.dialog.close()
    w.answerer.default = None
    w.document.undo_stack.setClean()


def test_a_plugin_with_a_corrupt_icon_file_still_opens_and_paints(guarded_window, qtbot, caplog):
    """The window's palette and quick-add render every type's icon at start-up: a corrupt
    SVG used to stop the window from opening at all."""
    w = guarded_window
    node_id = drop_from_palette(w, "test_broken_icon", QPointF(0, 0))
    w.view.centerOn(QPointF(100, 30))
    w.view.viewport().repaint()
    assert w.document.workflow.get(node_id) is not None
    assert w.reporter.records == []  # handled where it happens: the generic icon is drawn


class _FaultyWidget(QWidget):
    """A real override with a bug in it, guarded the way the canvas guards its overrides."""

    painted = 0

    @guarded
    def paintEvent(self, event) -> None:
        type(self).painted += 1
        raise ZeroDivisionError("bug in a paint override")


def test_a_paint_override_that_raises_is_reported_once_and_counted(guarded_window, qtbot, caplog):
    w = guarded_window
    caplog.set_level(logging.ERROR, logger="app.crash_guard")
    widget = _FaultyWidget(w)
    widget.resize(80, 40)
    widget.show()
    for _ in range(3):
        widget.repaint()
    assert _FaultyWidget.painted >= 3
    (record,) = w.reporter.records  # one distinct error however often it happens
    assert record.count >= 3 and "ZeroDivisionError: bug in a paint override" in record.summary
    assert "paintEvent" in record.summary and "Traceback" in record.details
    assert "unexpected error" in caplog.text and "bug in a paint override" in caplog.text
    button = w.reporter.button
    assert button is not None and button.isVisible() and button.text() == f"⚠ {record.count} errors"
    dialog = w.reporter.dialog
    assert isinstance(dialog, ErrorDialog) and dialog.isVisible() and not dialog.isModal()
    assert "bug in a paint override" in dialog.details.toPlainText()
    dialog.copy_details()
    assert "ZeroDivisionError" in QGuiApplication.clipboard().text()
    # the window is alive and still edits
    node = w.add_node_at("set", QPointF(300, 0))
    assert w.document.workflow.get(node) is not None and w.isVisible()
    dialog.close()
    widget.repaint()  # the same error again: counted, the dialog is not pushed up again
    assert not dialog.isVisible() and button.text() == f"⚠ {record.count} errors"
    button.click()
    assert dialog.isVisible()


def test_a_handler_that_raises_is_reported_and_the_drop_returns(guarded_window, qtbot):
    w = guarded_window
    before = len(w.document.workflow.nodes)
    drop_from_palette(w, "test_broken_ports", QPointF(0, 0))  # raises deep inside the drop handler
    assert any("plugin bug: no ports today" in r.summary for r in w.reporter.records)
    assert w.reporter.dialog is not None and w.reporter.dialog.isVisible()
    assert "Unexpected error" in w.statusBar().currentMessage()
    # the canvas takes the next gesture normally
    assert w.view.interaction is None
    drop_from_palette(w, "set", QPointF(400, 0))
    assert len(w.document.workflow.nodes) >= before + 1
    assert w.isVisible()


def test_errors_on_other_threads_and_in_the_event_loop_are_reported(guarded_window, qtbot):
    w = guarded_window

    def worker() -> None:
        raise ValueError("worker thread bug")

    t = threading.Thread(target=worker, name="bg")
    t.start()
    t.join()
    qtbot.waitUntil(lambda: any("worker thread bug" in r.summary for r in w.reporter.records), timeout=2000)

    loop = asyncio.new_event_loop()
    loop.set_exception_handler(w.reporter.asyncio_handler)

    async def fails() -> None:
        raise KeyError("task nobody awaited")

    task = loop.create_task(fails())
    loop.run_until_complete(asyncio.wait([task]))  # until it failed; `wait` does not retrieve the error
    del task  # never retrieved: asyncio hands it to the loop's handler when collected
    gc.collect()
    loop.close()
    assert any("task nobody awaited" in r.summary for r in w.reporter.records)


def test_malformed_drops_are_refused_without_an_error(guarded_window):
    w = guarded_window
    vp = w.view.viewport()
    before = len(w.document.workflow.nodes)
    for payload in (b"no_such_node_type", b"\xff\xfe garbage \x00", b""):
        mime = QMimeData()
        mime.setData(PALETTE_MIME, payload)
        point = vp.rect().center()
        QApplication.sendEvent(vp, QDragEnterEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
        drop = QDropEvent(QPointF(point), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(vp, drop)
        assert "unknown type" in w.statusBar().currentMessage()
    assert len(w.document.workflow.nodes) == before
    assert w.reporter.records == []  # refused input, not a bug


def test_dropping_files_that_are_not_workflows(guarded_window, tmp_path, demo_file):
    w = guarded_window
    assert w.open_path(demo_file)
    before = w.document.workflow.clone()
    png = tmp_path / "picture.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    folder = tmp_path / "a folder.pe.json"
    folder.mkdir()
    for target in (w, w.view.viewport()):
        for path in (png, folder):
            mime = QMimeData()
            mime.setUrls([QUrl.fromLocalFile(str(path))])
            pos = target.rect().center()
            QApplication.sendEvent(target, QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
            QApplication.sendEvent(target, QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
            shown = w.answerer.seen[-1]
            assert shown["title"] == "Cannot open workflow" and path.name in shown["text"]
            assert w.document.workflow == before
    # a link from a web page is not a local file: not accepted at all
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/flow.pe.json")])
    enter = QDragEnterEvent(w.rect().center(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(w, enter)
    assert not enter.isAccepted()
    assert w.reporter.records == [] and w.isVisible()


def test_unraisable_errors_and_qt_messages_are_logged(qtbot, caplog):
    """What never reaches an excepthook: an exception in `__del__` and Qt's own warnings."""
    from PySide6.QtCore import qWarning

    reporter = install_error_reporter()
    try:

        class Leaky:
            def __del__(self):
                raise ValueError("raised in a finaliser")

        with caplog.at_level(logging.WARNING, logger="app"):
            leaky = Leaky()
            del leaky
            gc.collect()
            qWarning("a warning from Qt itself")
        messages = [(r.name, r.getMessage()) for r in caplog.records]
        finaliser = [r for r in caplog.records if r.exc_info and "raised in a finaliser" in str(r.exc_info[1])]
        assert finaliser and finaliser[0].name == "app.crash_guard", messages
        assert ("app.qt", "a warning from Qt itself") in messages
    finally:
        reporter.uninstall()
