"""A label whose changing text does not re-lay out the whole window.

A QLabel's new text asks its parent for a new layout, and that request climbs
to the main window: every dock, the status bar and the canvas are laid out
again. Counters that change many times a second while a run streams ("1,234 /
5,000 lines", "Running · 40 %") made that the GUI thread's most frequent
piece of work. A widget with a fixed size does not pass the request on, so
this label keeps a fixed size: its text's width rounded up to `STEP_PX`.
Digits share one width in the usual fonts, so a counting label keeps its
size; a longer or shorter text that crosses a step resizes it once.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QLabel, QWidget

STEP_PX = 24


class SteadyLabel(QLabel):
    """QLabel for one line of often-changing plain text."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fixed: tuple[int, int] | None = None
        self._text = text
        super().setText(text)
        self._fit()

    def setText(self, text: str) -> None:
        if text == self._text:
            return  # not even a call into Qt: these are set once per frame
        self._text = text
        super().setText(text)
        self._fit()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._fixed = None
            self._fit()

    def _fit(self) -> None:
        hint = super().sizeHint()
        width = -(-hint.width() // STEP_PX) * STEP_PX if self._text else 0
        size = (width, hint.height())
        if size != self._fixed:
            self._fixed = size
            self.setFixedSize(*size)
