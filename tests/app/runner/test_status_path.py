"""The status path: an engine lifecycle hook reaches its node's canvas item through the
bridge and the canvas painter alone (docs/architecture.md, "Status path"). Built here
from the scene, the painter and the bridge, with no main window and no run controller;
the hooks are emitted from a real second thread, as the engine thread does."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.canvas.scene import WorkflowScene
from app.canvas.view import CanvasView
from app.runner.bridge import EventBridge
from app.runner.canvas_state import RunCanvas
from engine import events as ev
from engine import fileformat
from engine.model import Workflow
from engine.runtime.record import MAIN_THREAD, RunRecord, ThreadRecord

EID = "exec-path"


def emit_on_engine_thread(hooks: ev.LifecycleHooks, *events: ev.Event) -> None:
    record = RunRecord(execution_id=EID, workflow_id="wf", threads={MAIN_THREAD: ThreadRecord(MAIN_THREAD, "wf")})

    async def fire() -> None:
        for event in events:
            await hooks.emit(event, record)

    t = threading.Thread(target=lambda: asyncio.run(fire()))
    t.start()
    t.join()


@pytest.fixture
def path(qtbot: QtBot, ui: Any) -> tuple[Workflow, WorkflowScene, RunCanvas, EventBridge]:
    wf = fileformat.parse(ui.DEMO)
    scene = WorkflowScene()
    scene.bind(wf)
    view = CanvasView(scene)
    qtbot.addWidget(view)
    bridge = EventBridge(frame_ms=1)
    painter = RunCanvas(lambda: scene)
    painter.follow(bridge)
    painter.begin(wf)
    return wf, scene, painter, bridge


def test_a_node_hook_changes_its_item_with_nobody_relaying(qtbot: QtBot, path: tuple) -> None:
    _wf, scene, _painter, bridge = path
    get = scene.node_item("get")
    assert get.run_state == "pending"
    emit_on_engine_thread(
        bridge.hooks(),
        ev.NodeStarted(execution_id=EID, thread_id=MAIN_THREAD, node_id="get", attempt=1, side_effects=True),
    )
    qtbot.waitUntil(lambda: get.run_state == "running")
    emit_on_engine_thread(
        bridge.hooks(),
        ev.NodeRetrying(execution_id=EID, thread_id=MAIN_THREAD, node_id="get", attempt=1, max_attempts=4, delay=30.0, error="503"),
    )
    qtbot.waitUntil(lambda: get.run_state == "retrying")
    assert (get.run_badge or "").startswith("retry 2/4") and get.run_tooltip == "attempt 1 failed: 503"
    emit_on_engine_thread(
        bridge.hooks(),
        ev.NodeFinished(execution_id=EID, thread_id=MAIN_THREAD, node_id="get", status="failed", duration_ms=2.0, attempt=3,
                        output_summary="503", error={"message": "503 from the server"}),
    )
    qtbot.waitUntil(lambda: get.run_state == "failed")
    assert get.run_badge == "failed after 3" and get.run_tooltip == "503 from the server"
    assert scene.node_item("start").run_state == "pending"  # only the node the hook named


def test_the_painter_has_its_own_subscription_and_can_drop_it(qtbot: QtBot, path: tuple) -> None:
    _wf, scene, painter, bridge = path
    painter.unfollow()
    painter.unfollow()  # twice is harmless
    with qtbot.waitSignal(bridge.batch_ready):
        emit_on_engine_thread(
            bridge.hooks(),
            ev.NodeStarted(execution_id=EID, thread_id=MAIN_THREAD, node_id="get", attempt=1, side_effects=True),
        )
    painter.settle()
    assert scene.node_item("get").run_state == "pending"
    painter.follow(bridge)
    emit_on_engine_thread(
        bridge.hooks(),
        ev.NodeFinished(execution_id=EID, thread_id=MAIN_THREAD, node_id="start", status="succeeded", duration_ms=0.4, attempt=1, output_summary="{}"),
    )
    qtbot.waitUntil(lambda: scene.node_item("start").run_state == "succeeded")
    assert scene.node_item("start").run_badge == "<1 ms"


def test_in_a_real_run_the_painter_paints_before_the_controller_reads_status(make_controller: Any, qtbot: QtBot) -> None:
    """The run controller follows the same bridge for status only; the painter is subscribed
    first, so every `batch_applied` sees the canvas (and its counts) already up to date."""
    from tests.app.runner.helpers import wait_workflow

    ctl, win = make_controller(wait_workflow(0.2))
    seen: list[tuple[bool, int]] = []

    def check(batch: Any) -> None:
        painted = all(win.scene().node_item(n).run_state == live.state for n, live in batch.nodes.items())
        seen.append((painted, ctl.canvas.progress()["completed"]))

    ctl.batch_applied.connect(check)
    ctl.run_action.trigger()
    qtbot.waitUntil(lambda: ctl.state == "completed", timeout=10000)
    assert seen and all(painted for painted, _ in seen)
    assert ctl.bridge is not None and ctl.canvas._bridge is ctl.bridge
    assert {i.node_id: i.run_state for i in win.scene().node_items()} == dict.fromkeys(["start", "a", "w", "b"], "succeeded")
    assert "4 completed" in ctl.progress_label.text()
