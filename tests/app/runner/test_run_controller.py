"""Run / pause / resume / cancel from the toolbar, against a real SQLite store and real HTTP."""

from __future__ import annotations

import gc

from PySide6.QtCore import QEvent, QObject, Qt

from app.runner import controller as rc
from app.runner import gc_pacer
from tests.app.runner.helpers import http_retry_workflow, wait_workflow, workflow
from tests.servers import Reply


def _states(win) -> dict[str, str | None]:
    return {item.node_id: item.run_state for item in win.scene().node_items()}


def test_http_retries_show_badge_then_succeeded(make_controller, http_server, qtbot, tmp_path):
    http_server.fail_first("/items", 2, status=503, then=Reply(json={"items": [1, 2, 3]}))
    wf = http_retry_workflow(http_server.url_for("/items"))
    ctl, win = make_controller(wf)
    assert ctl.run_action.isEnabled() and not ctl.pause_action.isEnabled()
    ctl.run_action.trigger()
    get = win.scene().node_item("get")
    qtbot.waitUntil(lambda: get.run_state == "retrying", timeout=5000)
    assert get.run_badge.startswith("retry 2/4 · next in ")
    assert "503" in (get.run_tooltip or "")
    assert ctl.state == rc.RUNNING and ctl.pause_action.isEnabled() and not ctl.run_action.isEnabled()
    first = get.run_badge
    qtbot.waitUntil(lambda: get.run_state == "retrying" and get.run_badge != first, timeout=2000)  # live countdown
    win.grab().save(str(tmp_path / "retrying.png"))
    qtbot.waitUntil(lambda: ctl.state == rc.COMPLETED, timeout=10000)
    states = _states(win)
    assert states == {"start": "succeeded", "get": "succeeded", "check": "succeeded", "yes": "succeeded", "no": "skipped"}
    assert http_server.calls("/items") == 3
    edges = {(e.conn.from_node, e.conn.to_node): e for e in win.scene().edge_items()}
    assert edges[("check", "yes")].flow_taken is True
    assert edges[("check", "no")].flow_taken is False
    assert edges[("get", "check")].flow_label == "{status, headers, body}"
    assert ctl.run_action.isEnabled() and not ctl.cancel_action.isEnabled()
    assert "4 completed, 0 failed, 1 skipped of 5 (100%)" in ctl.progress_label.text()
    # the finished run shows its own duration (it has two back-offs: well over a second)
    took = ctl.elapsed_label.text()
    assert took.startswith("took ") and took != "took 0.0 s", took


def test_pause_from_toolbar_then_resume(make_controller, qtbot, engine):
    ctl, win = make_controller(wait_workflow(1.0))
    ctl.run_action.trigger()
    w = win.scene().node_item("w")
    qtbot.waitUntil(lambda: w.run_state == "running" and ctl.state == rc.RUNNING, timeout=5000)
    qtbot.waitUntil(lambda: ctl.node_label.text() == "▶ Wait", timeout=1000)  # the status bar's clock shows it
    spinner = ctl.canvas._spinners["w"]  # running is animated: an arc turns around the icon
    assert spinner.parentItem() is w
    angle = spinner.angle
    qtbot.waitUntil(lambda: spinner.angle != angle, timeout=1000)
    assert "elapsed" in ctl.elapsed_label.text() and "Running" in ctl.progress_label.text()
    assert gc_pacer.active() and gc.get_threshold()[2] > 10**6  # no full GC pauses mid-run
    qtbot.keyClick(win, Qt.Key.Key_F6)  # F6 = pause while running
    qtbot.waitUntil(lambda: ctl.state == rc.PAUSED, timeout=5000)
    assert w.run_state == "paused" and "w" not in ctl.canvas._spinners
    assert spinner.parked and spinner.parentItem() is w  # kept on the card, invisible, for next time
    assert not gc_pacer.active() and gc_pacer.owed()  # what the run put off waits for an idle moment
    assert ctl.resume_action.isEnabled() and ctl.cancel_action.isEnabled() and not ctl.pause_action.isEnabled()
    # the paused state is saved in the database
    status = ctl.call_blocking(lambda s: s.status(ctl.execution_id))
    assert status["status"] == "paused" and status["resumable"]
    qtbot.keyClick(win, Qt.Key.Key_F6)  # F6 = resume while paused
    qtbot.waitUntil(lambda: ctl.state == rc.COMPLETED, timeout=8000)
    assert _states(win) == {"start": "succeeded", "a": "succeeded", "w": "succeeded", "b": "succeeded"}


def test_cancel_running(make_controller, qtbot, engine):
    ctl, win = make_controller(wait_workflow(20))
    ctl.run_action.trigger()
    w = win.scene().node_item("w")
    qtbot.waitUntil(lambda: w.run_state == "running", timeout=5000)
    qtbot.keyClick(win, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: ctl.state == rc.CANCELLED, timeout=5000)
    assert w.run_state == "cancelled"
    assert win.scene().node_item("b").run_state is None  # never ran
    status = ctl.call_blocking(lambda s: s.status(ctl.execution_id))
    assert status["status"] == "cancelled"


def test_cancel_paused(make_controller, qtbot, engine):
    ctl, win = make_controller(wait_workflow(20))
    ctl.run_action.trigger()
    qtbot.waitUntil(lambda: ctl.state == rc.RUNNING and win.scene().node_item("w").run_state == "running", timeout=5000)
    ctl.pause_action.trigger()
    qtbot.waitUntil(lambda: ctl.state == rc.PAUSED, timeout=5000)
    ctl.cancel_action.trigger()
    qtbot.waitUntil(lambda: ctl.state == rc.CANCELLED, timeout=5000)
    assert win.scene().node_item("w").run_state == "cancelled"
    status = ctl.call_blocking(lambda s: s.status(ctl.execution_id))
    assert status["status"] == "cancelled"


class _LayoutRequests(QObject):
    """Counts the layout requests the window receives (each lays out every dock and bar)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def test_a_streaming_run_leaves_the_status_bar_to_its_clock_and_ends_on_the_final_state(make_controller, qtbot):
    """Batches arrive once per frame; the status bar's labels and bar change with the clock
    (every STATUS_MS), so the window is not laid out again for every batch, and the run's
    last state is what stays shown."""
    n = 40
    nodes = [{"id": "start", "type": "manual_trigger", "name": "Start"}]
    nodes += [{"id": f"w{i}", "type": "wait", "name": f"Wait {i}", "config": {"seconds": 0.03}} for i in range(n)]
    conns = [("start" if i == 0 else f"w{i - 1}", "out", f"w{i}") for i in range(n)]
    ctl, win = make_controller(workflow(nodes, conns, wf_id="wf-waits"))
    requests = _LayoutRequests()
    win.installEventFilter(requests)
    batches: list[object] = []
    ctl.batch_applied.connect(batches.append)
    ctl.run_action.trigger()
    qtbot.waitUntil(lambda: ctl.state == rc.COMPLETED, timeout=20000)
    win.removeEventFilter(requests)
    assert len(batches) >= n  # every wait ends on a frame of its own
    assert requests.count < len(batches) / 2
    assert f"{n + 1} completed, 0 failed, 0 skipped of {n + 1} (100%)" in ctl.progress_label.text()
    assert ctl.progress_bar.value() == 100 and ctl.progress_bar.isVisible()
    assert ctl.node_label.text() == "" and ctl.elapsed_label.text().startswith("took ")


def test_a_long_run_is_running_while_its_nodes_run(make_controller, qtbot):
    """The run's own start event makes the controller RUNNING (Pause enabled): a big chain
    can keep the engine loop busy until its end, and the launch call's answer with it."""
    from tests.perf.bench_gui_events import chain

    n = 3000
    ctl, _win = make_controller(chain(n, wf_id="wf-long"))
    seen: list[tuple[str, int]] = []
    ctl.state_changed.connect(lambda state: seen.append((state, ctl.canvas.progress()["completed"])))
    ctl.run_action.trigger()
    qtbot.waitUntil(lambda: ctl.state == rc.COMPLETED, timeout=60000)
    running = [done for state, done in seen if state == rc.RUNNING]
    assert running and running[0] < n / 2, seen  # running from its first frame, not its end
    assert ctl.execution_id is not None and ctl.progress_bar.value() == 100
