"""The canvas view: zoom at the cursor, pan, fit, grid, minimap, drops and gestures.

Mouse presses start an `Interaction` (link, move, rubber band, pan, note
resize); the view forwards moves and releases to it. Everything the user asks
for leaves as a signal (here or on the scene); the view edits nothing itself.
"""

from __future__ import annotations

import contextlib
import math

from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QPolygonF,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsItem, QGraphicsScene, QGraphicsView, QWidget

from app.canvas.edgeitem import EdgeItem
from app.canvas.interactions import (
    Interaction,
    MoveInteraction,
    NewLinkInteraction,
    PanInteraction,
    ResizeNoteInteraction,
    RubberBandInteraction,
)
from app.canvas.minimap import Minimap
from app.canvas.nodeitem import LOD_BLOCK, NodeItem, PortItem
from app.canvas.noteitem import NoteItem
from app.canvas.scene import WorkflowScene
from app.crash_guard import guarded
from engine.nodes.registry import find_spec

PALETTE_MIME = "application/x-processengine-node-type"
MIN_ZOOM, MAX_ZOOM = 0.08, 4.0
ZOOM_STEP = 1.2
READ_ONLY_DROP = "Read-only: a past run is shown (Back to editing to add nodes)"


def _drop_interaction(view: CanvasView) -> None:
    """After a failed mouse handler: forget the gesture so the next press starts clean."""
    interaction, view.interaction = view.interaction, None
    if interaction is not None:
        with contextlib.suppress(Exception):  # the gesture is what broke; dropped either way
            interaction.cancel()


class CanvasView(QGraphicsView):
    node_type_dropped = Signal(str, QPointF)  # node type, scene position
    quick_add_requested = Signal(QPointF, QPoint)  # scene position, global position
    context_menu_requested = Signal(QPointF, QPoint)
    files_dropped = Signal(list)  # local file paths
    zoom_changed = Signal(float)

    def __init__(self, scene: WorkflowScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.interaction: Interaction | None = None
        self.read_only = False  # a past run is shown: select, copy, zoom and pan only
        self._space = False
        self.setRenderHints(
            QPainter.RenderHint.Antialiasing
            | QPainter.RenderHint.TextAntialiasing
            | QPainter.RenderHint.SmoothPixmapTransform
        )
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setAcceptDrops(True)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.minimap = Minimap(self)
        self.horizontalScrollBar().valueChanged.connect(self.minimap.update)
        self.verticalScrollBar().valueChanged.connect(self.minimap.update)

    def scene(self) -> WorkflowScene:  # narrower type for callers
        return super().scene()  # type: ignore[return-value]

    # -- zoom and navigation -------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, zoom: float, anchor: QPoint | None = None) -> None:
        """Zoom to `zoom` (clamped), keeping the scene point under `anchor` (view coords) fixed."""
        zoom = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
        if math.isclose(zoom, self.zoom):
            return
        if anchor is None:
            anchor = self.viewport().rect().center()
        before = self.mapToScene(anchor)
        old = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setTransform(QTransform.fromScale(zoom, zoom))
        self.setTransformationAnchor(old)
        delta = self.mapFromScene(before) - anchor
        self.scroll_by(delta.x(), delta.y())
        self.scene().set_ports_visible(zoom >= LOD_BLOCK)
        self.zoom_changed.emit(self.zoom)
        self.minimap.update()

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom / ZOOM_STEP)

    def zoom_reset(self) -> None:
        self.set_zoom(1.0)

    def fit_all(self, max_zoom: float = 1.0) -> None:
        """Show the whole workflow (never magnified beyond `max_zoom`)."""
        rect = self.scene().content_rect()
        if rect.isNull():
            self.set_zoom(1.0)
            self.centerOn(0, 0)
            return
        rect = rect.adjusted(-40, -40, 40, 40)
        zoom, area = max(((min(a.width() / rect.width(), a.height() / rect.height(), max_zoom), a) for a in self._free_areas()), key=lambda za: za[0])
        self.set_zoom(zoom)
        # centre the content on the free area, not on the whole viewport
        shift = QPointF(self.viewport().rect().center() - area.center()) / self.zoom
        self.centerOn(rect.center() + shift)
        self.minimap.update()

    def _free_areas(self) -> list[QRect]:
        """Where a fit may put the workflow: the viewport, or with the minimap shown the
        part above it and the part left of it, so a fit never puts a node under the minimap."""
        vp = self.viewport().rect()
        if not self.minimap.isVisible():
            return [vp]
        mm = self.minimap.geometry().translated(-self.viewport().pos())
        above = QRect(vp.left(), vp.top(), vp.width(), max(1, mm.top() - 8 - vp.top()))
        left = QRect(vp.left(), vp.top(), max(1, mm.left() - 8 - vp.left()), vp.height())
        return [above, left]

    def center_on_node(self, node_id: str) -> None:
        item = self.scene().node_item(node_id)
        if item is not None:
            self.centerOn(item.sceneBoundingRect().center())
            self.minimap.update()

    @guarded
    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta == 0:
            return
        self.set_zoom(self.zoom * ZOOM_STEP ** (delta / 120), event.position().toPoint())
        event.accept()

    def scroll_by(self, dx: int, dy: int) -> None:
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + dx)
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + dy)

    def set_read_only(self, read_only: bool) -> None:
        """No gesture that would edit: no moves, links, note edits or resizes, quick-add,
        nudges or palette drops; clicks still select and the canvas still pans."""
        self.read_only = read_only
        if read_only and self.interaction is not None:
            _drop_interaction(self)
        editing = self._editing_note()
        if read_only and editing is not None:
            editing.text_item.clearFocus()

    def set_minimap_visible(self, visible: bool) -> None:
        self.minimap.setVisible(visible)
        self._place_minimap()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_minimap()

    def _place_minimap(self) -> None:
        m = self.minimap
        width = max(120, min(220, round(self.width() * 0.2)))
        if m.width() != width:
            m.setFixedSize(width, round(width * 0.62))
            m.refresh()
        m.move(self.width() - m.width() - 12, self.height() - m.height() - 12)
        m.raise_()

    def setScene(self, scene: QGraphicsScene | None) -> None:
        super().setScene(scene)
        self.minimap.attach()

    # -- background -----------------------------------------------------------------
    @guarded
    def drawBackground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        theme = self.scene().theme
        painter.fillRect(rect, QColor(theme.canvas))
        zoom = self.zoom
        step = self.scene().grid_size
        while step * zoom < 14:
            step *= 5
        left = math.floor(rect.left() / step) * step
        top = math.floor(rect.top() / step) * step
        xs = [left + i * step for i in range(int((rect.right() - left) / step) + 2)]
        ys = [top + j * step for j in range(int((rect.bottom() - top) / step) + 2)]
        if len(xs) * len(ys) > 40000:
            return
        pen = QPen(QColor(theme.grid), 2.2 if zoom >= 0.7 else 1.6)
        pen.setCosmetic(True)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.drawPoints(QPolygonF([QPointF(x, y) for y in ys for x in xs]))

    # -- mouse gestures ----------------------------------------------------------------
    def _grab_target(self, pos: QPoint) -> QGraphicsItem | None:
        item = self.itemAt(pos)
        while item is not None and not isinstance(item, PortItem | NodeItem | NoteItem | EdgeItem):
            item = item.parentItem()
        return item

    def _editing_note(self) -> NoteItem | None:
        focus = self.scene().focusItem()
        parent = focus.parentItem() if focus is not None else None
        if isinstance(parent, NoteItem) and parent.editing:
            return parent
        return None

    def _start(self, interaction: Interaction, event: QMouseEvent) -> None:
        self.interaction = interaction
        interaction.start(event)
        event.accept()

    @guarded(cleanup=_drop_interaction)
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.interaction is not None:
            self.interaction.cancel()
            self.interaction = None
        pos = event.position().toPoint()
        item = self._grab_target(pos)
        editing = self._editing_note()
        if editing is not None:
            if item is editing:
                super().mousePressEvent(event)  # place the text cursor
                return
            editing.text_item.clearFocus()
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space):
            self._start(PanInteraction(self), event)
        elif button == Qt.MouseButton.LeftButton:
            if isinstance(item, PortItem) and self.read_only:
                item = item.node_item  # a port click selects its card
            if isinstance(item, PortItem):
                self._start(NewLinkInteraction(self, item), event)
            elif isinstance(item, NodeItem) and (action := item.retry_button_at(item.mapFromScene(self.mapToScene(pos)))):
                self.scene().retry_control_requested.emit(item.node_id, action)  # a button on a retrying badge
                event.accept()
            elif isinstance(item, NoteItem) and not self.read_only and item.in_grip(self.mapToScene(pos)):
                self._start(ResizeNoteInteraction(self, item), event)
            elif isinstance(item, NodeItem | NoteItem):
                self._start(MoveInteraction(self, item, movable=not self.read_only), event)
            elif isinstance(item, EdgeItem):
                if not event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier):
                    self.scene().clearSelection()
                item.setSelected(True)
                event.accept()
            else:
                self._start(RubberBandInteraction(self), event)
        else:
            super().mousePressEvent(event)

    @guarded(cleanup=_drop_interaction)
    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self.interaction is not None:
            self.interaction.move(event)
            event.accept()
        else:
            super().mouseMoveEvent(event)

    @guarded(cleanup=_drop_interaction)
    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self.interaction is not None:
            interaction, self.interaction = self.interaction, None
            interaction.release(event)
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    @guarded(cleanup=_drop_interaction)
    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        pos = event.position().toPoint()
        item = self._grab_target(pos)
        if self.read_only and not isinstance(item, NodeItem):
            event.accept()  # no note editing, no quick-add
            return
        if isinstance(item, NoteItem):
            if not item.editing:
                item.start_editing()
            else:
                super().mouseDoubleClickEvent(event)
        elif isinstance(item, NodeItem):
            self.scene().node_activated.emit(item.node_id)
        elif item is None and event.button() == Qt.MouseButton.LeftButton:
            self.quick_add_requested.emit(self.mapToScene(pos), event.globalPosition().toPoint())
        event.accept()

    @guarded
    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        item = self._grab_target(event.pos())
        if isinstance(item, PortItem):
            item = item.node_item
        if item is not None and not item.isSelected():
            self.scene().clearSelection()
            item.setSelected(True)
        self.context_menu_requested.emit(self.mapToScene(event.pos()), event.globalPos())

    # -- keys ------------------------------------------------------------------------------
    def focusNextPrevChild(self, next: bool) -> bool:
        return False  # Tab opens quick-add instead of moving focus

    @guarded(cleanup=_drop_interaction)
    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self._editing_note() is not None:
            super().keyPressEvent(event)
            return
        key = event.key()
        if key == Qt.Key.Key_Escape:
            if self.interaction is not None:
                self.interaction.cancel()
                self.interaction = None
            else:
                self.scene().clearSelection()
        elif key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        elif self.read_only and key in (Qt.Key.Key_Tab, Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down):
            event.accept()  # quick-add and nudges edit the document
        elif key == Qt.Key.Key_Tab:
            local = self.viewport().mapFromGlobal(self.cursor().pos())
            if not self.viewport().rect().contains(local):
                local = self.viewport().rect().center()
            self.quick_add_requested.emit(self.mapToScene(local), self.viewport().mapToGlobal(local))
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down):
            self._nudge(Qt.Key(key), bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier))
        else:
            super().keyPressEvent(event)

    @guarded
    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().unsetCursor()
        super().keyReleaseEvent(event)

    def _nudge(self, key: Qt.Key, big: bool) -> None:
        scene = self.scene()
        step = scene.grid_size * (5 if big else 1)
        dx = {Qt.Key.Key_Left: -step, Qt.Key.Key_Right: step}.get(key, 0.0)
        dy = {Qt.Key.Key_Up: -step, Qt.Key.Key_Down: step}.get(key, 0.0)
        moves, note_moves = {}, {}
        for item in scene.selectedItems():
            if isinstance(item, NodeItem):
                moves[item.node_id] = ((item.x(), item.y()), (item.x() + dx, item.y() + dy))
            elif isinstance(item, NoteItem):
                note_moves[item.note_id] = ((item.x(), item.y()), (item.x() + dx, item.y() + dy))
        if moves or note_moves:
            key_ids = ("nudge", frozenset(moves), frozenset(note_moves))
            scene.nodes_moved.emit(moves, note_moves, key_ids)

    # -- drag and drop -----------------------------------------------------------------------
    def _accepts(self, event: QDragEnterEvent | QDragMoveEvent | QDropEvent) -> bool:
        mime = event.mimeData()
        palette = mime.hasFormat(PALETTE_MIME) and not self.read_only
        return palette or (mime.hasUrls() and any(u.isLocalFile() for u in mime.urls()))

    @guarded
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._accepts(event):
            event.acceptProposedAction()
        else:
            if self.read_only and event.mimeData().hasFormat(PALETTE_MIME):
                self.scene().status_message.emit(READ_ONLY_DROP)
            event.ignore()

    @guarded
    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._accepts(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    @guarded
    def dropEvent(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        if mime.hasFormat(PALETTE_MIME) and self.read_only:
            self.scene().status_message.emit(READ_ONLY_DROP)
            event.ignore()
        elif mime.hasFormat(PALETTE_MIME):
            node_type = bytes(mime.data(PALETTE_MIME).data()).decode("utf-8", errors="replace").strip()
            if find_spec(node_type) is None:  # another app's (or version's) data, or garbage
                shown = node_type if len(node_type) <= 60 else node_type[:59] + "…"
                self.scene().status_message.emit(f"Cannot add a node of unknown type “{shown}”")
                event.ignore()
                return
            pos = self.mapToScene(event.position().toPoint())
            self.node_type_dropped.emit(node_type, pos)
            event.acceptProposedAction()
        elif mime.hasUrls():
            paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
            if paths:
                self.files_dropped.emit(paths)
                event.acceptProposedAction()
        else:
            event.ignore()
