"""A sticky note: coloured card with editable text and a resize grip."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFocusEvent, QFont, QKeyEvent, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsObject,
    QGraphicsTextItem,
    QStyle,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.canvas.nodeitem import _theme_of
from app.theme import Theme
from engine.model import Note

GRIP = 14.0
MIN_SIZE = (80.0, 50.0)


class _NoteText(QGraphicsTextItem):
    """Editable only after a double-click; leaving it reports the text once."""

    def __init__(self, note_item: NoteItem) -> None:
        super().__init__(note_item)
        self.note_item = note_item
        self.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self.note_item.finish_editing()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.clearFocus()
            return
        super().keyPressEvent(event)


class NoteItem(QGraphicsObject):
    text_edited = Signal(str, str)  # note id, new text

    def __init__(self, note: Note) -> None:
        super().__init__()
        self.note_id = note.id
        self._size = (float(note.size[0]), float(note.size[1]))
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(-1)
        self._text = _NoteText(self)
        font = QFont()
        font.setPixelSize(13)
        self._text.setFont(font)
        self._text.setPos(8, 6)
        self.set_text(note.text)
        self.set_size(note.size)
        self.setPos(QPointF(*note.position))

    @property
    def editing(self) -> bool:
        return bool(self._text.textInteractionFlags() & Qt.TextInteractionFlag.TextEditorInteraction)

    @property
    def text_item(self) -> QGraphicsTextItem:
        return self._text

    def text(self) -> str:
        return self._text.toPlainText()

    def set_text(self, text: str) -> None:
        if text != self._text.toPlainText():
            self._text.setPlainText(text)

    @property
    def size(self) -> tuple[float, float]:
        return self._size

    def set_size(self, size: tuple[float, float]) -> None:
        self.prepareGeometryChange()
        self._size = (max(MIN_SIZE[0], float(size[0])), max(MIN_SIZE[1], float(size[1])))
        self._text.setTextWidth(self._size[0] - 16)
        self.update()

    def apply_theme(self, theme: Theme) -> None:
        self._text.setDefaultTextColor(QColor(theme.note_text))
        self.update()

    def start_editing(self) -> None:
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextEditorInteraction)
        self._text.setFocus(Qt.FocusReason.MouseFocusReason)
        cursor = self._text.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        self._text.setTextCursor(cursor)

    def finish_editing(self) -> None:
        if not self.editing:
            return
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        cursor = self._text.textCursor()
        cursor.clearSelection()
        self._text.setTextCursor(cursor)
        self.text_edited.emit(self.note_id, self._text.toPlainText())

    def in_grip(self, scene_pos: QPointF) -> bool:
        p = self.mapFromScene(scene_pos)
        w, h = self._size
        return p.x() >= w - GRIP and p.y() >= h - GRIP

    def boundingRect(self) -> QRectF:
        w, h = self._size
        return QRectF(-4, -4, w + 8, h + 8)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(QRectF(0, 0, *self._size))
        return path

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        theme = _theme_of(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self._size
        rect = QRectF(0, 0, w, h)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(QPen(QColor(theme.selection if selected else theme.note_border), 2 if selected else 1))
        painter.setBrush(QColor(theme.note))
        painter.drawRoundedRect(rect, 6, 6)
        # resize grip: three short diagonals
        painter.setPen(QPen(QColor(theme.note_border).darker(130), 1.2))
        for d in (4, 8, 12):
            painter.drawLine(QPointF(w - d, h - 2), QPointF(w - 2, h - d))
