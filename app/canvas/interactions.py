"""Mouse gestures as small state objects (orange-canvas-core's document/interactions.py).

The view starts one on a mouse press and forwards move/release to it; Escape
cancels it. A gesture only changes graphics items while it runs; when it ends
it reports the user's intent through the scene's signals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QGraphicsRectItem

from app.canvas.edgeitem import EdgeItem, bezier
from app.canvas.nodeitem import NodeItem, PortItem
from app.canvas.noteitem import NoteItem

if TYPE_CHECKING:
    from app.canvas.scene import WorkflowScene
    from app.canvas.view import CanvasView

DRAG_THRESHOLD = 4


class Interaction:
    """Base gesture: subclasses override the hooks they need."""

    def __init__(self, view: CanvasView) -> None:
        self.view = view
        self.scene: WorkflowScene = view.scene()
        self.finished = False

    def start(self, event: QMouseEvent) -> None: ...

    def move(self, event: QMouseEvent) -> None: ...

    def release(self, event: QMouseEvent) -> None:
        self.end()

    def cancel(self) -> None:
        self.end()

    def end(self) -> None:
        self.finished = True

    def scene_pos(self, event: QMouseEvent) -> QPointF:
        return self.view.mapToScene(event.position().toPoint())


class NewLinkInteraction(Interaction):
    """Drag from a port to a port of the other direction. Valid targets light up,
    invalid drops are refused with a status-bar message."""

    def __init__(self, view: CanvasView, port: PortItem) -> None:
        super().__init__(view)
        self.source = port
        self.line = QGraphicsPathItem()
        pen = QPen(QColor(self.scene.theme.accent), 2, Qt.PenStyle.DashLine, Qt.PenCapStyle.RoundCap)
        self.line.setPen(pen)
        self.line.setZValue(10)
        self.highlighted: list[PortItem] = []
        self.target: PortItem | None = None

    def _endpoints(self, a: PortItem, b: PortItem) -> tuple[PortItem, PortItem]:
        return (a, b) if a.is_output else (b, a)

    def refusal(self, other: PortItem) -> str | None:
        if other.is_output == self.source.is_output:
            kind = "output" if other.is_output else "input"
            return f"cannot connect an {kind} to an {kind}: drag from an output to an input"
        src, dst = self._endpoints(self.source, other)
        if src.node_id == dst.node_id:
            return "a node cannot connect to itself"
        validator = self.scene.link_validator
        if validator is None:
            return None
        return validator(src.node_id, src.name, dst.node_id, dst.name)

    def start(self, event: QMouseEvent) -> None:
        self.scene.addItem(self.line)
        self._update_line(self.scene_pos(event))
        for item in self.scene.node_items():
            if item.node_id == self.source.node_id:
                continue
            ports = item.inputs if self.source.is_output else item.outputs
            for port in ports.values():
                port.set_highlight(PortItem.VALID if self.refusal(port) is None else PortItem.INVALID)
                self.highlighted.append(port)

    def _port_at(self, pos: QPointF) -> PortItem | None:
        for item in self.scene.items(QRectF(pos.x() - 6, pos.y() - 6, 12, 12)):
            if isinstance(item, PortItem) and item is not self.source:
                return item
        return None

    def _node_at(self, pos: QPointF) -> NodeItem | None:
        for item in self.scene.items(pos):
            if isinstance(item, NodeItem):
                return item
        return None

    def _update_line(self, pos: QPointF) -> None:
        start = self.source.scenePos()
        end = self.target.scenePos() if self.target is not None else pos
        path = bezier(start, end) if self.source.is_output else bezier(end, start)
        self.line.setPath(path)

    def move(self, event: QMouseEvent) -> None:
        pos = self.scene_pos(event)
        port = self._port_at(pos)
        self.target = port if port is not None and port.is_output != self.source.is_output else None
        self._update_line(pos)

    def release(self, event: QMouseEvent) -> None:
        pos = self.scene_pos(event)
        port = self._port_at(pos)
        if port is None:
            # dropped on a card: use its only port of the right direction
            node = self._node_at(pos)
            if node is not None and node.node_id != self.source.node_id:
                ports = list((node.inputs if self.source.is_output else node.outputs).values())
                if len(ports) == 1:
                    port = ports[0]
                elif not ports:
                    self.scene.status_message.emit(f"{node.name} has no {'input' if self.source.is_output else 'output'}")
                else:
                    self.scene.status_message.emit("drop the connection on one of the ports")
            elif node is None:
                # dropped on empty canvas: offer to add a node there, already connected
                self.scene.link_dropped.emit(self.source.node_id, self.source.name, self.source.is_output, pos, event.globalPosition().toPoint())
        if port is not None:
            reason = self.refusal(port)
            if reason:
                self.scene.status_message.emit(f"Connection refused: {reason}")
            else:
                src, dst = self._endpoints(self.source, port)
                self.scene.connect_requested.emit(src.node_id, src.name, dst.node_id, dst.name)
        self.end()

    def end(self) -> None:
        for port in self.highlighted:
            port.set_highlight(PortItem.NORMAL)
        self.highlighted.clear()
        if self.line.scene() is not None:
            self.scene.removeItem(self.line)
        super().end()


class MoveInteraction(Interaction):
    """Press on a node or note: select it (Ctrl toggles), drag the selection, snap to the
    grid, report the moves on release. Escape puts everything back. With `movable` False
    (a read-only canvas) it only selects."""

    def __init__(self, view: CanvasView, item: NodeItem | NoteItem, movable: bool = True) -> None:
        super().__init__(view)
        self.item = item
        self.movable = movable
        self.press = QPointF()
        self.starts: dict[NodeItem | NoteItem, QPointF] = {}
        self.moved = False

    def start(self, event: QMouseEvent) -> None:
        self.press = self.scene_pos(event)
        toggle = bool(event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier))
        if toggle:
            self.item.setSelected(not self.item.isSelected())
        elif not self.item.isSelected():
            self.scene.clearSelection()
            self.item.setSelected(True)
        self.starts = {
            i: i.pos() for i in self.scene.selectedItems() if isinstance(i, NodeItem | NoteItem)
        }

    def move(self, event: QMouseEvent) -> None:
        if not self.movable or not self.starts or self.item not in self.starts:
            return
        pos = self.scene_pos(event)
        delta = pos - self.press
        if not self.moved:
            if (self.view.mapFromScene(pos) - self.view.mapFromScene(self.press)).manhattanLength() < DRAG_THRESHOLD:
                return
            self.moved = True
        anchor = self.starts[self.item]
        snapped = self.scene.snap_point(anchor + delta) - anchor
        for item, start in self.starts.items():
            item.setPos(start + snapped)

    def release(self, event: QMouseEvent) -> None:
        if self.moved:
            moves: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {}
            note_moves: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {}
            for item, start in self.starts.items():
                old = (start.x(), start.y())
                new = (item.pos().x(), item.pos().y())
                if old != new:
                    if isinstance(item, NodeItem):
                        moves[item.node_id] = (old, new)
                    else:
                        note_moves[item.note_id] = (old, new)
            if moves or note_moves:
                self.scene.nodes_moved.emit(moves, note_moves, None)
        self.end()

    def cancel(self) -> None:
        for item, start in self.starts.items():
            item.setPos(start)
        self.end()


class RubberBandInteraction(Interaction):
    """Drag on empty canvas: select what the rectangle touches (Ctrl/Shift adds)."""

    def __init__(self, view: CanvasView) -> None:
        super().__init__(view)
        self.origin = QPointF()
        self.rect_item = QGraphicsRectItem()
        color = QColor(self.scene.theme.accent)
        self.rect_item.setPen(QPen(color, 0))
        color.setAlphaF(0.12)
        self.rect_item.setBrush(color)
        self.rect_item.setZValue(20)
        self.add = False
        self.initial: list[QGraphicsItem] = []

    def start(self, event: QMouseEvent) -> None:
        self.origin = self.scene_pos(event)
        self.add = bool(event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier))
        if not self.add:
            self.scene.clearSelection()
        self.initial = self.scene.selectedItems()

    def move(self, event: QMouseEvent) -> None:
        rect = QRectF(self.origin, self.scene_pos(event)).normalized()
        if self.rect_item.scene() is None:
            self.scene.addItem(self.rect_item)
        self.rect_item.setRect(rect)
        path = QPainterPath()
        path.addRect(rect)
        self.scene.setSelectionArea(
            path, Qt.ItemSelectionOperation.ReplaceSelection, Qt.ItemSelectionMode.IntersectsItemShape, self.view.viewportTransform()
        )
        # edges are picked by a click, not swept up with the nodes around them
        for item in self.scene.selectedItems():
            if isinstance(item, EdgeItem):
                item.setSelected(False)
        for item in self.initial:
            item.setSelected(True)

    def end(self) -> None:
        if self.rect_item.scene() is not None:
            self.scene.removeItem(self.rect_item)
        super().end()


class PanInteraction(Interaction):
    """Middle button (or Space + left button) drag scrolls the canvas."""

    def start(self, event: QMouseEvent) -> None:
        self.last = event.position()
        self.view.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)

    def move(self, event: QMouseEvent) -> None:
        delta = event.position() - self.last
        self.last = event.position()
        h, v = self.view.horizontalScrollBar(), self.view.verticalScrollBar()
        h.setValue(h.value() - round(delta.x()))
        v.setValue(v.value() - round(delta.y()))

    def end(self) -> None:
        self.view.viewport().unsetCursor()
        super().end()


class ResizeNoteInteraction(Interaction):
    """Drag a note's bottom-right grip; the new size is reported on release."""

    def __init__(self, view: CanvasView, note: NoteItem) -> None:
        super().__init__(view)
        self.note = note
        self.start_size = note.size
        self.press = QPointF()

    def start(self, event: QMouseEvent) -> None:
        self.press = self.scene_pos(event)

    def move(self, event: QMouseEvent) -> None:
        delta = self.scene_pos(event) - self.press
        self.note.set_size((self.start_size[0] + delta.x(), self.start_size[1] + delta.y()))

    def release(self, event: QMouseEvent) -> None:
        if self.note.size != self.start_size:
            size = self.note.size
            self.note.set_size(self.start_size)  # the model echo applies the final size
            self.scene.note_resized.emit(self.note.note_id, size)
        self.end()

    def cancel(self) -> None:
        self.note.set_size(self.start_size)
        self.end()
