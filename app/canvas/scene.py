"""The scene mirrors one workflow model: it observes `workflow.events` and keeps
node id -> NodeItem, connection -> EdgeItem and note id -> NoteItem maps
(orange-canvas-core's canvas/scene.py). It never edits the model: user gestures
come out as intent signals that the controller turns into undo commands.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QPoint, QPointF, QRectF, Signal
from PySide6.QtWidgets import QGraphicsScene

from app.canvas.edgeitem import EdgeItem
from app.canvas.nodeitem import NodeItem
from app.canvas.noteitem import NoteItem
from app.document.ports import input_ports, output_ports, spec_of
from app.theme import LIGHT, Theme
from engine.graph import cycle_edges
from engine.model import Connection, Node, Note, Workflow, WorkflowEvents

log = logging.getLogger(__name__)

SCENE_MARGIN = 3000.0

# (from_node, from_port, to_node, to_port) -> reason the connection is refused, or None
LinkValidator = Callable[[str, str, str, str], "str | None"]


class WorkflowScene(QGraphicsScene):
    connect_requested = Signal(str, str, str, str)  # from node, from port, to node, to port
    nodes_moved = Signal(object, object, object)  # {node id: (old, new)}, {note id: (old, new)}, merge key
    note_text_changed = Signal(str, str)  # note id, text
    note_resized = Signal(str, object)  # note id, (w, h)
    node_activated = Signal(str)  # double-click on a node
    status_message = Signal(str)  # e.g. why a connection was refused
    link_dropped = Signal(str, str, bool, QPointF, QPoint)  # node, port, is output, scene pos, global pos
    # for overviews (the minimap) that must not follow every repaint through `changed`:
    content_changed = Signal()  # nodes, edges or notes were added, removed, moved or restyled
    retry_control_requested = Signal(str, str)  # node id, "retry_now" | "give_up" (buttons on a retrying badge)
    run_states_changed = Signal()  # a node's run state changed (once until `run_states_seen`)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.theme: Theme = LIGHT
        self.grid_size = 20.0
        self.snap = True
        self.workflow: Workflow | None = None
        self.link_validator: LinkValidator | None = None
        self.ports_visible = True
        self._nodes: dict[str, NodeItem] = {}
        self._edges: dict[Connection, list[EdgeItem]] = {}
        self._notes: dict[str, NoteItem] = {}
        self._run_states_pending = False
        self._run_state_items: dict[NodeItem, None] = {}  # cards re-stated since `run_states_seen`
        self.setSceneRect(QRectF(-SCENE_MARGIN, -SCENE_MARGIN, 2 * SCENE_MARGIN, 2 * SCENE_MARGIN))

    # -- binding ---------------------------------------------------------------
    def bind(self, workflow: Workflow) -> None:
        """Show `workflow` and follow its changes (replaces whatever was shown)."""
        self.unbind()
        self.workflow = workflow
        for node in workflow.nodes:
            self._add_node_item(node)
        for conn in workflow.connections:
            self._add_edge_item(conn)
        for note in workflow.notes:
            self._add_note_item(note)
        self.mark_back_edges()
        ev = workflow.events
        ev.node_added.connect(self._on_node_added)
        ev.node_removed.connect(self._on_node_removed)
        ev.node_changed.connect(self._on_node_changed)
        ev.connection_added.connect(self._on_connection_added)
        ev.connection_removed.connect(self._on_connection_removed)
        ev.note_added.connect(self._on_note_added)
        ev.note_removed.connect(self._on_note_removed)
        ev.note_changed.connect(self._on_note_changed)
        for signal in self._content_signals(ev):
            signal.connect(self._content_touched)  # after the item handlers above
        self.fit_scene_rect()
        # Build the BSP index and activate the scene now, while Python holds the GIL: left
        # to the first paint and window activation, Qt would call into every Python item
        # from the event loop, taking the GIL 10,000-20,000 times for a 5,000-node
        # workflow, each a wait while the engine thread is busy (100-200 ms stalls).
        self.items(QRectF(0, 0, 1, 1))
        if not self.isActive():
            QCoreApplication.sendEvent(self, QEvent(QEvent.Type.WindowActivate))
        self.content_changed.emit()

    def unbind(self) -> None:
        if self.workflow is not None:
            ev = self.workflow.events
            ev.node_added.disconnect(self._on_node_added)
            ev.node_removed.disconnect(self._on_node_removed)
            ev.node_changed.disconnect(self._on_node_changed)
            ev.connection_added.disconnect(self._on_connection_added)
            ev.connection_removed.disconnect(self._on_connection_removed)
            ev.note_added.disconnect(self._on_note_added)
            ev.note_removed.disconnect(self._on_note_removed)
            ev.note_changed.disconnect(self._on_note_changed)
            for signal in self._content_signals(ev):
                signal.disconnect(self._content_touched)
        self.workflow = None
        self.clear()
        self._nodes.clear()
        self._edges.clear()
        self._notes.clear()
        self._run_state_items.clear()
        self.content_changed.emit()

    def event(self, event: QEvent) -> bool:
        """Once active, the scene stays active. On every window (de)activation Qt sends an
        event to each top-level item — 10,000 Python-wrapped items on a big canvas — and
        nothing on this canvas depends on it (no panels); a note being edited simply
        keeps its focus while the window is in the background."""
        if event.type() == QEvent.Type.WindowDeactivate and self.isActive():
            return True
        return super().event(event)

    @staticmethod
    def _content_signals(ev: WorkflowEvents) -> tuple[Any, ...]:
        return (ev.node_added, ev.node_removed, ev.node_changed, ev.connection_added,
                ev.connection_removed, ev.note_added, ev.note_removed, ev.note_changed)  # fmt: skip

    def _content_touched(self, *_args: object) -> None:
        self.content_changed.emit()

    # -- lookups ---------------------------------------------------------------
    def node_item(self, node_id: str) -> NodeItem | None:
        return self._nodes.get(node_id)

    def node_items(self) -> list[NodeItem]:
        return list(self._nodes.values())

    def edge_item(self, conn: Connection) -> EdgeItem | None:
        items = self._edges.get(conn)
        return items[0] if items else None

    def edge_items(self) -> list[EdgeItem]:
        return [e for items in self._edges.values() for e in items]

    def note_item(self, note_id: str) -> NoteItem | None:
        return self._notes.get(note_id)

    def note_items(self) -> list[NoteItem]:
        return list(self._notes.values())

    def selected_node_ids(self) -> list[str]:
        """Selected nodes in model order (so copy/paste keeps the order)."""
        if self.workflow is None:
            return []
        selected = {i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)}
        return [n.id for n in self.workflow.nodes if n.id in selected]

    def selected_note_ids(self) -> list[str]:
        if self.workflow is None:
            return []
        selected = {i.note_id for i in self.selectedItems() if isinstance(i, NoteItem)}
        return [n.id for n in self.workflow.notes if n.id in selected]

    def selected_connections(self) -> list[Connection]:
        return [i.conn for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def select_nodes(self, node_ids: Iterable[str], note_ids: Iterable[str] = ()) -> None:
        self.clearSelection()
        for node_id in node_ids:
            item = self._nodes.get(node_id)
            if item is not None:
                item.setSelected(True)
        for note_id in note_ids:
            note = self._notes.get(note_id)
            if note is not None:
                note.setSelected(True)

    # -- presentation ----------------------------------------------------------
    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        for note in self._notes.values():
            note.apply_theme(theme)
        for item in self.items():
            item.update()
        for view in self.views():
            view.resetCachedContent()
        self.update()
        self.content_changed.emit()

    def run_state_touched(self, item: NodeItem | None = None) -> None:
        """A node item's run state changed (NodeItem calls this): one `run_states_changed`
        per burst, however many of 5,000 nodes change, until a listener calls `run_states_seen`."""
        if item is not None:
            self._run_state_items[item] = None
        if not self._run_states_pending:
            self._run_states_pending = True
            self.run_states_changed.emit()

    def run_states_seen(self) -> list[NodeItem]:
        """The listener read the run states: signal again on the next change. Returns the
        cards whose state changed since the last call (the minimap repaints only those)."""
        self._run_states_pending = False
        items = list(self._run_state_items)
        self._run_state_items.clear()
        return items

    def set_ports_visible(self, visible: bool) -> None:
        """Zoomed far out, ports are too small to grab: hiding them keeps 3 items per node
        out of every frame's traversal."""
        if visible == self.ports_visible:
            return
        self.ports_visible = visible
        for item in self._nodes.values():
            for port in (*item.inputs.values(), *item.outputs.values()):
                port.setVisible(visible)

    def set_problems(self, by_node: dict[str, list[str]]) -> None:
        for node_id, item in self._nodes.items():
            item.set_problems(by_node.get(node_id, []))

    def snap_point(self, p: QPointF) -> QPointF:
        if not self.snap:
            return QPointF(p)
        g = self.grid_size
        return QPointF(round(p.x() / g) * g, round(p.y() / g) * g)

    def content_rect(self) -> QRectF:
        """The bounding rect of nodes and notes (not the padded scene rect)."""
        rect = QRectF()
        for item in (*self._nodes.values(), *self._notes.values()):
            rect = rect.united(item.sceneBoundingRect())
        return rect

    def fit_scene_rect(self) -> None:
        """Keep generous room around the content so the view can pan past it."""
        content = self.content_rect()
        base = QRectF(-SCENE_MARGIN, -SCENE_MARGIN, 2 * SCENE_MARGIN, 2 * SCENE_MARGIN)
        rect = base.united(content.adjusted(-SCENE_MARGIN, -SCENE_MARGIN, SCENE_MARGIN, SCENE_MARGIN)) if not content.isNull() else base
        if rect != self.sceneRect():
            self.setSceneRect(rect)

    def _grow_for(self, item_rect: QRectF) -> None:
        want = item_rect.adjusted(-SCENE_MARGIN, -SCENE_MARGIN, SCENE_MARGIN, SCENE_MARGIN)
        if not self.sceneRect().contains(want):
            self.setSceneRect(self.sceneRect().united(want))

    # -- model events ------------------------------------------------------------
    def _add_node_item(self, node: Node) -> NodeItem:
        spec = spec_of(node)
        item = NodeItem(node, spec, input_ports(node, spec), output_ports(node, spec))
        if not self.ports_visible:
            for port in (*item.inputs.values(), *item.outputs.values()):
                port.setVisible(False)
        self._nodes[node.id] = item
        self.addItem(item)
        return item

    def _add_edge_item(self, conn: Connection) -> EdgeItem | None:
        src, dst = self._nodes.get(conn.from_node), self._nodes.get(conn.to_node)
        if src is None or dst is None:
            log.debug("connection %s names a missing node; not drawn", conn)
            return None
        edge = EdgeItem(conn, src, dst)
        self._edges.setdefault(conn, []).append(edge)
        self.addItem(edge)
        return edge

    def _add_note_item(self, note: Note) -> NoteItem:
        item = NoteItem(note)
        item.apply_theme(self.theme)
        item.text_edited.connect(self.note_text_changed)
        self._notes[note.id] = item
        self.addItem(item)
        return item

    def _remove_edge_item(self, edge: EdgeItem) -> None:
        edge.detach()
        items = self._edges.get(edge.conn, [])
        if edge in items:
            items.remove(edge)
        if not items:
            self._edges.pop(edge.conn, None)
        self.removeItem(edge)

    def _on_node_added(self, node: Node, index: int) -> None:
        item = self._add_node_item(node)
        self._grow_for(item.sceneBoundingRect())

    def _on_node_removed(self, node: Node, index: int) -> None:
        item = self._nodes.pop(node.id, None)
        if item is None:
            return
        for edge in list(item.edges):
            self._remove_edge_item(edge)
        self.removeItem(item)

    def _on_node_changed(self, node: Node, attr: str) -> None:
        item = self._nodes.get(node.id)
        if item is None:
            return
        if attr == "position":
            if (item.pos().x(), item.pos().y()) != tuple(node.position):
                item.setPos(QPointF(*node.position))
                self._grow_for(item.sceneBoundingRect())
        elif attr == "name":
            item.set_name(node.name)
        elif attr in ("config", "on_error", "type"):
            spec = spec_of(node)
            if attr == "type":
                item.set_spec(spec, node.type)
            item.on_error = node.on_error
            item.set_ports(input_ports(node, spec), output_ports(node, spec))
            for port in (*item.inputs.values(), *item.outputs.values()):
                port.setVisible(self.ports_visible)
            for edge in item.edges:
                edge.update()
        elif attr == "disabled":
            item.set_disabled(node.disabled)
        elif attr == "pin":
            item.set_debug_marks(pinned=node.pin is not None)
        elif attr == "replay":
            item.set_debug_marks(replay=node.replay)

    def _on_connection_added(self, conn: Connection, index: int) -> None:
        self._add_edge_item(conn)
        self.mark_back_edges()

    def _on_connection_removed(self, conn: Connection, index: int) -> None:
        items = self._edges.get(conn)
        if items:
            self._remove_edge_item(items[-1])
        self.mark_back_edges()

    def mark_back_edges(self) -> None:
        """Draw the connections that close a cycle as back-edges (engine.graph.cycle_edges)."""
        if self.workflow is None:
            return
        back = cycle_edges(self.workflow)
        for i, conn in enumerate(self.workflow.connections):
            for edge in self._edges.get(conn, ()):
                edge.set_back_edge(i in back)

    def _on_note_added(self, note: Note, index: int) -> None:
        item = self._add_note_item(note)
        self._grow_for(item.sceneBoundingRect())

    def _on_note_removed(self, note: Note, index: int) -> None:
        item = self._notes.pop(note.id, None)
        if item is not None:
            self.removeItem(item)

    def _on_note_changed(self, note: Note, attr: str) -> None:
        item = self._notes.get(note.id)
        if item is None:
            return
        if attr == "position":
            item.setPos(QPointF(*note.position))
        elif attr == "size":
            item.set_size(note.size)
        elif attr == "text":
            item.set_text(note.text)
