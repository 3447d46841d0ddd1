"""SteadyLabel: a counter in the status bar changes without re-laying out the window."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QWidget

from app.steady_label import STEP_PX, SteadyLabel


class _LayoutRequests(QObject):
    """Counts the layout requests a widget receives."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def _window(qtbot, label: QLabel) -> QMainWindow:
    win = QMainWindow()
    qtbot.addWidget(win)
    win.setCentralWidget(QWidget())
    win.statusBar().addPermanentWidget(label)
    win.resize(600, 200)
    win.show()
    qtbot.waitExposed(win)
    return win


def _count(qtbot, win: QMainWindow, label: QLabel, texts: list[str]) -> int:
    """How many layout requests reach the window while `label` shows `texts[1:]` in turn."""
    label.setText(texts[0])
    for _ in range(3):  # a shown window settles its layout over a couple of turns: let it
        QApplication.processEvents()
    requests = _LayoutRequests(win)
    for text in texts[1:]:
        label.setText(text)
        QApplication.processEvents()  # deliver what the new text posted
    win.removeEventFilter(requests)
    return requests.count


def test_a_counting_label_leaves_the_window_layout_alone(qtbot):
    counting = [f"{n:,} / 5,000 lines" for n in range(1100, 1400, 7)]
    plain = QLabel("1,000 / 5,000 lines")
    plain_win = _window(qtbot, plain)
    assert _count(qtbot, plain_win, plain, counting) >= len(counting) // 2  # what a plain label costs

    steady = SteadyLabel("1,000 / 5,000 lines")
    win = _window(qtbot, steady)
    assert _count(qtbot, win, steady, counting) == 0
    assert steady.text() == counting[-1]


def test_a_longer_text_widens_the_label_and_shows_all_of_it(qtbot, tmp_path):
    label = SteadyLabel("Running")
    win = _window(qtbot, label)
    short = label.width()
    label.setText("Running · 4,321 completed, 0 failed, 0 skipped of 5,000 (86%)")
    qtbot.waitUntil(lambda: label.width() > short)
    left = label.x()
    qtbot.waitUntil(lambda: label.x() < left)  # the status bar made room for it
    assert label.x() + label.width() <= win.statusBar().width()
    assert label.width() % STEP_PX == 0
    assert label.width() >= label.fontMetrics().horizontalAdvance(label.text())
    win.grab().save(str(tmp_path / "steady_label.png"))
    label.setText("")
    assert label.width() == 0  # nothing to show takes no room in the status bar


def test_a_bigger_font_refits_the_label(qtbot):
    label = SteadyLabel("elapsed 12.3 s")
    win = _window(qtbot, label)
    before = label.width()
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 2)
    label.setFont(font)
    assert label.width() > before and win.isVisible()
    assert label.width() >= label.fontMetrics().horizontalAdvance(label.text())
