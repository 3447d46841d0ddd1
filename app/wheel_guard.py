"""The mouse wheel scrolls panels; it changes a combo or spin box only once that box has focus.

Qt gives a wheel event to the widget under the pointer, so scrolling a long form
(the inspector) changed every combo and spin box that passed under the pointer:
`on error` went fail → route → continue with no click at all. `WheelGuard.watch(root)`
puts a filter on `root` and every widget below it — also on widgets added later
(a new inspector form, a dock added by another tool) — that hands such a wheel event
on to the parent (the panel scrolls) unless the box has keyboard focus. The boxes get
`StrongFocus`, so the wheel itself never focuses them; a click or Tab does.

The canvas (a QGraphicsView) is left alone: its wheel zooms.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QGraphicsView, QSlider, QWidget

GUARDED = (QAbstractSpinBox, QComboBox, QSlider)


class WheelGuard(QObject):
    """Event filter on a widget tree: value widgets without focus pass the wheel on."""

    def watch(self, root: QWidget) -> None:
        """Guard `root` and everything below it (and whatever is added to it later)."""
        if isinstance(root, QGraphicsView):
            return
        root.installEventFilter(self)  # installing twice keeps one filter
        if isinstance(root, GUARDED):
            root.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
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
