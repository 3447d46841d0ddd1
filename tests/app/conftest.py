"""Qt tests run offscreen with their own settings and data directories."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any Qt import

import pytest
from PySide6.QtCore import QSettings


@pytest.fixture(autouse=True)
def _collect_garbage_between_tests(qapp):
    """Free each test's Qt objects at its end, on the GUI thread, with no engine thread running.

    Left to chance, a full collection of one test's widgets happens in a later test,
    possibly while that test's engine thread is busy; doing it here keeps object
    destruction at a known, quiet point.
    """
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtGui import QGuiApplication

    yield
    # the clipboard owns the last QMimeData set on it; freed at interpreter exit it
    # crashes the process (segfault after the test summary), so free it now
    QGuiApplication.clipboard().clear()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    from app.runner import gc_pacer

    gc_pacer.release()  # a run's end leaves the heap frozen until the studio is idle
    gc.collect()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """Each test gets empty QSettings and an empty per-user data directory."""
    settings_dir = tmp_path / "settings"
    settings_dir.mkdir()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(settings_dir))
    monkeypatch.setenv("PROCESSENGINE_DATA_DIR", str(tmp_path / "data"))
    yield settings_dir


# -- shared helpers -------------------------------------------------------------------------
from pathlib import Path  # noqa: E402

from PySide6.QtCore import QPoint, QPointF, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QFileDialog, QMessageBox  # noqa: E402

from tests.demo import DEMO, write_demo  # noqa: E402


@pytest.fixture
def demo_file(tmp_path) -> Path:
    return write_demo(tmp_path / "demo.pe.json")


class DialogAnswerer:
    """Answers the window's real dialogs: queued answers first, then `default`."""

    def __init__(self, dialogs) -> None:
        self.seen: list[dict[str, str]] = []
        self.answers: list[object] = []
        self.default: object = None
        dialogs.about_to_show.connect(self._on_dialog)

    def _on_dialog(self, dialog) -> None:
        answer = self.answers.pop(0) if self.answers else self.default
        if isinstance(dialog, QMessageBox):
            self.seen.append({"title": dialog.windowTitle(), "text": dialog.text(), "informative": dialog.informativeText()})
        else:
            self.seen.append({"title": dialog.windowTitle(), "text": "", "informative": ""})

        def respond() -> None:
            if isinstance(dialog, QMessageBox):
                button = dialog.button(answer) if answer is not None else None
                if button is not None:
                    button.click()
                else:
                    dialog.reject()
            elif isinstance(dialog, QFileDialog):
                if answer:
                    dialog.selectFile(str(answer))
                    dialog.accept()
                else:
                    dialog.reject()

        QTimer.singleShot(0, respond)


@pytest.fixture
def window(qtbot):
    from app.main_window import MainWindow

    w = MainWindow()
    answerer = DialogAnswerer(w.dialogs)
    w.answerer = answerer
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    yield w
    answerer.default = QMessageBox.StandardButton.Discard  # closing a dirty test document


def vp_point(view, scene_pos: QPointF) -> QPoint:
    return view.mapFromScene(scene_pos)


def mouse_drag(view, start: QPointF, end: QPointF, *, button=Qt.MouseButton.LeftButton,
               modifiers=Qt.KeyboardModifier.NoModifier, steps: int = 4) -> None:  # fmt: skip
    """Press at `start`, move in steps, release at `end` (scene coordinates) on the view's viewport."""
    vp = view.viewport()
    p1, p2 = vp_point(view, start), vp_point(view, end)
    QTest.mousePress(vp, button, modifiers, p1)
    for i in range(1, steps + 1):
        p = p1 + (p2 - p1) * (i / steps)
        QTest.mouseMove(vp, p)
    QTest.mouseRelease(vp, button, modifiers, p2)


def wheel_at(top, pos: QPoint, delta: int = -120):
    """A mouse-wheel notch over `pos` of `top`, delivered as Qt delivers a real one: to the
    widget under the pointer, then to its parents while nobody takes it. Returns the taker."""
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    target = top.childAt(pos) or top
    while target is not None:
        local = QPointF(target.mapFrom(top, pos) if target is not top else pos)
        event = QWheelEvent(local, QPointF(top.mapToGlobal(pos)), QPoint(), QPoint(0, delta), Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)  # fmt: skip
        if QApplication.sendEvent(target, event) and event.isAccepted():
            return target
        if target is top or target.isWindow():
            return None
        target = target.parentWidget()
    return None


def port_pos(scene, node_id: str, port: str, output: bool) -> QPointF:
    item = scene.node_item(node_id)
    return item.mapToScene((item.outputs if output else item.inputs)[port].pos())


@pytest.fixture
def ui():
    """Mouse helpers for tests in sub-folders (conftest is not importable by name)."""
    from types import SimpleNamespace

    return SimpleNamespace(mouse_drag=mouse_drag, port_pos=port_pos, vp_point=vp_point, wheel_at=wheel_at, DEMO=DEMO, DialogAnswerer=DialogAnswerer)
