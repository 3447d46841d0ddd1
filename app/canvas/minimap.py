"""An overview of the whole workflow in the canvas corner; click or drag to move there.

It must cost next to nothing on a 5,000-node canvas while a run streams
events, so it never follows the scene's per-repaint `changed` signal:

- the layout (node blocks, notes, every edge as one cached path) is rebuilt only
  when the model changed (`WorkflowScene.content_changed`);
- the picture is a pixmap, re-coloured when run states changed
  (`WorkflowScene.run_states_changed`) from the cached layout; on a big canvas
  (plain rects, no antialiasing) only the blocks whose colour changed are painted
  over the last picture, not the whole picture again;
- both go through one single-shot timer, so bursts coalesce, and the timer's
  interval grows with the last rebuild's cost (at most ~1/`COST_FACTOR` of the GUI
  thread's time); nothing is rebuilt while the minimap is hidden;
- the viewport frame is drawn live on top of the pixmap in `paintEvent`.

The picture is drawn from the items' geometry (blocks and lines), not with
`QGraphicsScene.render`: rendering cached items to a second device would use
up their "needs repaint" state and leave stale pixmaps in the main view.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import (
    QColor,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
    QShowEvent,
)
from PySide6.QtWidgets import QWidget

from app.canvas.nodeitem import HEADER, WIDTH, NodeItem
from app.crash_guard import guarded
from app.theme import RUN_STATE_COLORS

if TYPE_CHECKING:
    from app.canvas.scene import WorkflowScene
    from app.canvas.view import CanvasView

log = logging.getLogger(__name__)

SIZE = QSize(200, 130)
REFRESH_MS = 120  # the shortest wait between two rebuilds
MAX_WAIT_MS = 1000  # the longest, however slow a rebuild was
COST_FACTOR = 10  # wait at least this many times the last rebuild's cost
ROUNDED_LIMIT = 400  # up to this many nodes get rounded blocks; beyond, plain rects in one call


def _color_of(item: NodeItem) -> str:
    """A card's block colour: its run state's, else its node type's."""
    state = item.run_state
    return RUN_STATE_COLORS[state] if state else item.color.name()


class Minimap(QWidget):
    def __init__(self, view: CanvasView) -> None:
        super().__init__(view)
        self.view = view
        self.setFixedSize(SIZE)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._pixmap: QPixmap | None = None
        self._source = QRectF()  # scene rect shown
        self._target = QRectF()  # where it lands in the widget
        self._scale = 1.0  # scene -> widget, as the picture was drawn
        self._nodes: list[tuple[QRectF, NodeItem]] = []  # (scene rect, card) from the last layout
        self._painted: list[str] = []  # the colour each of `_nodes` has in the picture
        self._index: dict[NodeItem, int] = {}  # card -> its place in `_nodes`
        self._notes: list[QRectF] = []
        self._edges = QPainterPath()
        self._layout_dirty = True
        self._colors_dirty = True
        self._last_cost_ms = 0.0
        self.rebuilds = 0  # how many pictures were drawn (tests and benchmarks read it)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._rebuild)
        self._scene: WorkflowScene | None = None
        self.attach()

    def attach(self) -> None:
        """Follow the view's current scene (call again when the view gets another scene)."""
        scene = self.view.scene()
        if scene is self._scene:
            return
        if self._scene is not None:
            self._scene.content_changed.disconnect(self.schedule_layout)
            self._scene.run_states_changed.disconnect(self.schedule_colors)
        self._scene = scene
        if scene is not None:
            scene.content_changed.connect(self.schedule_layout)
            scene.run_states_changed.connect(self.schedule_colors)
        self.schedule_layout()

    # -- scheduling ----------------------------------------------------------------
    def schedule_layout(self) -> None:
        """The model changed: blocks, edges or notes moved, came or went."""
        self._layout_dirty = True
        self._schedule()

    def schedule_colors(self) -> None:
        """Run states changed: the same blocks in other colours."""
        self._colors_dirty = True
        self._schedule()

    def schedule(self, *_args: object) -> None:
        """Anything may have changed (kept for callers of the old API)."""
        self.schedule_layout()

    def _schedule(self) -> None:
        if not self.isVisible() or self._timer.isActive():
            return  # hidden: showEvent rebuilds; pending: this change rides along
        wait = max(REFRESH_MS, min(MAX_WAIT_MS, round(self._last_cost_ms * COST_FACTOR)))
        self._timer.start(wait)

    @property
    def pending(self) -> bool:
        """A rebuild is waiting for its timer."""
        return self._timer.isActive()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the whole picture now (theme switch, resize, shown again)."""
        self._layout_dirty = True
        self._rebuild()

    # -- building the picture -------------------------------------------------------------
    def _rebuild(self) -> None:
        self._timer.stop()
        scene = self.view.scene()
        if scene is None or not self.isVisible():
            return
        t0 = time.perf_counter()
        touched = scene.run_states_seen()  # the colours read below are the newest; signal again on the next change
        if self._layout_dirty:
            self._layout(scene)
        if self._layout_dirty or not self._recolour(touched):
            self._paint_pixmap(scene)
        self._layout_dirty = self._colors_dirty = False
        self._last_cost_ms = (time.perf_counter() - t0) * 1000
        self.rebuilds += 1
        self.update()

    def _layout(self, scene: WorkflowScene) -> None:
        """Scene rects of every node and note, and all edges as one path (straight lines
        between the cards' port sides: at this scale a curve is not worth its cost)."""
        nodes: list[tuple[QRectF, NodeItem]] = []
        by_item: dict[object, QRectF] = {}
        left = top = float("inf")
        right = bottom = float("-inf")
        for item in scene.node_items():
            p = item.pos()
            x, y = p.x(), p.y()
            rect = QRectF(x, y, WIDTH, item.height)
            nodes.append((rect, item))
            by_item[item] = rect
            left, top = min(left, x), min(top, y)
            right, bottom = max(right, x + WIDTH), max(bottom, y + item.height)
        notes = [note.sceneBoundingRect() for note in scene.note_items()]
        for r in notes:
            left, top = min(left, r.left()), min(top, r.top())
            right, bottom = max(right, r.right()), max(bottom, r.bottom())
        edges = QPainterPath()
        for edge in scene.edge_items():
            a, b = by_item.get(edge.source), by_item.get(edge.target)
            if a is not None and b is not None:
                edges.moveTo(a.right(), a.top() + HEADER / 2)
                edges.lineTo(b.left(), b.top() + HEADER / 2)
        content = QRectF(left, top, right - left, bottom - top) if nodes or notes else QRectF(-200, -150, 400, 300)
        self._nodes, self._notes, self._edges = nodes, notes, edges
        self._index = {item: i for i, (_rect, item) in enumerate(nodes)}
        self._source = content.adjusted(-60, -60, 60, 60)

    def _paint_pixmap(self, scene: WorkflowScene) -> None:
        dpr = self.devicePixelRatioF()
        pixmap = QPixmap(round(self.width() * dpr), round(self.height() * dpr))
        pixmap.setDevicePixelRatio(dpr)
        pixmap.fill(Qt.GlobalColor.transparent)
        inner = QRectF(6, 6, self.width() - 12, self.height() - 12)
        scale = min(inner.width() / self._source.width(), inner.height() / self._source.height())
        w, h = self._source.width() * scale, self._source.height() * scale
        self._target = QRectF(inner.center().x() - w / 2, inner.center().y() - h / 2, w, h)
        self._scale = scale
        theme = scene.theme
        painter = QPainter(pixmap)
        many = len(self._nodes) > ROUNDED_LIMIT
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, not many)
        painter.translate(self._target.topLeft())
        painter.scale(scale, scale)
        painter.translate(-self._source.topLeft())
        note_color = QColor(theme.note)
        for rect in self._notes:
            painter.fillRect(rect, note_color)
        pen = QPen(QColor(theme.edge), 1.0)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._edges)
        painter.setPen(Qt.PenStyle.NoPen)
        groups: dict[str, list[QRectF]] = {}
        self._painted = [_color_of(item) for _rect, item in self._nodes]
        for (rect, _item), key in zip(self._nodes, self._painted, strict=True):
            groups.setdefault(key, []).append(rect)
        for color, rects in groups.items():
            painter.setBrush(QColor(color))
            if many:
                painter.drawRects(rects)
            else:
                for rect in rects:
                    painter.drawRoundedRect(rect, 12, 12)
        painter.end()
        self._pixmap = pixmap

    def _recolour(self, touched: list[NodeItem]) -> bool:
        """Paint the blocks of `touched` cards whose colour changed over the last picture;
        False when it must be drawn whole (a small canvas has rounded, antialiased blocks
        that do not cover their old pixels exactly; no picture yet; another pixel ratio)."""
        pixmap = self._pixmap
        if (
            pixmap is None
            or len(self._nodes) <= ROUNDED_LIMIT
            or len(self._painted) != len(self._nodes)
            or pixmap.devicePixelRatio() != self.devicePixelRatioF()
        ):
            return False
        changed: dict[str, list[QRectF]] = {}
        painted = self._painted
        for item in touched:
            i = self._index.get(item)
            if i is None:
                continue  # not in the layout (removed since)
            rect = self._nodes[i][0]
            key = _color_of(item)
            if key != painted[i]:
                painted[i] = key
                changed.setdefault(key, []).append(rect)
        if changed:
            painter = QPainter(pixmap)
            painter.translate(self._target.topLeft())
            painter.scale(self._scale, self._scale)
            painter.translate(-self._source.topLeft())
            painter.setPen(Qt.PenStyle.NoPen)
            for color, rects in changed.items():
                painter.setBrush(QColor(color))
                painter.drawRects(rects)
            painter.end()
        return True

    # -- geometry ----------------------------------------------------------------------------
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

    def viewport_frame(self) -> QRectF:
        """Where the view's visible area is drawn in the minimap (widget coordinates)."""
        visible = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        return self._to_widget(visible).intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1))

    @guarded
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            self._paint(painter)
        finally:  # a failed paint's traceback may outlive it and keep the painter: end it here
            painter.end()

    def _paint(self, painter: QPainter) -> None:
        theme = self.view.scene().theme
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        bg = QColor(theme.base)
        bg.setAlphaF(0.94)
        painter.setPen(QPen(QColor(theme.border), 1))
        painter.setBrush(bg)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)
        if self._pixmap is not None:
            painter.drawPixmap(0, 0, self._pixmap)
        accent = QColor(theme.accent)
        painter.setPen(QPen(accent, 1.5))
        accent.setAlphaF(0.10)
        painter.setBrush(accent)
        painter.drawRoundedRect(self.viewport_frame(), 3, 3)

    @guarded
    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.view.centerOn(self._to_scene(event.position()))
        self.update()

    @guarded
    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.view.centerOn(self._to_scene(event.position()))
            self.update()
