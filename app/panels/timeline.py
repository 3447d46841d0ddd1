"""The run timeline (pyqtgraph): a Gantt of node attempts and past run durations.

One row per node (in the order nodes first ran). Every attempt is its own bar
in its status colour, so retries are separate bars and the back-off wait
between a failed attempt and the next is a gap, drawn as a thin dotted line.
Hovering a bar shows its details; clicking it selects the node. Below, a bar
chart of this workflow's past run durations (one bar per run, status colour).
Live runs redraw at most `REDRAW_MS` apart (`BIG_REDRAW_MS` from `GROW_FROM` attempts
on), further apart when a redraw is costly, and the plot is only drawn while the timeline is visible:
a hidden (tabbed-away) timeline keeps its bars as data and draws them when shown.
A live redraw appends the attempts that started since the last one and updates the
changed ones in place; only an attempt that sorts before the last bar re-sorts all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsItem, QSizePolicy, QSplitter, QToolTip, QVBoxLayout, QWidget

from app.panels.history import STATUS_COLORS
from app.runner.bridge import AttemptSpan
from app.steady_label import SteadyLabel
from app.theme import RUN_STATE_COLORS

REDRAW_MS = 250
BIG_REDRAW_MS = 500  # the spacing from GROW_FROM attempts on: each redraw costs more
MAX_WAIT_MS = 2000
COST_FACTOR = 10  # wait at least this many times the last redraw's cost
LABEL_PX = 14  # a row name needs about one line of the axis font
BAR_HEIGHT = 0.6
MIN_WIDTH_S = 0.002  # a 0.1 ms attempt still shows as a sliver
GROW_FROM = 200  # live runs with this many attempts or more: the plot's ranges grow in steps
GROWTH = 1.5  # of this factor, so the axes keep their drawn picture between steps


_STYLES: dict[str, tuple[QBrush, QPen]] = {}


def _style(status: str) -> tuple[QBrush, QPen]:
    """One brush and pen per status, shared by every bar (pyqtgraph copies nothing then)."""
    style = _STYLES.get(status)
    if style is None:
        color = QColor(RUN_STATE_COLORS.get(status, RUN_STATE_COLORS["running"]))
        style = _STYLES[status] = (QBrush(color), pg.mkPen(color.darker(130)))
    return style


@dataclass(slots=True)
class Bar:
    span: AttemptSpan
    row: int
    x0: float
    x1: float


def _order(span: AttemptSpan) -> tuple[float, int]:
    """Bars (and so rows) go in the order attempts started."""
    return (span.start, span.attempt)


class TimelinePanel(QWidget):
    """The Timeline dock's widget."""

    node_clicked = Signal(str)
    run_clicked = Signal(str)  # execution id of a bar in the durations chart

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=True)
        self.spans: dict[tuple[str, str, int], AttemptSpan] = {}
        self.names: dict[str, str] = {}
        self.bars: list[Bar] = []
        self.rows: dict[tuple[str, str], int] = {}
        self.origin: float | None = None
        self._changed: dict[tuple[str, str, int], None] = {}  # attempts added or changed since the last redraw
        self._full = True  # re-sort every bar on the next redraw (a whole run was set)
        self._bar_of: dict[tuple[str, str, int], Bar] = {}
        self._row_keys: list[tuple[str, str]] = []  # (thread, node) per row
        self._node_bars: dict[tuple[str, str], list[Bar]] = {}  # a node's attempts in order
        self._groups: dict[str, tuple[list[float], list[float], list[int]]] = {}  # status -> x0s, x1s, rows
        self._failed: list[Bar] = []
        self._right = 0.0  # where the last bar ends (s)
        self.durations: list[dict[str, Any]] = []
        self._plot_stale = False  # bars changed while hidden: draw them when shown
        self._growing = False  # live attempts arrive (add_spans), not a whole run (set_spans)
        self._shown = (0.0, 0)  # the Gantt's x range end (s) and rows shown
        self._ticks: list[tuple[int, str]] | None = None  # the left axis's names as last set
        self._last_cost_ms = 0.0
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(REDRAW_MS)
        self._redraw.timeout.connect(self.redraw)
        self._live = QTimer(self)  # a running attempt's bar grows while nothing else happens
        self._live.setInterval(REDRAW_MS)
        self._live.timeout.connect(self._tick_live)

        self._build_gantt()
        self._build_history()

        self.caption = SteadyLabel("No run yet.")  # changes with every redraw of a run
        # side by side: the Gantt gets the dock's whole height (a bottom dock is short; stacked,
        # it was ~70 px and showed 2 of 4 row names), and nothing forces a tall minimum
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.gantt)
        split.addWidget(self.history)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setSizes([600, 200])
        for plot in (self.gantt, self.history):
            plot.setMinimumSize(60, 40)
        self.gantt.getPlotItem().getViewBox().sigResized.connect(self._update_ticks)
        # the names we hand the axis are already thinned to what fits: let it draw them all
        # (its default fill limit drops every other name of four rows in a short dock)
        self.gantt.getPlotItem().getAxis("left").setStyle(textFillLimits=[(0, 1.0)])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.caption.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        layout.addWidget(self.caption)
        layout.addWidget(split, 1)

    def _build_gantt(self) -> None:
        """The attempts' Gantt chart: one bar item per status, the back-off waits, hover and click."""
        self.gantt = pg.PlotWidget(background="w")
        self.gantt.setMenuEnabled(False)
        self.gantt.showGrid(x=True, y=False, alpha=0.25)
        self.gantt.getPlotItem().getAxis("bottom").enableAutoSIPrefix(False)
        self.gantt.getPlotItem().invertY(True)
        for side in ("left", "bottom"):
            # the grid makes each axis as big as the plot: without a cache, every redraw of
            # the bars repainted both axes' names and lines too
            self.gantt.getPlotItem().getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.gantt.getPlotItem().setMouseEnabled(x=True, y=False)
        # one bar item per status: a single brush and pen let pyqtgraph draw all its bars
        # in one drawRects call instead of a Python loop over 5,000 bars on every paint
        self.bar_items: dict[str, pg.BarGraphItem] = {}
        # every back-off wait in one item (segments drawn as pairs of points)
        self.gap_item = pg.PlotDataItem([], [], connect="pairs", pen=pg.mkPen(RUN_STATE_COLORS["retrying"], width=2, style=Qt.PenStyle.DotLine))
        self.gantt.addItem(self.gap_item)
        self.gantt.scene().sigMouseMoved.connect(self._hover)
        self.gantt.scene().sigMouseClicked.connect(self._click)

    def _build_history(self) -> None:
        """The past runs' durations, one bar per run."""
        self.history = pg.PlotWidget(background="w")
        self.history.setMenuEnabled(False)
        self.history.setLabel("left", "duration (s)")
        self.history.setLabel("bottom", "run #")
        self.history.showGrid(x=False, y=True, alpha=0.25)
        for side in ("left", "bottom"):
            self.history.getPlotItem().getAxis(side).enableAutoSIPrefix(False)
        self.history_bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        self.history.addItem(self.history_bars)
        self.history.scene().sigMouseClicked.connect(self._click_history)
        self.history.scene().sigMouseMoved.connect(self._hover_history)

    # -- data -----------------------------------------------------------------------
    def clear(self) -> None:
        self.spans.clear()
        self.origin = None
        self._full = True
        self._growing = False
        self._live.stop()
        self.redraw()

    def set_names(self, names: dict[str, str]) -> None:
        self.names = dict(names)
        self._schedule()

    def set_spans(self, spans: list[AttemptSpan], origin: float | None = None) -> None:
        """A whole run (from history)."""
        self.spans = {s.key: s for s in spans}
        self._full = True
        self._growing = False
        self.origin = origin if origin is not None else (min((s.start for s in spans), default=None))
        self.redraw()

    def add_spans(self, spans: list[AttemptSpan]) -> None:
        """Live updates: new or changed attempts (redrawn at most every REDRAW_MS)."""
        self._growing = True
        for s in spans:
            self.spans[s.key] = s
            self._changed[s.key] = None
            if self.origin is None or s.start < self.origin:
                self.origin = s.start
        self._schedule()

    def set_durations(self, runs: list[dict[str, Any]]) -> None:
        """Past runs of this workflow: status objects with `number` (any order)."""
        self.durations = sorted(
            (r for r in runs if (r.get("timing") or {}).get("duration_ms") is not None), key=lambda r: r.get("number") or 0
        )
        xs = [r.get("number") or i + 1 for i, r in enumerate(self.durations)]
        hs = [r["timing"]["duration_ms"] / 1000.0 for r in self.durations]
        brushes = [QColor(STATUS_COLORS.get(r.get("status", ""), "#9ca3af")) for r in self.durations]
        self.history_bars.setOpts(x=xs, height=hs, width=0.7, brushes=brushes or None, pen=pg.mkPen(None))
        axis = self.history.getPlotItem().getAxis("bottom")
        if 0 < len(xs) <= 30:
            axis.setTickSpacing(1, 1)  # one tick per run
        else:
            axis.setTickSpacing()
        if xs:
            self.history.getPlotItem().setXRange(min(xs) - 0.8, max(xs) + 0.8, padding=0)
            self.history.getPlotItem().setYRange(0, max(hs) * 1.15 or 1, padding=0)

    def _schedule(self) -> None:
        if not self._redraw.isActive():
            spacing = REDRAW_MS if len(self.bars) < GROW_FROM else BIG_REDRAW_MS
            self._redraw.start(max(spacing, min(MAX_WAIT_MS, round(self._last_cost_ms * COST_FACTOR))))

    def _tick_live(self) -> None:
        if not any(s.end is None for s in self.spans.values()):
            self._live.stop()
        elif self.isVisible() and not self._redraw.isActive():
            self._schedule()  # the running bar grows, at the same spacing as other redraws

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._plot_stale:
            self.redraw()

    # -- drawing ----------------------------------------------------------------------
    def redraw(self) -> None:
        """Recompute the bars; draw them now if the timeline is visible, else when shown."""
        self._redraw.stop()
        t0 = time.perf_counter()
        self._place()
        right, running = self._measure()
        if self.bars:
            attempts = len(self.bars)
            retries = attempts - len(self.rows)
            self.caption.setText(f"{len(self.rows)} nodes · {attempts} attempts" + (f" · {retries} retries" if retries else "") + f" · {right:.2f} s")
        else:
            self.caption.setText("No run yet.")
        if running and not self._live.isActive():
            self._live.start()
        if self.isVisible():
            self._draw()
        else:
            self._plot_stale = True
        self._last_cost_ms = (time.perf_counter() - t0) * 1000

    def _place(self) -> None:
        """Bring `bars` and `rows` in step with `spans`. A live run's new attempts start after
        every bar so far: they are appended, and changed attempts updated in place; anything
        else (a whole run, an attempt that moved or sorts earlier) re-sorts them all."""
        changed, self._changed = self._changed, {}
        if not self._full:
            fresh = sorted((self.spans[k] for k in changed if k not in self._bar_of), key=_order)
            moved = any(k in self._bar_of and self._bar_of[k].span.start != self.spans[k].start for k in changed)
            if not moved and (not fresh or not self.bars or _order(fresh[0]) >= _order(self.bars[-1].span)):
                for k in changed:
                    bar = self._bar_of.get(k)
                    if bar is not None:
                        bar.span = self.spans[k]
                for span in fresh:
                    self._append(span)
                return
        self._full = False
        self.bars, self.rows, self._bar_of, self._row_keys, self._node_bars = [], {}, {}, [], {}
        for span in sorted(self.spans.values(), key=_order):
            self._append(span)

    def _append(self, span: AttemptSpan) -> None:
        """A bar for `span` after every other; a node seen for the first time gets the next row."""
        key = (span.thread_id, span.node_id)
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = len(self.rows)
            self._row_keys.append(key)
        bar = Bar(span, row, 0.0, 0.0)
        self.bars.append(bar)
        self._bar_of[span.key] = bar
        self._node_bars.setdefault(key, []).append(bar)

    def _measure(self) -> tuple[float, bool]:
        """Every bar's ends for the current origin and clock (a running attempt grows, and the
        shortest width grows with the run), grouped by status for drawing, in one pass.
        Returns the right end of the last bar and whether an attempt is still running."""
        origin = self.origin or 0.0
        now = time.time()
        ends = [now if b.span.end is None else b.span.end for b in self.bars]
        span_s = max(ends) - origin if ends else 0.0
        min_width = max(MIN_WIDTH_S, span_s * 0.003)  # a 0.1 ms attempt stays visible next to a 3 s back-off
        groups: dict[str, tuple[list[float], list[float], list[int]]] = {}
        failed: list[Bar] = []
        right = 0.0
        for bar, end in zip(self.bars, ends, strict=True):
            span = bar.span
            x0 = span.start - origin
            x1 = end - origin
            if x1 < x0 + min_width:
                x1 = x0 + min_width
            bar.x0, bar.x1 = x0, x1
            right = x1 if x1 > right else right
            group = groups.get(span.status)
            if group is None:
                group = groups[span.status] = ([], [], [])
            group[0].append(x0)
            group[1].append(x1)
            group[2].append(bar.row)
            if span.status == "failed":
                failed.append(bar)
        self._groups = groups
        self._failed = failed
        self._right = right
        return right, len(ends) > 0 and any(b.span.end is None for b in self.bars)

    def _draw(self) -> None:
        self._plot_stale = False
        for status in set(self.bar_items) | set(self._groups):
            x0, x1, rows = self._groups.get(status, ([], [], []))
            item = self.bar_items.get(status)
            if item is None:
                brush, pen = _style(status)
                item = self.bar_items[status] = pg.BarGraphItem(x0=[], x1=[], y=[], height=BAR_HEIGHT, brush=brush, pen=pen)
                self.gantt.addItem(item)
            item.setOpts(x0=x0, x1=x1, y=rows, height=BAR_HEIGHT)
        # back-off waits: a dotted line from a failed attempt to the node's next one
        gx: list[float] = []
        gy: list[float] = []
        for a in self._failed:
            attempts = self._node_bars[(a.span.thread_id, a.span.node_id)]
            i = attempts.index(a)
            if i + 1 < len(attempts) and attempts[i + 1].x0 > a.x1:
                gx += [a.x1, attempts[i + 1].x0]
                gy += [a.row, a.row]
        self.gap_item.setData(gx, gy, connect="pairs")
        if self.bars:
            self._fit_ranges()
        self._update_ticks()

    def _fit_ranges(self) -> None:
        """Show every bar. A big live run grows the ranges by GROWTH when the bars reach
        their end: a new range makes pyqtgraph lay out and draw both axes again, which
        was most of the Gantt's paint time when the range followed every redraw."""
        right, rows = self._right * 1.03 or 0.01, len(self.rows)
        shown_right, shown_rows = self._shown
        if not (self._growing and len(self.bars) >= GROW_FROM):
            shown_right, shown_rows = right, rows
        else:
            if right > shown_right:
                shown_right = right * GROWTH
            if rows > shown_rows:
                shown_rows = int(rows * GROWTH)
        if (shown_right, shown_rows) != self._shown:
            self._shown = (shown_right, shown_rows)
            plot = self.gantt.getPlotItem()
            plot.setXRange(-shown_right * 0.01 / 1.03, shown_right, padding=0)
            plot.setYRange(-0.7, shown_rows - 0.3, padding=0)

    def _update_ticks(self, *_args: Any) -> None:
        """As many node names down the side as fit in the plot's height (one per LABEL_PX;
        5,000 labels would be unreadable and slow to lay out); again after every resize.
        Spaced for the rows shown, so a growing run adds names without moving the others."""
        height = self.gantt.getPlotItem().getViewBox().height()
        shown = max(len(self.rows), self._shown[1])
        fit = max(2, int(height // LABEL_PX)) if height > 0 else shown
        step = max(1, -(-shown // fit))
        ticks = [(row, self._label(self._row_keys[row])) for row in range(0, len(self._row_keys), step)]
        if ticks != self._ticks:  # new ticks make the axis lay out and draw its names again
            self._ticks = ticks
            self.gantt.getPlotItem().getAxis("left").setTicks([ticks])

    def _label(self, key: tuple[str, str]) -> str:
        thread, node = key
        name = self.names.get(node, node)
        return name if thread == "main" else f"{name} ({thread.split('/')[-1]})"

    # -- mouse ------------------------------------------------------------------------
    def bar_at(self, x: float, y: float) -> Bar | None:
        for b in self.bars:
            if b.x0 <= x <= b.x1 and abs(y - b.row) <= BAR_HEIGHT / 2:
                return b
        return None

    def describe(self, bar: Bar) -> str:
        s = bar.span
        dur = (bar.x1 - bar.x0) * 1000
        lines = [f"{self.names.get(s.node_id, s.node_id)} — attempt {s.attempt}", f"{s.status} · {dur:.1f} ms · starts at {bar.x0:.3f} s"]
        if s.error:
            lines.append(f"error: {s.error}")
        if s.retry_delay is not None:
            lines.append(f"back-off before the next attempt: {s.retry_delay:.2f} s")
        return "\n".join(lines)

    def _scene_to_view(self, plot: pg.PlotWidget, pos: QPointF) -> QPointF | None:
        vb = plot.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(pos):
            return None
        point: QPointF = vb.mapSceneToView(pos)
        return point

    def _hover(self, pos: QPointF) -> None:
        p = self._scene_to_view(self.gantt, pos)
        bar = self.bar_at(p.x(), p.y()) if p is not None else None
        text = self.describe(bar) if bar is not None else ""
        self.gantt.setToolTip(text)
        if text:
            QToolTip.showText(self.gantt.mapToGlobal(self.gantt.mapFromScene(pos)), text, self.gantt)

    def _click(self, event: Any) -> None:
        p = self._scene_to_view(self.gantt, event.scenePos())
        bar = self.bar_at(p.x(), p.y()) if p is not None else None
        if bar is not None:
            self.node_clicked.emit(bar.span.node_id)

    def run_at(self, x: float) -> dict[str, Any] | None:
        for r in self.durations:
            if abs((r.get("number") or 0) - x) <= 0.35:
                return r
        return None

    def _hover_history(self, pos: QPointF) -> None:
        p = self._scene_to_view(self.history, pos)
        run = self.run_at(p.x()) if p is not None else None
        text = ""
        if run is not None:
            text = f"run #{run.get('number')} · {run.get('status')} · {run['timing']['duration_ms'] / 1000:.2f} s"
        self.history.setToolTip(text)

    def _click_history(self, event: Any) -> None:
        p = self._scene_to_view(self.history, event.scenePos())
        run = self.run_at(p.x()) if p is not None else None
        if run is not None:
            self.run_clicked.emit(run["execution_id"])
