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
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QStyleOptionGraphicsItem, QWidget

from app.canvas.nodeitem import RUN_STATES, NodeItem
from app.canvas.scene import WorkflowScene
from app.runner.bridge import Batch, EventBridge, NodeLive
from app.runner.snapshot import RunSnapshot
from app.theme import RUN_STATE_COLORS
from engine.model import Connection, Workflow
from engine.runtime.status import progress

COUNTDOWN_MS = 100
BUDGET_MS = 6  # canvas painting per event-loop turn; the rest waits for the next turn
SYNC_LIMIT = 96  # this many changed items or fewer are painted at once
SPIN_MS = 50
PREVIEW_CHARS = 26
TERMINAL = frozenset({"completed", "failed", "cancelled"})
_PENDING = NodeLive("pending")


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
    total = f"/{live.max_attempts}" if live.max_attempts else ""
    if live.retry_at is None:  # a past run seen at this moment: no clock to count down
        return f"retry {live.attempt + 1}{total} to come"
    left = max(0.0, live.retry_at - (time.monotonic() if now is None else now))
    return f"retry {live.attempt + 1}{total} · next in {left:.1f} s"


def _short(text: str) -> str:
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


class Spinner(QGraphicsRectItem):
    """An arc turning around a running node's icon (the 'animated running' state). Its
    bounds are Qt's own (the rect, set once, no pen): the scene asks for them at every
    step of every spinner, and a Python `boundingRect` was a call into Python on the GUI
    thread, waiting for the interpreter lock the running engine holds."""

    def __init__(self, parent: NodeItem) -> None:
        super().__init__(QRectF(8, 6, 44, 44), parent)
        self.setPen(QPen(Qt.PenStyle.NoPen))  # the bounds are the rect itself (no half pen width around it)
        self.angle = 0
        self.setZValue(3)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(QColor(RUN_STATE_COLORS["running"]), 3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.drawArc(QRectF(10, 8, 40, 40), -self.angle * 16, 100 * 16)

    def step(self) -> None:
        self.angle = (self.angle + 24) % 360
        self.update()

    def park(self) -> None:
        """Stop showing (Qt skips painting a fully transparent item; the index is untouched)."""
        self.setOpacity(0.0)

    def unpark(self) -> None:
        self.setOpacity(1.0)

    @property
    def parked(self) -> bool:
        return self.opacity() == 0.0


class RunCanvas(QObject):
    """Keeps the canvas items in step with one run (live or from history).

    Changes are marked dirty and painted in slices of at most `BUDGET_MS` per
    event-loop turn, so a 5,000-node run never blocks input; small changes
    (the usual live batch) are painted at once. Only items whose look changed
    are touched.
    """

    def __init__(self, scene: Callable[[], WorkflowScene | None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._scene = scene
        self.states: dict[str, NodeLive] = {}
        self.counts: Counter[str] = Counter()  # state -> nodes in it (kept in step with `states`)
        self.edges: dict[int, int] = {}
        self.total = 0
        self.run_status: str | None = None
        self._conns: list[Connection] = []
        self._conns_of: object = None  # the workflow's own list `_conns` was copied from
        self._in_edges: dict[str, list[int]] = {}
        self._out_edges: dict[str, list[int]] = {}
        self._dirty_nodes: dict[str, None] = {}
        self._dirty_edges: dict[int, None] = {}
        self._stale_edges: list[Any] = []
        self._conn_set: set[Connection] | None = None
        self._spinners: dict[str, Spinner] = {}  # turning now
        self._parked: dict[str, Spinner] = {}  # hidden, kept on their node for the next time
        self._bridge: EventBridge | None = None  # the live run whose batches are painted
        self._countdown = QTimer(self)
        self._countdown.setInterval(COUNTDOWN_MS)
        self._countdown.timeout.connect(self._tick_countdown)
        self._spin = QTimer(self)
        self._spin.setInterval(SPIN_MS)
        self._spin.timeout.connect(self._tick_spin)
        self._drain_timer = QTimer(self)
        self._drain_timer.setSingleShot(True)
        self._drain_timer.setInterval(0)
        self._drain_timer.timeout.connect(self._drain)

    @property
    def scene(self) -> WorkflowScene | None:
        return self._scene()

    # -- lifecycle -------------------------------------------------------------
    def follow(self, bridge: EventBridge) -> None:
        """Paint `bridge`'s batches as they come (one run at a time): the canvas listens to
        the run itself, nobody relays. Follow before anyone who reads the canvas back."""
        self.unfollow()
        bridge.batch_ready.connect(self.apply)
        self._bridge = bridge

    def unfollow(self) -> None:
        """Stop painting the followed bridge's batches (the run is no longer the one shown)."""
        bridge, self._bridge = self._bridge, None
        if bridge is not None and shiboken6.isValid(bridge):
            bridge.batch_ready.disconnect(self.apply)

    def _set_conns(self, workflow: Workflow) -> bool:
        """The run's connections and who links to whom; False when they are those already
        held (a run of the same workflow, or its end): nothing is rebuilt then."""
        conns = workflow.connections
        if len(conns) == len(self._conns) and (conns is self._conns_of or list(conns) == self._conns):
            self._conns_of = conns
            return False
        self._conns_of = conns
        self._conns = list(conns)
        self._conn_set = None
        self._in_edges = {}
        self._out_edges = {}
        for i, c in enumerate(self._conns):
            self._in_edges.setdefault(c.to_node, []).append(i)
            self._out_edges.setdefault(c.from_node, []).append(i)
        return True

    def begin(self, workflow: Workflow) -> None:
        """A run of `workflow` starts: every node pending, no edge labels."""
        self._reset()
        new_conns = self._set_conns(workflow)
        self.total = len(workflow.nodes)
        self.run_status = "running"
        pending = NodeLive("pending")  # never changed in place: one for every node
        self.states = dict.fromkeys((node.id for node in workflow.nodes), pending)
        self.counts = Counter(pending=len(self.states))
        self._mark({}, new_conns)
        self._schedule()

    def clear(self) -> None:
        """Back to the plain editor look."""
        self._reset()
        self._mark_all()
        self._schedule()

    def stop(self) -> None:
        """The window is going away: stop the timers and drop pending paints (no repaint)."""
        self.unfollow()
        self._reset()
        self._stale_edges.clear()

    def _reset(self) -> dict[str, NodeLive]:
        """Stop, forget the run shown; returns its node states (what the canvas shows now)."""
        self._countdown.stop()
        self._spin.stop()
        self._drain_timer.stop()
        self._dirty_nodes.clear()
        self._dirty_edges.clear()
        for node_id, spinner in self._spinners.items():
            if shiboken6.isValid(spinner):
                spinner.park()
                self._parked[node_id] = spinner
        self._spinners.clear()
        # spinners of a document that is gone were deleted with its scene
        self._parked = {k: s for k, s in self._parked.items() if shiboken6.isValid(s) and s.scene() is not None}
        shown, self.states = self.states, {}
        self.counts.clear()
        self.edges.clear()
        self.run_status = None
        self.total = 0
        return shown

    def _mark_all(self) -> None:
        """Every item that shows (or should show) run state gets repainted."""
        scene = self.scene
        if scene is None:
            return
        for item in scene.node_items():
            if item.run_state is not None or item.node_id in self.states:
                self._dirty_nodes[item.node_id] = None
        self._dirty_edges.update(dict.fromkeys(range(len(self._conns))))
        self._stale_edges = [e for e in scene.edge_items() if e.flow_label is not None or e.flow_taken is not None]

    def _mark(self, shown: dict[str, NodeLive], new_conns: bool) -> None:
        """Repaint what showed `shown` (the states before) and what shows `states` now.
        When `shown` had every node of the canvas (a live run ends, a new run of the same
        workflow) no card outside the two can show a run state, and with the same
        connections no edge outside them a label: no pass over every item then."""
        scene = self.scene
        if scene is None:
            return
        cards = len(scene.node_items())
        if new_conns or (len(shown) < cards and len(self.states) < cards):
            self._mark_all()
            return
        self._dirty_nodes.update(dict.fromkeys(shown))
        self._dirty_nodes.update(dict.fromkeys(self.states))
        self._dirty_edges.update(dict.fromkeys(range(len(self._conns))))

    def apply(self, batch: Batch) -> None:
        """Show one coalesced batch of live changes."""
        if batch.total is not None:
            self.total = batch.total
        for node_id, live in batch.nodes.items():
            old = self.states.get(node_id)
            self.states[node_id] = live
            self.counts[live.state] += 1
            if old is not None:
                self.counts[old.state] -= 1
            self._dirty_nodes[node_id] = None
            if live.state == "skipped" or (old is not None and old.state == "skipped"):
                for i in self._in_edges.get(node_id, ()):
                    self._dirty_edges[i] = None
            if live.summary and (old is None or old.summary != live.summary):
                for i in self._out_edges.get(node_id, ()):
                    if self.edges.get(i):
                        self._dirty_edges[i] = None
        if batch.run_status is not None:
            ended = batch.run_status in TERMINAL and self.run_status not in TERMINAL
            self.run_status = batch.run_status
            if ended:  # fade every branch not taken
                self._dirty_edges.update(dict.fromkeys(range(len(self._conns))))
        if batch.edges is not None:
            for i, _count in batch.edges.items() - self.edges.items():
                self._dirty_edges[i] = None
            self.edges = dict(batch.edges)
        self._schedule()

    def show_snapshot(self, workflow: Workflow, snap: RunSnapshot) -> None:
        """A run's final (or paused) statuses and edge counts; nodes that never ran stay plain."""
        shown = self._reset()
        new_conns = self._set_conns(workflow)
        self.total = len(workflow.nodes)
        self.run_status = snap.status
        waiting = snap.status in ("paused", "interrupted", "running")
        for node in workflow.nodes:
            live = snap.nodes.get(node.id)
            if live is None and waiting:
                live = NodeLive("pending")  # will run when the run resumes
            if live is not None:
                self.states[node.id] = live
        self.counts = Counter(s.state for s in self.states.values())
        self.edges = dict(snap.edges)
        self._mark(shown, new_conns)
        self._schedule()

    # -- numbers ---------------------------------------------------------------
    def progress(self) -> dict[str, Any]:
        """The engine's progress object (`engine.runtime.status.progress`) for what the canvas shows."""
        counts = self.counts
        completed = counts["succeeded"] + counts["pinned"] + counts["reused"] + counts["replayed"]  # the debugger's stand-ins ran too
        return progress(self.total or len(self.states), completed, counts["failed"], counts["skipped"])

    # -- painting --------------------------------------------------------------
    @property
    def pending_work(self) -> int:
        return len(self._dirty_nodes) + len(self._dirty_edges) + len(self._stale_edges)

    def _schedule(self) -> None:
        if self.pending_work <= SYNC_LIMIT:
            self._drain(budget_s=None)
        elif not self._drain_timer.isActive():
            self._drain_timer.start()

    def settle(self) -> None:
        """Paint everything still pending now (screenshots, tests)."""
        self._drain(budget_s=None)

    def _drain(self, budget_s: float | None = BUDGET_MS / 1000) -> None:
        deadline = None if budget_s is None else time.perf_counter() + budget_s
        scene = self.scene
        if scene is None:
            self._dirty_nodes.clear()
            self._dirty_edges.clear()
            self._stale_edges.clear()
            return
        n = 0
        while self._dirty_nodes:
            node_id = next(iter(self._dirty_nodes))
            del self._dirty_nodes[node_id]
            self._render_node(scene, node_id)
            n += 1
            if deadline is not None and n % 4 == 0 and time.perf_counter() > deadline:
                self._drain_timer.start()
                return
        if self._stale_edges and self._conn_set is None:
            self._conn_set = set(self._conns)
        while self._stale_edges:
            edge = self._stale_edges.pop()
            if edge.scene() is scene and edge.conn not in (self._conn_set or ()):
                edge.set_flow_label(None, None)
        while self._dirty_edges:
            index = next(iter(self._dirty_edges))
            del self._dirty_edges[index]
            self._render_edge(scene, index)
            n += 1
            if deadline is not None and n % 4 == 0 and time.perf_counter() > deadline:
                self._drain_timer.start()
                return

    def _render_node(self, scene: WorkflowScene, node_id: str) -> None:
        item = scene.node_item(node_id)
        if item is None:
            return
        live = self.states.get(node_id)
        if live is None:  # not part of the run shown (or never ran)
            if item.run_state is not None:
                item.set_run_state(None)
            self._set_spinner(node_id, item, False)
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
        if state not in RUN_STATES:
            state = "pending"
        if (item.run_state, item.run_badge, item.run_tooltip) != (state, badge, tip):
            item.set_run_state(state, badge, tip)
        self._set_spinner(node_id, item, state == "running")

    def _set_spinner(self, node_id: str, item: NodeItem, on: bool) -> None:
        """Show or hide the running arc. A stopped spinner is parked on its node (fully
        transparent), never removed or hidden: either makes the scene's BSP index purge
        every leaf on the next paint (10-40 ms with 20,000 items, once per running node)."""
        spinner = self._spinners.get(node_id)
        if on and spinner is None:
            spinner = self._parked.pop(node_id, None)
            if spinner is not None and shiboken6.isValid(spinner) and spinner.parentItem() is item:
                spinner.unpark()
            else:
                spinner = Spinner(item)
            self._spinners[node_id] = spinner
            if not self._spin.isActive():
                self._spin.start()
        elif not on and spinner is not None:
            del self._spinners[node_id]
            if shiboken6.isValid(spinner):
                spinner.park()
                self._parked[node_id] = spinner
            if not self._spinners:
                self._spin.stop()

    def _tick_spin(self) -> None:
        for spinner in self._spinners.values():
            spinner.step()

    def _tick_countdown(self) -> None:
        retrying = [n for n, s in self.states.items() if s.state == "retrying"]
        scene = self.scene
        if not retrying or scene is None:
            self._countdown.stop()
            return
        for node_id in retrying:
            self._render_node(scene, node_id)

    def _render_edge(self, scene: WorkflowScene, index: int) -> None:
        if index >= len(self._conns):
            return
        conn = self._conns[index]
        edge = scene.edge_item(conn)
        if edge is None:
            return
        count = self.edges.get(index, 0)
        if count:
            summary = self.states.get(conn.from_node, _PENDING).summary
            if conn.from_port == "loop":
                label: str | None = f"{count} items"
            elif count == 1:
                label = _short(summary) if summary else "1 item"
            else:
                label = f"{count} items" + (f" · {_short(summary)}" if summary else "")
            taken: bool | None = True
        else:
            target = self.states.get(conn.to_node)
            label = None
            taken = False if self.run_status in TERMINAL or (target is not None and target.state == "skipped") else None
        if edge.flow_label != label or edge.flow_taken != taken:
            edge.set_flow_label(label, taken)
