"""An overview of the whole workflow in the canvas corner; click or drag to move there.

It paints a cached picture of the workflow, redrawn at most a few times a
second after the scene changes, so a big workflow costs nothing per frame.
The picture is drawn from the items' geometry (blocks and lines), not with
`QGraphicsScene.render`: rendering cached items to a second device would use
up their "needs repaint" state and leave stale pixmaps in the main view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QLineF, QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from app.theme import RUN_STATE_COLORS

if TYPE_CHECKING:
    from app.canvas.view import CanvasView

SIZE = QSize(200, 130)
REFRESH_MS = 250


class Minimap(QWidget):
    def __init__(self, view: CanvasView) -> None:
        super().__init__(view)
        self.view = view
        self.setFixedSize(SIZE)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._pixmap: QPixmap | None = None
        self._source = QRectF()  # scene rect shown
        self._target = QRectF()  # where it lands in the widget
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._scene = None
        self.attach()

    def attach(self) -> None:
        """Follow the view's current scene (call again when the view gets another scene)."""
        scene = self.view.scene()
        if scene is self._scene:
            return
        if self._scene is not None:
            self._scene.changed.disconnect(self.schedule)
        self._scene = scene
        if scene is not None:
            scene.changed.connect(self.schedule)
        self.schedule()

    def schedule(self, *_args: object) -> None:
        if self.isVisible() and not self._timer.isActive():
            self._timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        """Re-render the scene into the cached pixmap."""
        scene = self.view.scene()
        if scene is None or not self.isVisible():
            return
        content = scene.content_rect()
        if content.isNull():
            content = QRectF(-200, -150, 400, 300)
        self._source = content.adjusted(-60, -60, 60, 60)
        dpr = self.devicePixelRatioF()
        pixmap = QPixmap(round(self.width() * dpr), round(self.height() * dpr))
        pixmap.setDevicePixelRatio(dpr)
        pixmap.fill(Qt.GlobalColor.transparent)
        inner = QRectF(6, 6, self.width() - 12, self.height() - 12)
        scale = min(inner.width() / self._source.width(), inner.height() / self._source.height())
        w, h = self._source.width() * scale, self._source.height() * scale
        self._target = QRectF(inner.center().x() - w / 2, inner.center().y() - h / 2, w, h)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.translate(self._target.topLeft())
        painter.scale(scale, scale)
        painter.translate(-self._source.topLeft())
        self._draw_overview(painter, scene, scale)
        painter.end()
        self._pixmap = pixmap
        self.update()

    @staticmethod
    def _draw_overview(painter: QPainter, scene, scale: float) -> None:
        theme = scene.theme
        pen = QPen(QColor(theme.edge), 1.2 / scale)
        pen.setCosmetic(False)
        for note in (scene.note_item(n.id) for n in (scene.workflow.notes if scene.workflow else [])):
            if note is not None:
                painter.fillRect(note.sceneBoundingRect(), QColor(theme.note))
        painter.setPen(pen)
        lines = []
        for edge in scene.edge_items():
            path = edge.path()
            lines.append(QLineF(path.pointAtPercent(0), path.pointAtPercent(1)))
        painter.drawLines(lines)
        painter.setPen(Qt.PenStyle.NoPen)
        for item in scene.node_items():
            color = QColor(RUN_STATE_COLORS[item.run_state]) if item.run_state else QColor(item.color)
            painter.setBrush(color)
            painter.drawRoundedRect(item.mapRectToScene(item.card_rect()), 12, 12)

    def _to_scene(self, p: QPointF) -> QPointF:
        if self._target.isEmpty():
            return QPointF()
        fx = (p.x() - self._target.x()) / self._target.width()
        fy = (p.y() - self._target.y()) / self._target.height()
        return QPointF(self._source.x() + fx * self._source.width(), self._source.y() + fy * self._source.height())

    def _to_widget(self, r: QRectF) -> QRectF:
        if self._source.isEmpty():
            return QRectF()
        sx = self._target.width() / self._source.width()
        sy = self._target.height() / self._source.height()
        return QRectF(
            self._target.x() + (r.x() - self._source.x()) * sx,
            self._target.y() + (r.y() - self._source.y()) * sy,
            r.width() * sx,
            r.height() * sy,
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        theme = self.view.scene().theme
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        bg = QColor(theme.base)
        bg.setAlphaF(0.94)
        painter.setPen(QPen(QColor(theme.border), 1))
        painter.setBrush(bg)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)
        if self._pixmap is not None:
            painter.drawPixmap(0, 0, self._pixmap)
        visible = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        frame = self._to_widget(visible).intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1))
        accent = QColor(theme.accent)
        painter.setPen(QPen(accent, 1.5))
        accent.setAlphaF(0.10)
        painter.setBrush(accent)
        painter.drawRoundedRect(frame, 3, 3)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.view.centerOn(self._to_scene(event.position()))
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.view.centerOn(self._to_scene(event.position()))
            self.update()
