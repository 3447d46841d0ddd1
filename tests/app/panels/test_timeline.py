"""The timeline: one bar per attempt, back-off gaps, hover details, click selects, past durations."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt

from app.panels.timeline import TimelinePanel
from app.runner.bridge import AttemptSpan

T0 = 1_700_000_000.0


def _spans():
    return [
        AttemptSpan("main", "start", 1, T0, T0 + 0.001, "succeeded"),
        AttemptSpan("main", "get", 1, T0 + 0.01, T0 + 0.05, "failed", "HTTP 503", 0.5),
        AttemptSpan("main", "get", 2, T0 + 0.55, T0 + 0.6, "failed", "HTTP 503", 0.75),
        AttemptSpan("main", "get", 3, T0 + 1.35, T0 + 1.4, "succeeded"),
        AttemptSpan("main", "done", 1, T0 + 1.41, T0 + 1.42, "succeeded"),
    ]


def test_attempts_gaps_hover_and_click(qtbot):
    panel = TimelinePanel()
    qtbot.addWidget(panel)
    panel.resize(800, 400)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_names({"start": "Start", "get": "Get items", "done": "Done"})
    panel.set_spans(_spans())
    assert [(b.span.node_id, b.row) for b in panel.bars] == [("start", 0), ("get", 1), ("get", 1), ("get", 1), ("done", 2)]
    gets = [b for b in panel.bars if b.span.node_id == "get"]
    assert abs(gets[1].x0 - 0.55) < 1e-6 and abs(gets[0].x1 - 0.05) < 1e-6
    gaps = [(g.x1(), g.y1(), g.x2(), g.y2()) for g in panel.gantt_item.gaps]  # the two back-off waits
    assert [y for _x1, y, _x2, y2 in gaps for y in (y, y2)] == [1, 1, 1, 1]
    assert [round(x, 6) for x1, _y, x2, _y2 in gaps for x in (x1, x2)] == [0.05, 0.55, 0.6, 1.35]
    # the bars grouped by status, each status drawn in one call
    assert {k: len(v[0]) for k, v in panel.gantt_item.drawn().items()} == {"succeeded": 3, "failed": 2}
    assert panel.caption.text() == "3 nodes · 5 attempts · 2 retries · 1.42 s"
    ticks = panel.gantt.getPlotItem().getAxis("left")._tickLevels[0]
    assert [t[1] for t in ticks] == ["Start", "Get items", "Done"]
    text = panel.describe(gets[0])
    assert "Get items — attempt 1" in text and "HTTP 503" in text and "0.50 s" in text
    assert panel.bar_at(0.03, 1.1) is gets[0] and panel.bar_at(0.3, 1.0) is None  # a gap is empty
    # hover and click through the real plot scene
    vb = panel.gantt.getPlotItem().getViewBox()
    scene_pos = vb.mapViewToScene(QPointF(1.375, 1.0))
    panel._hover(scene_pos)
    assert "attempt 3" in panel.gantt.toolTip()
    clicked = []
    panel.node_clicked.connect(clicked.append)
    from PySide6.QtTest import QTest

    QTest.mouseClick(panel.gantt.viewport(), Qt.MouseButton.LeftButton, pos=panel.gantt.mapFromScene(scene_pos))
    assert clicked == ["get"]


def test_live_spans_and_durations(qtbot):
    panel = TimelinePanel()
    qtbot.addWidget(panel)
    panel.add_spans([AttemptSpan("main", "a", 1, T0)])  # still running
    qtbot.waitUntil(lambda: len(panel.bars) == 1, timeout=2000)
    assert panel._live.isActive() and panel.bars[0].span.status == "running"
    panel.add_spans([AttemptSpan("main", "a", 1, T0, T0 + 0.2, "succeeded")])
    qtbot.waitUntil(lambda: panel.bars[0].span.status == "succeeded", timeout=2000)
    runs = [
        {"execution_id": "e2", "number": 2, "status": "failed", "timing": {"duration_ms": 500.0}},
        {"execution_id": "e1", "number": 1, "status": "completed", "timing": {"duration_ms": 1500.0}},
        {"execution_id": "e3", "number": 3, "status": "running", "timing": {"duration_ms": None}},
    ]
    panel.set_durations(runs)
    assert [r["number"] for r in panel.durations] == [1, 2]
    assert list(panel.history_bars.opts["height"]) == [1.5, 0.5]
    assert panel.run_at(2.2)["execution_id"] == "e2" and panel.run_at(2.5) is None
    panel.clear()
    assert panel.bars == [] and panel.caption.text() == "No run yet."


def test_a_hidden_timeline_keeps_data_and_draws_when_shown(qtbot):
    """Tabbed away behind History or Log, the timeline does not redraw 5,000 bars per frame."""
    panel = TimelinePanel()
    qtbot.addWidget(panel)
    panel.resize(800, 400)
    panel.set_spans(_spans())
    assert len(panel.bars) == 5 and panel.caption.text().startswith("3 nodes · 5 attempts")

    def drawn() -> int:
        return _drawn(panel)

    assert drawn() == 0 and panel.gantt_item.gaps == []  # not drawn yet
    panel.show()
    qtbot.waitExposed(panel)
    assert drawn() == 5 and len(panel.gantt_item.gaps) == 2
    panel.hide()
    panel.add_spans([AttemptSpan("main", "late", 1, T0 + 2.0, T0 + 2.1, "failed")])
    qtbot.waitUntil(lambda: len(panel.bars) == 6, timeout=2000)
    assert drawn() == 5
    panel.show()
    assert drawn() == 6


def _tabbed_behind_history(qtbot):
    """A window with the timeline's dock tabbed behind a History dock, History in front."""
    from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow

    window = QMainWindow()
    qtbot.addWidget(window)
    window.setCentralWidget(QLabel("canvas"))
    window.resize(900, 600)
    panel = TimelinePanel()
    docks = []
    for title, widget in (("History", QLabel("runs")), ("Timeline", panel)):
        dock = QDockWidget(title, window)
        dock.setWidget(widget)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        docks.append(dock)
    window.tabifyDockWidget(docks[0], docks[1])
    docks[0].raise_()
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: not panel.on_screen(), timeout=2000)
    return window, panel, docks


def _drawn(panel: TimelinePanel) -> int:
    return sum(len(x0) for x0, _x1, _rows in panel.gantt_item.drawn().values())


def _ends(panel: TimelinePanel, end: int) -> dict[str, list[float]]:
    """Each status's bars' starts (end=0) or ends (end=1), as drawn."""
    return {k: list(v[end]) for k, v in panel.gantt_item.drawn().items()}


def test_a_timeline_tabbed_behind_another_dock_draws_when_its_tab_is_chosen(qtbot):
    """Qt keeps a dock whose tab is behind another 'visible' (moved out of the window), so
    the timeline drew every redraw of a run it did not show; its dock's tab decides now."""
    _window, panel, docks = _tabbed_behind_history(qtbot)
    assert panel.isVisible()  # what Qt says of a tab behind another
    panel.set_spans(_spans())

    def drawn() -> int:
        return _drawn(panel)

    assert len(panel.bars) == 5 and drawn() == 0
    docks[1].raise_()
    qtbot.waitUntil(lambda: drawn() == 5, timeout=2000)
    docks[0].raise_()
    qtbot.waitUntil(lambda: not panel.on_screen(), timeout=2000)
    panel.add_spans([AttemptSpan("main", "late", 1, T0 + 2.0, T0 + 2.1, "failed")])
    qtbot.waitUntil(lambda: len(panel.bars) == 6, timeout=2000)
    assert drawn() == 5


def test_a_timeline_floated_out_of_its_tab_group_draws(qtbot):
    """Pulled out of a tab group behind another dock, the timeline's dock is a window of
    its own and Qt says nothing on visibilityChanged: the timeline stayed blank."""
    _window, panel, docks = _tabbed_behind_history(qtbot)
    panel.set_spans(_spans())
    assert _drawn(panel) == 0
    docks[1].setFloating(True)
    docks[1].show()
    qtbot.waitUntil(lambda: _drawn(panel) == 5, timeout=2000)
    assert panel.on_screen()


def _bars(panel: TimelinePanel) -> list[tuple[tuple[str, str, int], int, float, float, str]]:
    return [(b.span.key, b.row, round(b.x0, 9), round(b.x1, 9), b.span.status) for b in panel.bars]


def test_live_updates_in_any_order_draw_what_the_whole_run_draws(qtbot):
    """Live redraws only append new attempts and update changed ones; an attempt that
    starts before the last bar, or whose start moved, re-sorts them all. Either way the
    bars, rows, gaps and caption equal those of the whole run set at once."""
    final = _spans()
    whole = TimelinePanel()
    qtbot.addWidget(whole)
    whole.show()
    whole.set_spans(final, origin=T0)
    live = TimelinePanel()
    qtbot.addWidget(live)
    live.show()
    running = [AttemptSpan(s.thread_id, s.node_id, s.attempt, s.start) for s in final]
    live.add_spans(running[:2])  # start, get#1 running
    live.redraw()
    assert [(b.span.node_id, b.span.status) for b in live.bars] == [("start", "running"), ("get", "running")]
    live.add_spans([final[0], final[1], running[4]])  # done#1 starts: appended after get#1
    live.redraw()
    assert [b.span.node_id for b in live.bars] == ["start", "get", "done"]
    live.add_spans([running[2], running[3]])  # get#2, #3 start before done#1: everything re-sorted
    live.redraw()
    assert [(b.span.node_id, b.row) for b in live.bars] == [("start", 0), ("get", 1), ("get", 1), ("get", 1), ("done", 2)]
    live.add_spans(final)
    live.redraw()
    assert _bars(live) == _bars(whole) and live.rows == whole.rows
    assert live.caption.text() == whole.caption.text() == "3 nodes · 5 attempts · 2 retries · 1.42 s"
    assert live.gantt_item.gaps == whole.gantt_item.gaps
    assert _ends(live, 1) == _ends(whole, 1)
    moved = AttemptSpan("main", "start", 1, T0 + 2.0, T0 + 2.1, "succeeded")  # a start that moved: re-sorted
    live.add_spans([moved])
    live.redraw()
    assert [b.span.node_id for b in live.bars] == ["get", "get", "get", "done", "start"]


def test_a_big_live_run_grows_the_plot_in_steps_and_the_whole_run_fits_it(qtbot, tmp_path):
    """A new range makes pyqtgraph lay out and paint both axes again: a big live run keeps
    its ranges until the bars reach their end, then grows them by GROWTH. Every bar is
    always inside; the whole run, once set, fits the plot exactly."""
    from PySide6.QtWidgets import QGraphicsItem

    from app.panels import timeline as tl

    n = tl.GROW_FROM * 3
    panel, spans = _big_run(qtbot, n)
    plot = panel.gantt.getPlotItem()
    ranges = []
    for k in range(0, n, 25):  # frames of a live run
        panel.add_spans(spans[k : k + 25])
        panel.redraw()
        (_x0, x1), (_y0, y1) = plot.viewRange()
        assert panel._right <= x1 and len(panel.rows) - 1 < y1  # every bar shown
        if len(panel.bars) >= tl.GROW_FROM:
            ranges.append((round(x1, 9), round(y1, 9)))
    assert len(set(ranges)) <= 3 < len(ranges)  # a few steps, not one range per frame
    left = plot.getAxis("left")
    name_px = panel.fontMetrics().horizontalAdvance(f"Node {n - 1}")
    qtbot.waitUntil(lambda: left.width() >= name_px, timeout=2000)  # the names fit, cached or not
    panel.grab().save(str(tmp_path / "timeline_live.png"))
    for side in ("left", "bottom"):
        assert plot.getAxis(side).cacheMode() == QGraphicsItem.CacheMode.DeviceCoordinateCache
    panel.set_spans(spans)  # the run ended: its record
    (_x0, x1), (y0, y1) = plot.viewRange()
    assert abs(x1 - panel._right * 1.03) < 1e-9
    assert y0 <= -tl.ROW_ROOM and n - 1 + tl.ROW_ROOM <= y1 and abs((n - 1 - y1) - y0) < 1e-9  # fits, with room
    panel.grab().save(str(tmp_path / "timeline_final.png"))


def _wide_panel(qtbot) -> TimelinePanel:
    """A timeline shown 1000 x 250: wide and short, as a docked timeline of a big run is."""
    panel = TimelinePanel()
    qtbot.addWidget(panel)
    panel.resize(1000, 250)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def _big_run(qtbot, n: int) -> tuple[TimelinePanel, list[AttemptSpan]]:
    """A wide panel and the spans of a chain of `n` nodes named "Node <i>" (not yet shown)."""
    panel = _wide_panel(qtbot)
    spans = [AttemptSpan("main", f"n{i}", 1, T0 + i * 0.001, T0 + i * 0.001 + 0.0006, "succeeded") for i in range(n)]
    panel.set_names({s.node_id: f"Node {i}" for i, s in enumerate(spans)})
    return panel, spans


def _room_px(panel: TimelinePanel) -> tuple[float, float]:
    """Pixels between the plot's top edge and the first row's centre, and between the
    last row's centre and the bottom edge."""
    vb = panel.gantt.getPlotItem().getViewBox()
    box = vb.sceneBoundingRect()
    top = vb.mapViewToScene(QPointF(0, 0)).y() - box.top()
    bottom = box.bottom() - vb.mapViewToScene(QPointF(0, len(panel.rows) - 1)).y()
    return top, bottom


def test_the_first_and_last_row_names_are_not_cut_by_the_plot_edge(qtbot, tmp_path):
    """A big run fit exactly left 0.7 rows of room: a fraction of a pixel for 600 rows, so
    the top row's name was cut in half. The room is now half a name's height at least,
    also after the dock is made shorter."""
    from app.panels import timeline as tl

    n = 600
    panel, spans = _big_run(qtbot, n)
    panel.set_spans(spans)
    ticks = panel.gantt.getPlotItem().getAxis("left")._tickLevels[0]
    assert ticks[0] == (0, "Node 0")
    top, bottom = _room_px(panel)
    assert top >= tl.LABEL_PX / 2 and bottom >= tl.LABEL_PX / 2
    left = panel.gantt.getPlotItem().getAxis("left")
    qtbot.waitUntil(lambda: left.width() >= panel.fontMetrics().horizontalAdvance(f"Node {n - 1}"), timeout=2000)
    panel.grab().save(str(tmp_path / "timeline_names.png"))
    panel.resize(1000, 160)  # a shorter dock: the room follows
    qtbot.waitUntil(lambda: _room_px(panel)[0] >= tl.LABEL_PX / 2 and _room_px(panel)[1] >= tl.LABEL_PX / 2, timeout=3000)
    few = spans[:3]  # a small run keeps its usual room (0.7 of a row is plenty)
    panel.set_spans(few)
    (_x0, _x1), (y0, y1) = panel.gantt.getPlotItem().viewRange()
    assert (y0, y1) == (-tl.ROW_ROOM, 2 + tl.ROW_ROOM)


def test_a_run_ending_keeps_its_live_bars_and_takes_the_recorded_times(qtbot):
    """At a run's end its record replaces the live attempts: in the same order the bars
    are kept (no re-sort), with the recorded times, as if the record had been set alone."""
    panel = TimelinePanel()
    qtbot.addWidget(panel)
    panel.show()
    live = [AttemptSpan("main", f"n{i}", 1, T0 + i * 0.01, T0 + i * 0.01 + 0.004, "succeeded") for i in range(300)]
    panel.add_spans(live[:250])
    panel.redraw()
    panel.add_spans(live[250:])  # not drawn yet when the run ends
    bars = list(panel.bars)
    assert len(bars) == 300 and _drawn(panel) == 250
    recorded = [AttemptSpan(s.thread_id, s.node_id, 1, s.start + 0.0001, s.start + 0.0051, "succeeded") for s in live]
    recorded[7] = AttemptSpan("main", "n7", 1, recorded[7].start, recorded[7].end, "failed", "boom")
    panel.set_spans(recorded)
    assert panel.bars == bars  # the same Bar objects
    whole = TimelinePanel()
    qtbot.addWidget(whole)
    whole.show()
    whole.set_spans(recorded)
    assert _bars(panel) == _bars(whole) and panel.rows == whole.rows
    assert panel.caption.text() == whole.caption.text()
    assert _ends(panel, 0) == _ends(whole, 0)
    assert set(_ends(panel, 0)) == {"succeeded", "failed"} and len(_ends(panel, 0)["failed"]) == 1


def test_a_big_live_run_redraws_half_as_often_and_ends_on_the_whole_run(qtbot):
    """From GROW_FROM attempts on a redraw costs more: live updates are coalesced over
    BIG_REDRAW_MS instead of REDRAW_MS. The run's end (set_spans) is drawn at once."""
    from app.panels import timeline as tl

    panel = TimelinePanel()
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    spans = [AttemptSpan("main", f"n{i}", 1, T0 + i * 0.001, T0 + i * 0.001 + 0.0006, "succeeded") for i in range(tl.GROW_FROM + 50)]

    def drawn() -> int:
        return _drawn(panel)

    panel.add_spans(spans[:10])
    assert panel._redraw.interval() == tl.REDRAW_MS
    qtbot.waitUntil(lambda: drawn() == 10, timeout=2000)
    panel.add_spans(spans[10 : tl.GROW_FROM])
    qtbot.waitUntil(lambda: drawn() == tl.GROW_FROM, timeout=2000)
    panel.add_spans(spans[tl.GROW_FROM : tl.GROW_FROM + 20])
    assert panel._redraw.isActive() and panel._redraw.interval() == tl.BIG_REDRAW_MS
    panel.add_spans(spans[tl.GROW_FROM + 20 :])  # rides on the pending redraw: placed now, drawn then
    assert len(panel.bars) == len(spans) and drawn() == tl.GROW_FROM
    panel.set_spans(spans)  # the run ended
    assert len(panel.bars) == len(spans) and not panel._redraw.isActive()
    assert panel.caption.text().startswith(f"{len(spans)} nodes · {len(spans)} attempts")


def _live_frames(panel: TimelinePanel, spans: list[AttemptSpan], frame: int):
    """Feed `spans` as a live run does, `frame` attempts a redraw; yield after each redraw."""
    for k in range(0, len(spans), frame):
        panel.add_spans(spans[k : k + frame])
        panel.redraw()
        yield k + frame


def test_a_big_live_run_steps_its_ranges_to_the_whole_workflow_in_one_or_two_steps(qtbot):
    """Each range step makes pyqtgraph lay out and draw both axes again. A steady run of a
    workflow of N nodes steps towards where it should end (all N rows; the time so far
    scaled by the share of nodes not started yet; MAX_LEAP at most), not by GROWTH each
    time the bars reach the edge."""
    from app.panels import timeline as tl

    n = 1000
    panel, spans = _big_run(qtbot, n)
    plot = panel.gantt.getPlotItem()
    ranges = []
    for done in _live_frames(panel, spans, 25):
        (_x0, x1), (_y0, y1) = plot.viewRange()
        assert panel._right <= x1 and len(panel.rows) - 1 < y1  # every bar shown
        if done >= tl.GROW_FROM:
            ranges.append((x1, y1))
    assert len(set(ranges)) <= 2 and ranges[-1][1] >= n - 1  # the last step shows every row the workflow has


def test_a_big_run_keeps_its_names_column_as_wide_as_the_widest_name(qtbot):
    """A wider name shown later made pyqtgraph widen the axis, lay the plot out again and
    draw it once more. From GROW_FROM attempts on, the column fits the workflow's widest
    name at once and keeps that width while the run grows, when it ends, and next run."""
    from app.panels import timeline as tl

    n = 800
    panel, spans = _big_run(qtbot, n)
    left = panel.gantt.getPlotItem().getAxis("left")
    widest = panel.fontMetrics().horizontalAdvance(f"Node {n - 1}")
    widths = set()
    for _run in range(2):  # a run, its end, and the next run
        panel.clear()
        for done in _live_frames(panel, spans, 40):
            if done >= tl.GROW_FROM:
                widths.add(left.width())
        panel.set_spans(spans)  # the run's end
        widths.add(left.width())
    assert len(widths) == 1 and widths.pop() >= widest
    few = spans[:5]  # a small run fits the names it shows
    panel.set_spans(few)
    qtbot.waitUntil(lambda: left.width() < widest, timeout=2000)


def test_the_gantt_item_bounds_hold_every_bar_and_wait(qtbot):
    """Qt repaints and culls by the item's bounding rect: every bar and back-off line lies inside."""
    panel = TimelinePanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_spans(_spans())
    # Qt's own bounds (of the item's rectangle): the scene asks for them straight from the
    # event loop, and a Python boundingRect waited for the interpreter lock each time
    assert "boundingRect" not in type(panel.gantt_item).__dict__
    box = panel.gantt_item.boundingRect()
    for x0, x1, rows in panel.gantt_item.drawn().values():
        for a, b, row in zip(x0, x1, rows, strict=True):
            assert box.contains(a, row - 0.5) and box.contains(b, row + 0.5)
    for gap in panel.gantt_item.gaps:
        assert box.contains(gap.p1()) and box.contains(gap.p2())


def test_a_name_with_its_loop_thread_widens_the_kept_names_column(qtbot):
    """Rows of a loop's threads are named "Node (thread)": wider than any node's name, so
    the column kept for a big run grows to them instead of cutting them."""
    from app.panels import timeline as tl

    panel = _wide_panel(qtbot)
    n = tl.GROW_FROM + 100
    spans = [AttemptSpan(f"main/loop/item-{i}", "body", 1, T0 + i * 0.001, T0 + i * 0.001 + 0.0006, "succeeded") for i in range(n)]
    panel.set_names({"body": "Body"})
    panel.set_spans(spans)
    left = panel.gantt.getPlotItem().getAxis("left")
    widest = max(panel.fontMetrics().horizontalAdvance(label) for _row, label in panel._ticks)
    assert left.fixedWidth is not None and left.width() >= widest > panel.fontMetrics().horizontalAdvance("Body")


def test_the_live_tick_waits_while_attempts_keep_coming(qtbot):
    """The live tick grows a running bar while nothing else happens; attempts coming in
    schedule their own redraw, so each batch puts the tick off by a whole interval (each
    tick is a call into Python from the event loop during a run), and it ticks again once
    they stop."""
    panel = TimelinePanel()
    qtbot.addWidget(panel)
    panel.add_spans([AttemptSpan("main", "a", 1, T0)])  # still running
    qtbot.waitUntil(lambda: panel._live.isActive(), timeout=2000)
    interval = 1000
    panel._live.setInterval(interval)
    panel._live.start()
    qtbot.waitUntil(lambda: 0 <= panel._live.remainingTime() < interval / 3, timeout=5000)
    panel.add_spans([AttemptSpan("main", "b", 1, T0 + 0.01)])  # a batch comes
    assert panel._live.remainingTime() > interval * 2 / 3  # put off, not due in a moment
    with qtbot.waitSignal(panel._live.timeout, timeout=5000):
        pass  # nothing more comes: it ticks
    assert panel._live.isActive()
