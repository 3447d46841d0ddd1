"""Hide the stray dock tab bars Qt 6.11 leaves behind in a main window.

When a second group of docks is tabified (Inspector + Run data after Problems + History),
QMainWindowLayout makes two tab bars for that group. It lays out and updates one; the other
keeps its first geometry and stays visible, so a copy of the group's tabs floats over some
other dock (reproduced with a bare QMainWindow and four QDockWidgets on PySide6 6.11.3).
The live bar always touches the dock it switches; the stray one does not, so after every
layout change each visible bar that touches none of its docks is hidden.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRect, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow, QTabBar

__all__ = ["DockTabGuard", "stray_tab_bars"]

_TOUCH_PX = 3  # a bar sits right above or below its dock; allow a frame's width


def _touches(bar: QRect, dock: QRect) -> bool:
    """Whether the bar borders the dock: edge to edge vertically, overlapping horizontally."""
    if bar.right() < dock.left() or bar.left() > dock.right():
        return False
    above = abs(bar.bottom() + 1 - dock.top()) <= _TOUCH_PX
    below = abs(dock.bottom() + 1 - bar.top()) <= _TOUCH_PX
    return above or below


def stray_tab_bars(window: QMainWindow) -> list[QTabBar]:
    """The window's visible dock tab bars that border none of the docks they name."""
    docks = [d for d in window.findChildren(QDockWidget) if not d.isFloating() and d.isVisible()]
    stray = []
    for bar in window.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly):
        if not bar.isVisible() or bar.count() == 0:
            continue
        titles = {bar.tabText(i) for i in range(bar.count())}
        named = [d for d in docks if d.windowTitle() in titles]
        if named and not any(_touches(bar.geometry(), d.geometry()) for d in named):
            stray.append(bar)
    return stray


class DockTabGuard(QObject):
    """Checks the window's dock tab bars once the layout has settled after a change."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self._window = window
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.hide_strays)
        window.installEventFilter(self)

    @property
    def pending(self) -> bool:
        """A check is due once the event loop is idle."""
        return self._timer.isActive()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._window and event.type() in (QEvent.Type.Show, QEvent.Type.LayoutRequest, QEvent.Type.Resize):
            self._timer.start()
        return False

    def hide_strays(self) -> None:
        for bar in stray_tab_bars(self._window):
            bar.hide()
