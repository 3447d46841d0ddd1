"""The mouse wheel scrolls panels; it changes a combo or spin box only once that box has focus.

Qt gives a wheel event to the widget under the pointer, so scrolling a long form
(the inspector) changed every combo and spin box that passed under the pointer:
`on error` went fail → route → continue with no click at all. `WheelGuard.watch(root)`
puts a filter on `root` and every widget below it — also on widgets added later
(a new inspector form, a dock added by another tool) — that hands such a wheel event
on to the parent (the panel scrolls) unless the box has keyboard focus. The boxes get
`StrongFocus`, so the wheel itself never focuses them; a click or Tab does.

The canvas (a QGraphicsView) is left alone: its wheel zooms.

A Python event filter costs a call into the interpreter for every event of the widget it
is on (and, while a run's engine thread holds the interpreter lock, a wait for it): on
every widget of the window that was about 900 calls a second during a big run, mostly
paints and timers. So the filter sits only on the boxes and on the plain containers
boxes can be added to. Widgets that never hold boxes and see many events (item views,
scroll and tab bars, labels, buttons, progress bars) are left out with all they contain;
the main window, its docks and status bar are not filtered themselves (their paints and
layout churn are most of the rest), only what they hold: a dock added later is guarded
by `MainWindow.add_panel`, which calls `watch` for it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QDockWidget,
    QGraphicsView,
    QLabel,
    QMainWindow,
    QMenu,
    QMenuBar,
    QProgressBar,
    QScrollBar,
    QSlider,
    QStatusBar,
    QTabBar,
    QWidget,
)

GUARDED = (QAbstractSpinBox, QComboBox, QSlider)
LEFT_ALONE = (QGraphicsView, QAbstractItemView, QScrollBar, QTabBar, QLabel, QAbstractButton, QProgressBar, QMenu, QMenuBar)
NOT_FILTERED = (QMainWindow, QDockWidget, QStatusBar)  # only what they hold is watched


class WheelGuard(QObject):
    """Event filter on a widget tree: value widgets without focus pass the wheel on."""

    def watch(self, root: QWidget) -> None:
        """Guard `root` and everything below it (and boxes added to its containers later)."""
        if isinstance(root, LEFT_ALONE):
            return
        if isinstance(root, GUARDED):
            root.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        if not isinstance(root, NOT_FILTERED):
            root.installEventFilter(self)  # installing twice keeps one filter
        for child in root.children():
            if isinstance(child, QWidget):
                self.watch(child)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.Wheel:
            if isinstance(obj, GUARDED) and not obj.hasFocus():
                event.ignore()  # not taken: Qt offers it to the parent, the panel scrolls
                return True
        elif kind in (QEvent.Type.ChildAdded, QEvent.Type.ChildPolished):
            child = event.child()  # type: ignore[attr-defined]
            if isinstance(child, QWidget):
                self.watch(child)
        return False
