"""Run state on the canvas: node colours, badges, the retry countdown, edge labels.

It only calls the canvas items' public run API (`NodeItem.set_run_state`,
`EdgeItem.set_flow_label`) plus one small child item per running node that
spins around the node's icon. Edges are addressed by connection index (the
engine's edge counters) through the connection list captured at run start.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from PySide6.QtCore import QObject, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from app.canvas.nodeitem import NodeItem
from app.canvas.scene import WorkflowScene
from app.runner.bridge import Batch, NodeLive
from app.runner.snapshot import RunSnapshot
from app.theme import RUN_STATE_COLORS
from engine.model import Connection, Workflow

COUNTDOWN_MS = 100
SPIN_MS = 50
PREVIEW_CHARS = 26
TERMINAL = frozenset({"completed", "failed", "cancelled"})


def format_ms(ms: float | None) -> str:
    if ms is None:
        return ""
    if ms < 1:
        return "<1 ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{int(ms // 60_000)} min {int(ms % 60_000 // 1000)} s"


def retry_badge(live: NodeLive, now: float | None = None) -> str:
    """"retry 2/4 · next in 1.6 s": the coming attempt out of the maximum, and the wait left."""
    left = max(0.0, (live.retry_at or 0.0) - (time.monotonic() if now is None else now))
    total = f"/{live.max_attempts}" if live.max_attempts else ""
    return f"retry {live.attempt + 1}{total} · next in {left:.1f} s"


def _short(text: str) -> str:
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


class Spinner(QGraphicsItem):
    """An arc turning around a running node's icon (the 'animated running' state)."""

    def __init__(self, parent: NodeItem) -> None:
        super().__init__(parent)
        self.angle = 0
        self.setZValue(3)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def boundingRect(self) -> QRectF:
        return QRectF(8, 6, 44, 44)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(QColor(RUN_STATE_COLORS["running"]), 3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.drawArc(QRectF(10, 8, 40, 40), -self.angle * 16, 100 * 16)

    def step(self) -> None:
        self.angle = (self.angle + 24) % 360
        self.update()


class RunCanvas(QObject):
    """Keeps the canvas items in step with one run (live or from history)."""

    def __init__(self, scene: Callable[[], WorkflowScene | None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._scene = scene
        self.states: dict[str, NodeLive] = {}
        self.edges: dict[int, int] = {}
        self.total = 0
        self.run_status: str | None = None
        self._conns: list[Connection] = []
        self._spinners: dict[str, Spinner] = {}
        self._countdown = QTimer(self)
        self._countdown.setInterval(COUNTDOWN_MS)
        self._countdown.timeout.connect(self._tick_countdown)
        self._spin = QTimer(self)
        self._spin.setInterval(SPIN_MS)
        self._spin.timeout.connect(self._tick_spin)

    @property
    def scene(self) -> WorkflowScene | None:
        return self._scene()

    # -- lifecycle -------------------------------------------------------------
    def begin(self, workflow: Workflow) -> None:
        """A run of `workflow` starts: every node pending, no edge labels."""
        self.clear()
        self._conns = list(workflow.connections)
        self.total = len(workflow.nodes)
        self.run_status = "running"
        for node in workflow.nodes:
            self.states[node.id] = NodeLive("pending")
            self._paint_node(node.id)

    def clear(self) -> None:
        """Back to the plain editor look."""
        self._countdown.stop()
        self._spin.stop()
        for spinner in self._spinners.values():
            if spinner.scene() is not None:
                spinner.scene().removeItem(spinner)
            spinner.setParentItem(None)
        self._spinners.clear()
        scene = self.scene
        if scene is not None:
            for item in scene.node_items():
                item.set_run_state(None)
            for edge in scene.edge_items():
                if edge.flow_label is not None or edge.flow_taken is not None:
                    edge.set_flow_label(None, None)
        self.states.clear()
        self.edges.clear()
        self.run_status = None
        self.total = 0

    def apply(self, batch: Batch) -> None:
        """Show one coalesced batch of live changes."""
        if batch.total is not None:
            self.total = batch.total
        for node_id, live in batch.nodes.items():
            self.states[node_id] = live
            self._paint_node(node_id)
        if batch.run_status is not None:
            self.run_status = batch.run_status
        if batch.edges is not None:
            self._set_edges(batch.edges)
        elif batch.run_status in TERMINAL:
            self._set_edges(self.edges)  # fade the branches not taken

    def show_snapshot(self, workflow: Workflow, snap: RunSnapshot) -> None:
        """A past run: its final statuses and edge counts (nodes that never ran stay plain)."""
        self.clear()
        self._conns = list(workflow.connections)
        self.total = len(workflow.nodes)
        self.run_status = snap.status
        waiting = snap.status in ("paused", "interrupted", "running")
        scene = self.scene
        for node in workflow.nodes:
            live = snap.nodes.get(node.id)
            if live is None and waiting:
                live = NodeLive("pending")  # will run when the run resumes
            if live is None:
                item = scene.node_item(node.id) if scene is not None else None
                if item is not None:
                    item.set_run_state(None)  # never ran
                continue
            self.states[node.id] = live
            self._paint_node(node.id)
        self._set_edges(snap.edges)

    # -- numbers ---------------------------------------------------------------
    def progress(self) -> dict[str, float]:
        counts = Counter(s.state for s in self.states.values())
        total = self.total or len(self.states)
        done = counts["succeeded"] + counts["failed"] + counts["skipped"]
        return {
            "total": total,
            "completed": counts["succeeded"],
            "failed": counts["failed"],
            "skipped": counts["skipped"],
            "done": done,
            "percent": min(100.0, round(100.0 * done / total, 1)) if total else 0.0,
        }

    # -- painting --------------------------------------------------------------
    def _paint_node(self, node_id: str) -> None:
        scene = self.scene
        item = scene.node_item(node_id) if scene is not None else None
        live = self.states.get(node_id)
        if item is None or live is None:
            return
        state = live.state
        badge: str | None = None
        tip: str | None = None
        if state == "retrying":
            badge = retry_badge(live)
            tip = f"attempt {live.attempt} failed: {live.error}" if live.error else None
            if not self._countdown.isActive():
                self._countdown.start()
        elif state == "running":
            if live.attempt > 1:
                badge = f"attempt {live.attempt}" + (f"/{live.max_attempts}" if live.max_attempts else "")
        elif state == "succeeded":
            badge = format_ms(live.duration_ms) or None
            parts = []
            if live.summary:
                parts.append(f"output: {live.summary}")
            if live.attempt > 1:
                parts.append(f"succeeded on attempt {live.attempt}")
            tip = " · ".join(parts) or None
        elif state == "failed":
            badge = f"failed after {live.attempt}" if live.attempt > 1 else None
            tip = live.error
        if state not in {"pending", "running", "succeeded", "failed", "retrying", "skipped", "paused", "cancelled"}:
            state = "pending"
        item.set_run_state(state, badge, tip)
        self._set_spinner(node_id, item, state == "running")

    def _set_spinner(self, node_id: str, item: NodeItem, on: bool) -> None:
        spinner = self._spinners.get(node_id)
        if on and spinner is None:
            self._spinners[node_id] = Spinner(item)
            if not self._spin.isActive():
                self._spin.start()
        elif not on and spinner is not None:
            del self._spinners[node_id]
            if spinner.scene() is not None:
                spinner.scene().removeItem(spinner)
            if not self._spinners:
                self._spin.stop()

    def _tick_spin(self) -> None:
        for spinner in self._spinners.values():
            spinner.step()

    def _tick_countdown(self) -> None:
        retrying = [n for n, s in self.states.items() if s.state == "retrying"]
        if not retrying:
            self._countdown.stop()
            return
        for node_id in retrying:
            self._paint_node(node_id)

    def _set_edges(self, counts: dict[int, int]) -> None:
        self.edges = dict(counts)
        scene = self.scene
        if scene is None:
            return
        ended = self.run_status in TERMINAL
        for index, conn in enumerate(self._conns):
            edge = scene.edge_item(conn)
            if edge is None:
                continue
            count = counts.get(index, 0)
            if count:
                summary = self.states.get(conn.from_node, NodeLive("pending")).summary
                if conn.from_port == "loop":
                    label = f"{count} items"
                elif count == 1:
                    label = _short(summary) if summary else "1 item"
                else:
                    label = f"{count} items" + (f" · {_short(summary)}" if summary else "")
                taken: bool | None = True
            else:
                target = self.states.get(conn.to_node)
                label = None
                taken = False if ended or (target is not None and target.state == "skipped") else None
            if edge.flow_label != label or edge.flow_taken != taken:
                edge.set_flow_label(label, taken)
