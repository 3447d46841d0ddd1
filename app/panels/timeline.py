"""The run timeline (pyqtgraph): a Gantt of node attempts and past run durations.

One row per node (in the order nodes first ran). Every attempt is its own bar
in its status colour, so retries are separate bars and the back-off wait
between a failed attempt and the next is a gap, drawn as a thin dotted line.
Hovering a bar shows its details; clicking it selects the node. Below, a bar
chart of this workflow's past run durations (one bar per run, status colour).
Live runs redraw at most `REDRAW_MS` apart (`BIG_REDRAW_MS` from `GROW_FROM` attempts
on), further apart when a redraw is costly, and the plot is only drawn while the timeline is on
screen: a hidden or tabbed-away timeline keeps its bars as data and draws them when shown
(Qt keeps a dock tabbed behind another "visible", so its dock's visibilityChanged tells).
A live redraw appends the attempts that started since the last one and updates the
changed ones in place; only an attempt that sorts before the last bar re-sorts all.
The bars' numbers are kept as arrays (`_Columns`), so measuring 5,000 bars and grouping
them by status is a few array operations, not a Python loop per bar.

While a run goes, its engine thread holds the interpreter lock most of the time, and the
Gantt's paint (one call from Qt into Python) waits for it and is taken from again every
few milliseconds it runs Python: what a paint does is what a click waits for. So every
bar and back-off wait is drawn by one plain Qt item from prebuilt arrays (`_GanttItem`),
and a big live run keeps pyqtgraph from laying out and drawing its axes again at each
redraw: its ranges step to where the run should end (`_leap`) and its names column is as
wide as the workflow's widest name from the start (`_fit_names`). A run's record at its end (`set_spans`)
updates the live bars in place when its attempts come in the same order. The first and
last row keep half a name's height of room, so the plot's edge does not cut their names.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt.internals import PrimitiveArray
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import (
    QDockWidget,
    QGraphicsItem,
    QGraphicsRectItem,
    QSizePolicy,
    QSplitter,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

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
GROWTH = 1.5  # by this factor at least, so the axes keep their drawn picture between steps
MAX_LEAP = 4.0  # and at most this one
ROW_ROOM = 0.7  # rows of room above the first row and below the last, at the least


_STYLES: dict[str, tuple[QBrush, QPen]] = {}


def _style(status: str) -> tuple[QBrush, QPen]:
    """One brush and pen per status, shared by every bar (pyqtgraph copies nothing then)."""
    style = _STYLES.get(status)
    if style is None:
        color = QColor(RUN_STATE_COLORS.get(status, RUN_STATE_COLORS["running"]))
        style = _STYLES[status] = (QBrush(color), pg.mkPen(color.darker(130)))
    return style


_CODES: dict[str, int] = {}  # status -> its number in `_Columns.code`
_STATUS_OF: list[str] = []


def _code(status: str) -> int:
    code = _CODES.get(status)
    if code is None:
        code = _CODES[status] = len(_STATUS_OF)
        _STATUS_OF.append(status)
    return code


class _Columns:
    """The bars' numbers, one array each, indexed by a bar's place in drawing order:
    start and end (epoch s; NaN while running), row, status code, and the ends as drawn."""

    def __init__(self) -> None:
        self.n = 0
        self.start = self.end = self.row = self.x0 = self.x1 = np.zeros(0)
        self.code = np.zeros(0, dtype=np.int16)

    def reserve(self, n: int) -> None:
        if n <= len(self.start):
            return
        size = max(n, 2 * len(self.start), 64)
        for name in ("start", "end", "row", "x0", "x1", "code"):
            old = getattr(self, name)
            new = np.zeros(size, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def put(self, i: int, span: AttemptSpan) -> None:
        self.start[i] = span.start
        self.end[i] = np.nan if span.end is None else span.end
        self.code[i] = _code(span.status)

    def fill(self, spans: list[AttemptSpan], rows: list[int] | None = None, at: int = 0) -> None:
        """The bars from `at` on, in order (a whole run, or the attempts a live redraw appends)."""
        n = len(spans)
        end = self.n = at + n
        self.reserve(end)
        self.start[at:end] = np.fromiter((s.start for s in spans), float, n)
        self.end[at:end] = np.fromiter((np.nan if s.end is None else s.end for s in spans), float, n)
        self.code[at:end] = np.fromiter((_code(s.status) for s in spans), np.int16, n)
        if rows is not None:
            self.row[at:end] = rows


@dataclass(slots=True, eq=False)
class Bar:
    """One attempt's bar: its span, row and place; its ends as drawn come from the columns."""

    span: AttemptSpan
    row: int
    index: int
    columns: _Columns

    @property
    def x0(self) -> float:
        return float(self.columns.x0[self.index])

    @property
    def x1(self) -> float:
        return float(self.columns.x1[self.index])


class _GanttItem(QGraphicsRectItem):
    """Every bar and back-off wait of the Gantt in one plain Qt item: one call into Python
    per paint, which draws prebuilt arrays (a few C calls per status). pyqtgraph's own
    items made several calls into Python per paint each (boundingRect, paint, their view
    hooks), and each call from Qt on the GUI thread waits for the interpreter lock while
    a run's engine thread holds it. Its bounds are the rectangle's (Qt's own boundingRect,
    which the scene also asks for outside a paint, straight from the event loop). Bars are
    axis-aligned rectangles: no antialiasing."""

    def __init__(self) -> None:
        super().__init__()
        self.setPen(QPen(Qt.PenStyle.NoPen))  # the bounds are the rectangle, nothing added
        self.rects: dict[str, Any] = {}  # status -> PrimitiveArray of QRectF
        self.gaps: list[QLineF] = []
        self._gap_pen = pg.mkPen(RUN_STATE_COLORS["retrying"], width=2, style=Qt.PenStyle.DotLine)

    def set_bars(self, bars: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], gaps: list[QLineF]) -> None:
        """Each status's bars as arrays (x0, x1, row), and the waits as lines."""
        lefts, rights, rows = [], [], []
        for status in self.rects.keys() - bars.keys():
            self.rects[status].resize(0)  # no bar of this status any more
        for status, (x0, x1, y) in bars.items():
            arr = self.rects.get(status)
            if arr is None:
                arr = self.rects[status] = PrimitiveArray(QRectF, 4)
            arr.resize(len(x0))
            if len(x0):
                memory = arr.ndarray()
                memory[:, 0] = x0
                memory[:, 1] = y - BAR_HEIGHT / 2
                memory[:, 2] = x1 - x0
                memory[:, 3] = BAR_HEIGHT
                lefts.append(x0.min())
                rights.append(x1.max())
                rows += [y.min(), y.max()]
        self.gaps = gaps
        bounds = QRectF()
        if lefts:
            left, right, top, bottom = min(lefts), max(rights), min(rows), max(rows)
            # room for the outlines (a pixel): 2 % of each side is several pixels at any size
            dx, dy = (right - left) * 0.02 or 0.01, 1 + (bottom - top) * 0.02
            bounds = QRectF(left - dx, top - dy, right - left + 2 * dx, bottom - top + 2 * dy)
        self.setRect(bounds)  # a new rectangle tells the scene; the same one needs:
        self.update()

    def drawn(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """What the item draws: each status's bars as (x0, x1, row), statuses with bars only."""
        out = {}
        for status, arr in self.rects.items():
            if len(arr):
                m = arr.ndarray()
                out[status] = (m[:, 0].copy(), m[:, 0] + m[:, 2], m[:, 1] + BAR_HEIGHT / 2)
        return out

    def paint(self, painter: QPainter, *_args: Any) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        if self.gaps:
            painter.setPen(self._gap_pen)
            painter.drawLines(self.gaps)
        for status, arr in self.rects.items():
            if len(arr):
                brush, pen = _style(status)
                painter.setPen(pen)
                painter.setBrush(brush)
                painter.drawRects(*arr.drawargs())


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
        self._columns = _Columns()
        self._bar_of: dict[tuple[str, str, int], Bar] = {}
        self._row_keys: list[tuple[str, str]] = []  # (thread, node) per row
        self._node_bars: dict[tuple[str, str], list[Bar]] = {}  # a node's attempts in order
        self._running = False  # an attempt has not ended (its bar grows with the clock)
        self._measured_n = 0  # bars whose ends are computed (those placed since wait for a redraw)
        self._right = 0.0  # where the last bar ends (s)
        self.durations: list[dict[str, Any]] = []
        self._plot_stale = False  # bars changed while hidden: draw them when shown
        self._in_front = True  # False while its dock is a tab behind another
        self._dock: QDockWidget | None = None
        self._growing = False  # live attempts arrive (add_spans), not a whole run (set_spans)
        self._shown = (0.0, 0)  # the Gantt's x range end (s) and rows shown
        self._y_range = (0.0, 0.0)  # as last set, with the room the end rows' names need
        self._ticks: list[tuple[int, str]] | None = None  # the left axis's names as last set
        self._names_px: int | None = None  # the widest name's width (see _fit_names)
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
        self.gantt.getPlotItem().getViewBox().sigResized.connect(self._resized)
        # the names we hand the axis are already thinned to what fits: let it draw them all
        # (its default fill limit drops every other name of four rows in a short dock)
        self.gantt.getPlotItem().getAxis("left").setStyle(textFillLimits=[(0, 1.0)])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.caption.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        layout.addWidget(self.caption)
        layout.addWidget(split, 1)

    def _build_gantt(self) -> None:
        """The attempts' Gantt chart: the bars and back-off waits in one item, hover and click."""
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
        self.gantt_item = _GanttItem()
        self.gantt.getPlotItem().addItem(self.gantt_item, ignoreBounds=True)
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
        if names != self.names:
            self.names = dict(names)
            self._names_px = None
        self._schedule()

    def set_spans(self, spans: list[AttemptSpan], origin: float | None = None) -> None:
        """A whole run (from history, or a live run's record as it ended). When its attempts
        start in the order of the bars shown (a live run's end), the bars are kept and only
        their numbers replaced: no re-sort, no new rows."""
        if not self._full and self._changed:
            self._place()  # the live attempts not drawn yet join the bars first
        self.origin = origin if origin is not None else (min((s.start for s in spans), default=None))
        self._growing = False
        shown = list(self._bar_of)  # the bars' keys, in order
        ordered = spans
        keys = [s.key for s in spans]
        if keys != shown:
            ordered = sorted(spans, key=_order)
            keys = [s.key for s in ordered]
        if not self._full and keys == shown:
            self.spans = dict(zip(keys, ordered, strict=True))
            for s, bar in zip(ordered, self.bars, strict=True):
                bar.span = s
            self._columns.fill(ordered)
        else:
            self.spans = dict(zip(keys, ordered, strict=True))
            self._full = True
        self.redraw()

    def add_spans(self, spans: list[AttemptSpan]) -> None:
        """Live updates: new or changed attempts. They are placed at once (a batch's few
        attempts: the per-attempt work is spread over the run instead of piling up for
        each redraw) and drawn at most every REDRAW_MS."""
        self._growing = True
        for s in spans:
            self.spans[s.key] = s
            self._changed[s.key] = None
            if self.origin is None or s.start < self.origin:
                self.origin = s.start
        if not self._full:
            self._place(only_in_order=True)
        self._schedule()
        if self._live.isActive():
            self._live.start()  # its tick is for a bar growing while nothing comes: not due while attempts come

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
        if not self._running and not self._changed:
            self._live.stop()
        elif self.on_screen() and not self._redraw.isActive():
            self._schedule()  # the running bar grows, at the same spacing as other redraws

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self._follow_dock()
        if (self._plot_stale or self._redraw.isActive()) and self.on_screen():
            self.redraw()

    def on_screen(self) -> bool:
        """Shown and in front. A dock tabbed behind another stays 'visible' to Qt (it is
        moved out of the window), so its dock's visibilityChanged says which tab is in front."""
        return self.isVisible() and self._in_front

    def _follow_dock(self) -> None:
        dock = self.parentWidget()
        while dock is not None and not isinstance(dock, QDockWidget):
            dock = dock.parentWidget()
        if dock is not self._dock:
            if self._dock is not None:
                self._dock.visibilityChanged.disconnect(self._dock_shown)
                self._dock.topLevelChanged.disconnect(self._dock_floated)
            self._dock = dock
            if dock is not None:
                dock.visibilityChanged.connect(self._dock_shown)
                dock.topLevelChanged.connect(self._dock_floated)

    def _dock_floated(self, floating: bool) -> None:
        """A dock pulled out of a tab group is its own window, in front, and Qt says so with
        no visibilityChanged: without this its timeline stayed blank until tabbed again."""
        if floating:
            self._dock_shown(True)

    def _dock_shown(self, shown: bool) -> None:
        self._in_front = shown
        if shown and (self._plot_stale or self._redraw.isActive()) and self.isVisible():
            self.redraw()

    # -- drawing ----------------------------------------------------------------------
    def redraw(self) -> None:
        """Recompute the bars; draw them now if the timeline is visible, else when shown."""
        self._redraw.stop()
        t0 = time.perf_counter()
        self._place()
        self._measure()
        if self.bars:
            attempts = len(self.bars)
            retries = attempts - len(self.rows)
            self.caption.setText(f"{len(self.rows)} nodes · {attempts} attempts" + (f" · {retries} retries" if retries else "") + f" · {self._right:.2f} s")
        else:
            self.caption.setText("No run yet.")
        if self._running and not self._live.isActive():
            self._live.start()
        if self.on_screen():
            self._draw()
        else:
            self._plot_stale = True
        self._last_cost_ms = (time.perf_counter() - t0) * 1000

    def _place(self, *, only_in_order: bool = False) -> None:
        """Bring `bars`, `rows` and the columns in step with `spans`. A live run's new
        attempts start after every bar so far: they are appended, and changed attempts
        updated in place; anything else (a whole run, an attempt that moved or sorts
        earlier) re-sorts them all - at the next redraw when `only_in_order`."""
        columns = self._columns
        if not self._full:
            changed = self._changed
            fresh = sorted((self.spans[k] for k in changed if k not in self._bar_of), key=_order)
            moved = any(k in self._bar_of and self._bar_of[k].span.start != self.spans[k].start for k in changed)
            if not moved and (not fresh or not self.bars or _order(fresh[0]) >= _order(self.bars[-1].span)):
                for k in changed:
                    bar = self._bar_of.get(k)
                    if bar is not None:
                        bar.span = self.spans[k]
                        columns.put(bar.index, bar.span)
                at = len(self.bars)
                columns.fill(fresh, [self._append(span).row for span in fresh], at)
                self._changed = {}
                return
            if only_in_order:
                self._full = True
                return
        self._changed = {}
        self._full = False
        self.bars, self.rows, self._bar_of, self._row_keys, self._node_bars = [], {}, {}, [], {}
        ordered = sorted(self.spans.values(), key=_order)
        for span in ordered:
            self._append(span)
        columns.fill(ordered, [b.row for b in self.bars])

    def _append(self, span: AttemptSpan) -> Bar:
        """A bar for `span` after every other; a node seen for the first time gets the next row.
        The columns are the caller's to fill."""
        key = (span.thread_id, span.node_id)
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = len(self.rows)
            self._row_keys.append(key)
        bar = Bar(span, row, len(self.bars), self._columns)
        self.bars.append(bar)
        self._bar_of[span.key] = bar
        bars = self._node_bars.get(key)
        if bars is None:
            self._node_bars[key] = [bar]
        else:
            bars.append(bar)
        return bar

    def _measure(self) -> None:
        """Every bar's ends for the current origin and clock (a running attempt grows, and
        the shortest width grows with the run), as array operations over the columns."""
        c = self._columns
        n = c.n
        end = c.end[:n]
        running = np.isnan(end)
        self._running = bool(running.any())
        ends = np.where(running, time.time(), end) if self._running else end
        origin = self.origin or 0.0
        span_s = float(ends.max()) - origin if n else 0.0
        min_width = max(MIN_WIDTH_S, span_s * 0.003)  # a 0.1 ms attempt stays visible next to a 3 s back-off
        x0 = c.x0[:n]
        np.subtract(c.start[:n], origin, out=x0)
        np.maximum(ends - origin, x0 + min_width, out=c.x1[:n])
        self._right = float(c.x1[:n].max()) if n else 0.0
        self._measured_n = n

    def _draw(self) -> None:
        self._plot_stale = False
        c = self._columns
        n = c.n
        codes = c.code[:n]
        x0, x1, rows = c.x0[:n], c.x1[:n], c.row[:n]
        bars = {}
        for k in np.unique(codes) if n else ():
            mine = codes == k
            bars[_STATUS_OF[k]] = (x0[mine], x1[mine], rows[mine])
        self.gantt_item.set_bars(bars, self._gaps())
        if self.bars:
            self._fit_ranges()
        self._update_ticks()

    def _gaps(self) -> list[QLineF]:
        """Back-off waits: a dotted line from a failed attempt to the node's next one."""
        gaps: list[QLineF] = []
        if "failed" in _CODES:
            for i in np.flatnonzero(self._columns.code[: self._columns.n] == _CODES["failed"]):
                a = self.bars[i]
                attempts = self._node_bars[(a.span.thread_id, a.span.node_id)]
                k = attempts.index(a)
                if k + 1 < len(attempts) and attempts[k + 1].x0 > a.x1:
                    gaps.append(QLineF(a.x1, a.row, attempts[k + 1].x0, a.row))
        return gaps

    def _fit_ranges(self) -> None:
        """Show every bar. A big live run steps its ranges when the bars reach their end:
        a new range makes pyqtgraph lay out and draw both axes again, which was most of
        the Gantt's paint time when the range followed every redraw."""
        right, rows = self._right * 1.03 or 0.01, len(self.rows)
        shown_right, shown_rows = self._shown
        if not (self._growing and len(self.bars) >= GROW_FROM):
            shown_right, shown_rows = right, rows
        else:
            leap = self._leap(rows)
            if right > shown_right:
                shown_right = right * leap
            if rows > shown_rows:
                shown_rows = math.ceil(rows * leap)
                if rows <= len(self.names):
                    shown_rows = min(shown_rows, len(self.names))
        self._fit_names()
        if shown_right != self._shown[0]:
            self.gantt.getPlotItem().setXRange(-shown_right * 0.01 / 1.03, shown_right, padding=0)
        self._shown = (shown_right, shown_rows)
        self._fit_rows()
        self.gantt.getPlotItem().getViewBox().updateMatrix()  # now, not in the paint (it asked for a second one)

    def _leap(self, rows: int) -> float:
        """How far a growing range steps: to where the run ends if the workflow's nodes
        not started yet come at the pace so far (one step for a steady chain), at least
        GROWTH and at most MAX_LEAP (a slow first node would make the guess far too long)."""
        nodes = len(self.names)
        expected = nodes / rows * 1.05 if 0 < rows < nodes else 0.0
        return min(MAX_LEAP, max(GROWTH, expected))

    def _fit_names(self) -> None:
        """A run of GROW_FROM attempts or more keeps its names' column as wide as the
        workflow's widest name, live and once ended, run after run: a wider name shown
        later re-laid out the whole plot and drew it again (twice, with both axes).
        Smaller runs fit the names they show."""
        left = self.gantt.getPlotItem().getAxis("left")
        width = self._names_width() if len(self.bars) >= GROW_FROM and self.names else None
        if width != left.fixedWidth:
            left.setWidth(width)
            self.gantt.getPlotItem().layout.activate()  # the plot's new size now, not in another paint

    def _names_width(self) -> int:
        """The widest name's width (measured once per workflow), a third of the panel at most."""
        left = self.gantt.getPlotItem().getAxis("left")
        if self._names_px is None:
            metrics = QFontMetricsF(left.style["tickFont"] or QFont())
            longest = heapq.nlargest(20, self.names.values(), key=len)  # the widest is among the longest
            self._names_px = math.ceil(max((metrics.horizontalAdvance(name) for name in longest), default=0.0))
        text = min(self._names_px, self.width() // 3)
        return text + 2 + int(left.style["tickTextOffset"][0]) + max(0, int(left.style["tickLength"]))

    def _row_room(self, rows: int) -> float:
        """Rows of room above the first row and below the last: ROW_ROOM, and at least
        half a name's height in pixels, so the axis draws their names whole."""
        height = float(self.gantt.getPlotItem().getViewBox().height())
        half = LABEL_PX / 2 + 1
        if height <= 4 * half:
            return ROW_ROOM
        return max(ROW_ROOM, half * max(rows - 1, 0) / (height - 2 * half))

    def _fit_rows(self) -> None:
        room = self._row_room(self._shown[1])
        y_range = (-room, self._shown[1] - 1 + room)
        if y_range != self._y_range:
            self._y_range = y_range
            self.gantt.getPlotItem().setYRange(*y_range, padding=0)

    def _resized(self, *_args: Any) -> None:
        """A new height: the end rows' names need another room, and fewer or more names fit."""
        if self.bars and not self._plot_stale:
            self._fit_rows()
        self._update_ticks()

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
            left = self.gantt.getPlotItem().getAxis("left")
            left.setTicks([ticks])
            if left.fixedWidth is not None and self._names_px is not None:
                self._widen_names([label for _row, label in ticks])

    def _widen_names(self, labels: list[str]) -> None:
        """A name shown with its loop thread's suffix can be wider than every node's name:
        the column grows to it (and stays so for this workflow)."""
        metrics = QFontMetricsF(self.gantt.getPlotItem().getAxis("left").style["tickFont"] or QFont())
        wide = math.ceil(max((metrics.horizontalAdvance(label) for label in labels), default=0.0))
        if self._names_px is not None and wide > self._names_px:
            self._names_px = wide
            self._fit_names()

    def _label(self, key: tuple[str, str]) -> str:
        thread, node = key
        name = self.names.get(node, node)
        return name if thread == "main" else f"{name} ({thread.split('/')[-1]})"

    # -- mouse ------------------------------------------------------------------------
    def bar_at(self, x: float, y: float) -> Bar | None:
        """The bar under a point of the plot: only its row's attempts are looked at."""
        row = round(y)
        if abs(y - row) > BAR_HEIGHT / 2 or not 0 <= row < len(self._row_keys):
            return None
        for b in self._node_bars.get(self._row_keys[row], ()):
            if b.index < self._measured_n and b.x0 <= x <= b.x1:
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
