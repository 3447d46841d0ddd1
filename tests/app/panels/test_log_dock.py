"""The log dock: level and node filters, the line cap, and the rotating log file."""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication

from app.panels import log_dock
from app.panels.log_dock import (
    LogPanel,
    install_file_logging,
    lines_from_spans,
    log_dir,
    uninstall_file_logging,
)
from app.runner.bridge import AttemptSpan, LogLine
from engine.model import Node, Workflow
from tests.app.python_calls import python_calls


def _lines():
    return [
        LogLine(1.0, "INFO", "a started", "a", "e1"),
        LogLine(2.0, "WARNING", "b attempt 1 failed; retry", "b", "e1"),
        LogLine(3.0, "ERROR", "b failed", "b", "e1"),
        LogLine(4.0, "DEBUG", "detail", "a", "e1"),
        LogLine(5.0, "INFO", "execution completed", None, "e1"),
    ]


def test_filters_by_level_and_node(qtbot):
    panel = LogPanel()
    qtbot.addWidget(panel)
    wf = Workflow(nodes=[Node(id="a", type="set", name="Alpha"), Node(id="b", type="set", name="Beta")])
    panel.set_workflow(wf)
    panel.append(_lines())
    assert [ln.message for ln in panel.shown_lines()] == ["a started", "b attempt 1 failed; retry", "b failed", "execution completed"]
    panel.set_level("DEBUG")
    assert len(panel.shown_lines()) == 5
    panel.set_level("WARNING")
    assert [ln.level for ln in panel.shown_lines()] == ["WARNING", "ERROR"]
    panel.set_level("INFO")
    panel.set_node("a")
    assert [ln.message for ln in panel.shown_lines()] == ["a started"]
    assert panel.node.currentText() == "Alpha"
    assert panel.proxy.data(panel.proxy.index(0, 2)) == "Alpha"  # node names, not ids
    assert panel.count.text() == "1 / 5 lines"
    copied = panel.copy_shown()
    assert "Alpha" in copied and "a started" in copied and "b failed" not in copied
    panel.set_node(None)
    panel.clear()
    assert panel.model.rowCount() == 0


def test_keeps_at_most_max_lines(qtbot, monkeypatch):
    monkeypatch.setattr(log_dock, "MAX_LINES", 10)
    panel = LogPanel()
    qtbot.addWidget(panel)
    for i in range(3):
        panel.append([LogLine(float(i * 6 + j), "INFO", f"line {i * 6 + j}") for j in range(6)])
    assert [ln.message for ln in panel.model.lines] == [f"line {i}" for i in range(8, 18)]


def test_lines_rebuilt_from_attempts():
    spans = [
        AttemptSpan("main", "get", 2, 10.5, 10.6, "succeeded"),
        AttemptSpan("main", "get", 1, 10.0, 10.1, "failed", "HTTP 503", 0.4),
    ]
    lines = lines_from_spans(spans, "e1")
    assert [ln.level for ln in lines] == ["WARNING", "INFO"]
    assert "HTTP 503" in lines[0].message and "retried after 0.40 s" in lines[0].message


def test_rotating_log_file_in_the_log_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PROCESSENGINE_LOG_DIR", str(tmp_path / "logs"))
    try:
        path = install_file_logging()
        assert path == tmp_path / "logs" / "processengine.log" and log_dir() == tmp_path / "logs"
        logging.getLogger("engine.runtime").info("execution=x node=y hello from the test")
        logging.getLogger("engine.runtime").debug("not at debug")
        for h in logging.getLogger("engine").handlers:
            h.flush()
        text = path.read_text()
        assert "hello from the test" in text and "not at debug" not in text
        assert install_file_logging() == path  # once per process
        assert sum(isinstance(h, logging.handlers.RotatingFileHandler) for h in logging.getLogger("engine").handlers) == 1
    finally:
        uninstall_file_logging()
    assert not any(isinstance(h, logging.handlers.RotatingFileHandler) for h in logging.getLogger("engine").handlers)


def test_an_error_on_an_asyncio_loop_reaches_the_log_file(tmp_path, monkeypatch):
    """An exception nobody awaited on the engine thread's loop is reported by asyncio's own
    logger: it is written to the app's log file too, not only to an invisible stderr."""
    import asyncio

    monkeypatch.setenv("PROCESSENGINE_LOG_DIR", str(tmp_path / "logs"))
    loop = asyncio.new_event_loop()
    try:
        path = install_file_logging()
        loop.call_exception_handler({"message": "Task exception was never retrieved", "exception": RuntimeError("lost on the engine loop")})
        for h in logging.getLogger("asyncio").handlers:
            h.flush()
        text = path.read_text()
        assert "Task exception was never retrieved" in text and "lost on the engine loop" in text
    finally:
        loop.close()
        uninstall_file_logging()
    assert not logging.getLogger("asyncio").handlers


def test_filters_by_execution_and_node_from_the_records_fields(qtbot):
    """Engine records through a real bridge: the run's lines land in the dock with the ids
    their `extra=` fields carry (another run's are left out), and the node filter uses them."""
    import threading

    from app.runner.bridge import EventBridge

    bridge = EventBridge(frame_ms=1)
    bridge.execution_id = "e1"
    panel = LogPanel()
    qtbot.addWidget(panel)
    panel.set_workflow(Workflow(nodes=[Node(id="a", type="set", name="Alpha"), Node(id="b", type="set", name="Beta")]))
    bridge.batch_ready.connect(lambda batch: panel.append(batch.logs))
    engine_log = logging.getLogger("engine.runtime")

    def run() -> None:
        engine_log.info("execution=%s node=%s started attempt 1", "e1", "a", extra={"execution_id": "e1", "node_id": "a"})
        engine_log.info("wrote out.csv", extra={"execution_id": "e1", "node_id": "b"})
        engine_log.info("execution=%s node=%s started attempt 1", "e2", "a", extra={"execution_id": "e2", "node_id": "a"})
        engine_log.info("execution=%s completed", "e1", extra={"execution_id": "e1"})

    bridge.capture_logs()
    try:
        with qtbot.waitSignal(bridge.batch_ready):
            worker = threading.Thread(target=run)
            worker.start()
            worker.join()
    finally:
        bridge.close()
    assert [ln.message for ln in panel.shown_lines()] == ["started attempt 1", "wrote out.csv", "completed"]
    panel.set_node("b")
    assert [ln.message for ln in panel.shown_lines()] == ["wrote out.csv"]
    assert panel.proxy.data(panel.proxy.index(0, 2)) == "Beta"
    panel.set_node("a")
    assert [(ln.execution_id, ln.message) for ln in panel.shown_lines()] == [("e1", "started attempt 1")]


def test_a_new_run_of_the_same_workflow_keeps_the_node_filter_and_lines(qtbot):
    """Each run start offers the workflow's nodes again: with the same nodes and names the
    node list is not rebuilt nor the log re-filtered; a rename or a new node is offered."""
    panel = LogPanel()
    qtbot.addWidget(panel)
    wf = Workflow(nodes=[Node(id="a", type="set", name="Alpha"), Node(id="b", type="set", name="Beta")])
    panel.set_workflow(wf)
    panel.append(_lines())
    panel.set_node("b")
    shown = [ln.message for ln in panel.shown_lines()]
    assert shown == ["b attempt 1 failed; retry", "b failed"]
    rebuilt: list[int] = []
    refiltered: list[int] = []
    panel.node.model().rowsRemoved.connect(lambda *_a: rebuilt.append(1))
    panel.proxy.layoutChanged.connect(lambda *_a: refiltered.append(1))
    panel.proxy.rowsRemoved.connect(lambda *_a: refiltered.append(1))
    panel.set_workflow(Workflow(nodes=[Node(id="a", type="set", name="Alpha"), Node(id="b", type="set", name="Beta")]))
    assert rebuilt == [] and refiltered == []
    assert panel.node.currentData() == "b" and [ln.message for ln in panel.shown_lines()] == shown
    panel.set_workflow(Workflow(nodes=[Node(id="a", type="set", name="Alpha"), Node(id="b", type="set", name="Bravo")]))
    assert [panel.node.itemText(i) for i in range(panel.node.count())] == ["All nodes", "Alpha", "Bravo"]
    assert panel.node.currentData() == "b" and panel.model.node_names["b"] == "Bravo"
    assert [ln.message for ln in panel.shown_lines()] == shown
    panel.set_workflow(Workflow(nodes=[Node(id="a", type="set", name="Alpha")]))  # b is gone: all nodes
    assert panel.node.currentData() is None and len(panel.shown_lines()) == 4


def _shown_panel(qtbot) -> LogPanel:
    """A Log panel on screen at a fixed size, as a dock shows it."""
    panel = LogPanel()
    qtbot.addWidget(panel)
    panel.resize(700, 240)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def test_a_stream_of_batches_updates_the_count_a_few_times_and_ends_on_the_total(qtbot, tmp_path):
    """A run appends a batch per frame; the line count follows at most every COUNT_MS,
    and the last batch's total is what stays shown."""
    from app.panels import log_dock

    panel = _shown_panel(qtbot)
    texts: list[str] = []
    set_text = panel.count.setText
    panel.count.setText = lambda text: (texts.append(text), set_text(text))  # type: ignore[method-assign]
    batches = 40
    for b in range(batches):
        panel.append([LogLine(float(b * 10 + i), "INFO", f"n{b} line {i}", f"n{b}", "e1") for i in range(10)])
    assert len(texts) < batches / 4
    qtbot.waitUntil(lambda: panel.count.text() == f"{batches * 10} / {batches * 10} lines", timeout=2 * log_dock.COUNT_MS + 1000)
    panel.grab().save(str(tmp_path / "log_count.png"))


def test_a_stream_of_batches_is_painted_together_and_ends_shown_at_the_bottom(qtbot, tmp_path, monkeypatch):
    """A big run appends a batch per frame: the model takes each at once (filters, copies
    and the line count see it), the table is repainted once per PAINT_MS for all of them
    and ends scrolled to the last line."""
    from PySide6.QtCore import QEvent, QObject

    monkeypatch.setattr(log_dock, "PAINT_MS", 2000)  # far longer than the 30 frames below take
    panel = _shown_panel(qtbot)
    paints: list[int] = []

    class Count(QObject):
        def eventFilter(self, _obj, event):
            if event.type() == QEvent.Type.Paint:
                paints.append(1)
            return False

    counter = Count()
    panel.table.viewport().installEventFilter(counter)
    for b in range(30):
        panel.append([LogLine(float(b * 10 + i), "INFO", f"n{b} line {i}", f"n{b}", "e1") for i in range(10)])
        QCoreApplication.processEvents()  # a frame passes between batches
    assert panel.model.rowCount() == 300 and len(panel.shown_lines()) == 300  # all there at once
    assert not panel.table.viewport().updatesEnabled() and paints == []  # not one paint per batch
    assert panel.painting_held()
    qtbot.waitUntil(lambda: panel.table.viewport().updatesEnabled() and len(paints) > 0, timeout=log_dock.PAINT_MS + 5000)
    assert not panel.painting_held()
    last = panel.proxy.index(299, 0)
    assert panel.table.viewport().rect().intersects(panel.table.visualRect(last))  # the last line is in view
    panel.grab().save(str(tmp_path / "log_painted.png"))


def test_a_table_scrolled_back_is_not_held_while_lines_stream_in(qtbot, monkeypatch):
    """Reading back while a run streams: the new lines land out of view, so the table
    keeps painting (and scrolling) at once."""
    monkeypatch.setattr(log_dock, "PAINT_MS", 2000)
    panel = _shown_panel(qtbot)
    panel.append([LogLine(float(i), "INFO", f"line {i}", "n", "e1") for i in range(200)])
    panel._release_paint()
    panel.table.scrollToTop()
    panel.append([LogLine(float(200 + i), "INFO", f"line {200 + i}", "n", "e1") for i in range(10)])
    assert panel.table.viewport().updatesEnabled() and panel.table.verticalScrollBar().value() == 0


def test_new_lines_are_not_filtered_one_by_one_while_no_filter_can_hide_them(qtbot):
    """A run's lines are INFO and above and the default level is INFO: with all nodes
    shown the filter would accept every line, so it is not asked (each ask is a call into
    Python on the GUI thread); the shown lines, the count and copying are the same."""
    panel = _shown_panel(qtbot)
    batch = [LogLine(float(i), "INFO" if i % 3 else "WARNING", f"line {i}", f"n{i % 4}", "e1") for i in range(200)]
    assert python_calls("filterAcceptsRow", {log_dock.__file__}, lambda: panel.append(batch)) == 0
    assert not panel.filtering()
    assert [ln.message for ln in panel.shown_lines()] == [ln.message for ln in batch]
    qtbot.waitUntil(lambda: panel.count.text() == "200 / 200 lines")
    assert panel.copy_shown().count("\n") == 199
    last = panel.proxy.index(199, 3)
    assert panel.proxy.data(last) == "line 199"


def test_the_filter_comes_back_for_a_node_a_level_or_a_line_below_the_level(qtbot, tmp_path):
    """Each way a line can be hidden puts the filter back in the chain, at once and for
    the lines already there; choosing "all nodes" at the lowest level takes it out again."""
    panel = _shown_panel(qtbot)
    panel.set_workflow(Workflow(nodes=[Node(id="a", type="set", name="Alpha"), Node(id="b", type="set", name="Beta")]))
    panel.append([ln for ln in _lines() if ln.level != "DEBUG"])
    assert not panel.filtering() and len(panel.shown_lines()) == 4
    panel.set_node("b")  # a node chosen
    assert panel.filtering() and [ln.message for ln in panel.shown_lines()] == ["b attempt 1 failed; retry", "b failed"]
    assert python_calls("filterAcceptsRow", {log_dock.__file__}, lambda: panel.append([LogLine(9.0, "INFO", "b again", "b", "e1")])) == 1
    assert [ln.message for ln in panel.shown_lines()][-1] == "b again"
    panel.set_node(None)
    assert not panel.filtering() and len(panel.shown_lines()) == 5
    panel.set_level("WARNING")  # a level above INFO lines
    assert panel.filtering() and [ln.level for ln in panel.shown_lines()] == ["WARNING", "ERROR"]
    panel.set_level("INFO")
    assert not panel.filtering()
    panel.append([LogLine(10.0, "DEBUG", "detail", "a", "e1")])  # a line below the chosen level
    assert panel.filtering() and "detail" not in [ln.message for ln in panel.shown_lines()]
    qtbot.waitUntil(lambda: panel.count.text() == "5 / 6 lines")
    with qtbot.waitSignal(panel.node_activated) as got:
        panel.table.doubleClicked.emit(panel.proxy.index(2, 0))
    assert got.args == ["b"]
    panel.clear()  # no lines left below the level
    assert not panel.filtering() and panel.count.text() == "0 / 0 lines"
    panel.grab().save(str(tmp_path / "log_filter_chain.png"))


def _run_log(panel: LogPanel, count: int = 400) -> None:
    """`count` lines of four nodes n0..n3 (every fifth a WARNING), all painted."""
    panel.set_workflow(Workflow(nodes=[Node(id=f"n{i}", type="set", name=f"Node {i}") for i in range(4)]))
    panel.append([LogLine(float(i), "WARNING" if i % 5 == 0 else "INFO", f"line {i}", f"n{i % 4}", "e1") for i in range(count)])
    panel._release_paint()


def _top(panel: LogPanel) -> str:
    """The message of the line at the top of the table's viewport."""
    QCoreApplication.processEvents()
    return panel.proxy.data(panel.proxy.index(panel.table.rowAt(0), 3))


def _in_view(panel: LogPanel, message: str) -> int | None:
    """Where the line with `message` is in the viewport (its top's y), None when not in view."""
    for row in range(panel.table.rowAt(0), panel.proxy.rowCount()):
        if panel.proxy.data(panel.proxy.index(row, 3)) == message:
            y = panel.table.rowViewportPosition(row)
            return y if 0 <= y < panel.table.viewport().height() else None
    return None


def _at_end(panel: LogPanel) -> bool:
    """The table is scrolled to its end (new lines scroll it on)."""
    QCoreApplication.processEvents()
    bar = panel.table.verticalScrollBar()
    return bar.value() == bar.maximum()


def _scroll_back_to(panel: LogPanel, message: str) -> None:
    row = next(r for r in range(panel.proxy.rowCount()) if panel.proxy.data(panel.proxy.index(r, 3)) == message)
    panel.table.scrollTo(panel.proxy.index(row, 0), panel.table.ScrollHint.PositionAtTop)
    assert _top(panel) == message and not _at_end(panel)


def test_scrolled_back_the_reader_keeps_the_place_when_the_filter_changes(qtbot, tmp_path):
    """Putting the filter in the chain or taking it out resets the table, and a filter
    change hides or shows lines above the ones in view: the table's scroll position alone
    then showed other lines (choosing line 200's node from there landed on line 360, near the end of
    that node's lines). The first line in view that is still shown stays where it was;
    a hidden one gives the top to the next shown line."""
    panel = _shown_panel(qtbot)
    _run_log(panel)
    _scroll_back_to(panel, "line 200")
    panel.set_node("n0")  # line 200 is n0's: it stays on top
    assert panel.filtering() and _top(panel) == "line 200"
    panel.grab().save(str(tmp_path / "log_kept_node.png"))
    panel.set_node("n1")  # line 200 hidden: n1's next line, 201, takes the top
    assert _top(panel) == "line 201"
    panel.set_node(None)  # every line shown again: 201 stays on top, 200 just above it
    assert not panel.filtering() and _top(panel) == "line 201"
    _scroll_back_to(panel, "line 198")
    panel.set_level("WARNING")  # 198 and 199 hidden; 200 was the third line in view and stays there
    assert _in_view(panel, "line 200") == 2 * panel.table.verticalHeader().defaultSectionSize()
    panel.set_level("INFO")  # the filter leaves the chain again: the warning 190 was on top and stays
    assert not panel.filtering() and _top(panel) == "line 190"
    _scroll_back_to(panel, "line 198")
    panel.set_node("n2")
    assert _top(panel) == "line 198"
    panel.set_level("WARNING")  # a filter in the chain changing: of n2's lines 198, 202, 206, 210 in view, 210 stays
    assert _in_view(panel, "line 210") == 3 * panel.table.verticalHeader().defaultSectionSize()
    panel.set_level("ERROR")  # no line at all: an empty table
    assert panel.proxy.rowCount() == 0
    panel.set_level("INFO")
    panel.set_node(None)
    assert _at_end(panel)  # nothing was in view: back at the end
    panel.grab().save(str(tmp_path / "log_kept_level.png"))


def test_following_the_end_keeps_following_when_the_filter_changes(qtbot):
    panel = _shown_panel(qtbot)
    _run_log(panel)
    assert _at_end(panel) and _in_view(panel, "line 399") is not None
    panel.set_node("n1")
    assert _at_end(panel) and _in_view(panel, "line 397") is not None
    panel.append([LogLine(400.0 + i, "INFO", f"late {i}", "n1", "e1") for i in range(30)])
    panel._release_paint()
    assert _at_end(panel) and _in_view(panel, "late 29") is not None
    panel.set_node(None)
    panel.set_level("WARNING")
    assert _at_end(panel) and _in_view(panel, "line 395") is not None


def test_the_current_line_stays_current_when_the_filter_changes(qtbot):
    """A reset of the table forgot the line the reader had selected."""
    panel = _shown_panel(qtbot)
    _run_log(panel)
    _scroll_back_to(panel, "line 120")
    panel.table.selectRow(panel.table.rowAt(0) + 3)  # line 123, a node n3 line
    panel.set_node("n3")
    assert panel.table.currentIndex().isValid()
    assert panel.proxy.data(panel.table.currentIndex().siblingAtColumn(3)) == "line 123"
    assert panel.table.selectionModel().isRowSelected(panel.table.currentIndex().row())
    panel.set_node(None)
    assert panel.proxy.data(panel.table.currentIndex().siblingAtColumn(3)) == "line 123"
    panel.set_node("n0")  # the current line hidden: none is current
    assert not panel.table.currentIndex().isValid()


def test_scrolled_back_during_a_run_the_lines_in_view_stay_in_view(qtbot, monkeypatch, tmp_path):
    """A live run keeps sending lines while the reader reads back. A DEBUG line brings the
    filter into the chain, and past MAX_LINES the oldest lines are dropped: the lines in
    view stay in view (they drifted by the dropped count each batch)."""
    monkeypatch.setattr(log_dock, "MAX_LINES", 500)
    panel = _shown_panel(qtbot)
    _run_log(panel, 450)
    _scroll_back_to(panel, "line 300")
    panel.append([LogLine(450.0, "DEBUG", "detail", "n1", "e1")])  # the filter comes in
    assert panel.filtering() and _top(panel) == "line 300"
    for b in range(4):  # 4 x 40 lines: 111 of the oldest dropped
        panel.append([LogLine(460.0 + b * 40 + i, "INFO", f"late {b * 40 + i}", "n2", "e1") for i in range(40)])
        assert _top(panel) == "line 300"
    assert panel.model.lines[0].message == "line 111"
    panel.set_node("n1")
    panel.append([LogLine(700.0 + i, "INFO", f"later {i}", "n1", "e1") for i in range(300)])  # line 300 itself dropped
    assert panel.model.lines[0].message == "line 411" and _top(panel) == "line 413"  # n1's oldest left on top
    panel.grab().save(str(tmp_path / "log_run_kept.png"))


def test_a_debug_line_bringing_the_filter_in_keeps_the_current_line_while_following(qtbot):
    """The filter coming in during a run resets the table: the end is still followed and
    the line the reader selected is still current."""
    panel = _shown_panel(qtbot)
    _run_log(panel)
    panel.table.selectRow(panel.proxy.rowCount() - 2)  # line 398, the end in view
    assert _at_end(panel)
    panel.append([LogLine(400.0, "DEBUG", "detail", "n1", "e1")])  # the filter comes in: the table is reset
    panel._release_paint()
    assert panel.filtering() and _at_end(panel) and panel.table.currentIndex().isValid()
    assert panel.proxy.data(panel.table.currentIndex().siblingAtColumn(3)) == "line 398"
