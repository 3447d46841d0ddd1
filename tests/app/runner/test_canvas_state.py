"""Run state on the canvas: batches become node colours, badges and edge labels; a past
run's snapshot shows its final look; big changes are painted in slices, and only what changed."""

from __future__ import annotations

import time

import pytest
from pytestqt.qtbot import QtBot

from app.canvas.scene import WorkflowScene
from app.canvas.view import CanvasView
from app.runner.bridge import Batch, NodeLive
from app.runner.canvas_state import RunCanvas, format_ms, retry_badge
from app.runner.snapshot import RunSnapshot
from engine.model import Node, Workflow
from tests.app.python_calls import python_calls
from tests.demo import demo_workflow


@pytest.fixture
def setup(qtbot: QtBot, ui: object) -> tuple[WorkflowScene, Workflow, RunCanvas]:
    wf = demo_workflow()
    scene = WorkflowScene()
    scene.bind(wf)
    view = CanvasView(scene)
    qtbot.addWidget(view)
    state = RunCanvas(lambda: scene)
    return scene, wf, state


def test_formatting_of_durations_and_the_retry_badge() -> None:
    assert [format_ms(v) for v in (None, 0.4, 12.3, 1530, 61_000)] == ["", "<1 ms", "12 ms", "1.5 s", "1 min 1 s"]
    live = NodeLive("retrying", attempt=2, max_attempts=4, retry_at=100.0)
    assert retry_badge(live, now=98.4) == "retry 3/4 · next in 1.6 s"
    assert retry_badge(NodeLive("retrying", attempt=1, retry_at=0.0), now=5.0) == "retry 2 · next in 0.0 s"
    assert retry_badge(NodeLive("retrying", attempt=1, max_attempts=3)) == "retry 2/3 to come"  # a past moment


def test_a_run_begins_pending_and_batches_paint_states_and_badges(setup: tuple) -> None:
    scene, wf, state = setup
    state.begin(wf)
    state.settle()
    assert {n.id: scene.node_item(n.id).run_state for n in wf.nodes} == dict.fromkeys([n.id for n in wf.nodes], "pending")
    batch = Batch(
        nodes={
            "start": NodeLive("succeeded", 1, duration_ms=0.2, summary="{}"),
            "get": NodeLive("retrying", 1, 4, retry_at=time.monotonic() + 5, error="503"),
        },
        edges={0: 1},
    )
    state.apply(batch)
    state.settle()
    get = scene.node_item("get")
    assert scene.node_item("start").run_state == "succeeded" and scene.node_item("start").run_badge == "<1 ms"
    assert get.run_state == "retrying" and get.run_badge.startswith("retry 2/4 · next in")
    assert get.run_tooltip == "attempt 1 failed: 503"
    edge = scene.edge_item(wf.connections[0])
    assert (edge.flow_label, edge.flow_taken) == ("{}", True)
    assert state.progress()["completed"] == 1 and state.progress()["total"] == len(wf.nodes)


def test_the_end_of_a_run_fades_the_branches_not_taken(setup: tuple) -> None:
    scene, wf, state = setup
    state.begin(wf)
    state.apply(Batch(nodes={n: NodeLive("succeeded", 1) for n in ("start", "get", "many")}, edges={0: 1, 1: 1}))
    state.apply(Batch(nodes={"log": NodeLive("skipped"), "mail": NodeLive("skipped")}, run_status="completed"))
    state.settle()
    taken = {i: scene.edge_item(c).flow_taken for i, c in enumerate(wf.connections)}
    assert taken == {0: True, 1: True, 2: False, 3: False}


def test_a_snapshot_shows_a_past_run_and_clear_restores_the_editor_look(setup: tuple) -> None:
    scene, wf, state = setup
    snap = RunSnapshot("e", wf.id, "paused", {}, nodes={"start": NodeLive("succeeded", 1)}, edges={0: 1})
    state.show_snapshot(wf, snap)
    state.settle()
    assert scene.node_item("start").run_state == "succeeded"
    assert scene.node_item("get").run_state == "pending"  # a paused run: the rest will run on resume
    state.clear()
    state.settle()
    assert all(scene.node_item(n.id).run_state is None for n in wf.nodes)
    assert scene.edge_item(wf.connections[0]).flow_label is None


def test_a_big_change_is_painted_in_slices_and_then_completely(qtbot: QtBot) -> None:
    wf = Workflow(name="big", nodes=[Node(f"n{i}", "set", f"N{i}", position=(i * 10.0, 0.0)) for i in range(3000)])
    scene = WorkflowScene()
    scene.bind(wf)
    view = CanvasView(scene)
    qtbot.addWidget(view)
    state = RunCanvas(lambda: scene)
    state.begin(wf)
    state.apply(Batch(nodes={n.id: NodeLive("succeeded", 1) for n in wf.nodes}))
    assert state.pending_work > 0  # nothing is painted inside apply()
    qtbot.waitUntil(lambda: state.pending_work == 0, timeout=20_000)
    assert all(scene.node_item(n.id).run_state == "succeeded" for n in wf.nodes)


def test_only_items_whose_look_changed_are_touched(setup: tuple) -> None:
    scene, wf, state = setup
    state.begin(wf)
    state.apply(Batch(nodes={"start": NodeLive("succeeded", 1, duration_ms=3.0)}))
    state.settle()
    touched: list[str] = []
    for n in wf.nodes:
        item = scene.node_item(n.id)
        original = item.set_run_state
        item.set_run_state = lambda *a, _id=n.id, _orig=original: (touched.append(_id), _orig(*a))  # type: ignore[method-assign]
    state.apply(Batch(nodes={"start": NodeLive("succeeded", 1, duration_ms=3.0), "get": NodeLive("running", 1)}))
    state.settle()
    assert touched == ["get"]


def test_the_end_of_a_live_run_and_the_next_run_look_at_no_card_outside_the_run(setup: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    """A live run had every card in its states: its record at the end, and a new run of the
    same workflow, repaint those cards and edges without a pass over every item or a new
    connection index (5,000-node runs paid both, in one block, at their start and end).
    The look is the one a fresh canvas shows for the same record."""
    scene, wf, state = setup
    state.begin(wf)
    state.apply(Batch(nodes={n.id: NodeLive("succeeded", 1, duration_ms=2.0) for n in wf.nodes}, edges={0: 1, 1: 1}))
    state.settle()
    scene.node_item("log").set_run_state("retrying", "≠ output", "differs")  # a comparison's tint meanwhile
    scans: list[str] = []
    monkeypatch.setattr(state, "_mark_all", lambda: scans.append("scan"))
    final = RunSnapshot("e", wf.id, "completed", {}, nodes={"start": NodeLive("succeeded", 1, duration_ms=2.0), "get": NodeLive("failed", 1, error="boom")}, edges={0: 1})
    state.show_snapshot(wf.clone(), final)
    state.settle()
    assert scans == [] and state._conns_of is not None
    shown = {n.id: (scene.node_item(n.id).run_state, scene.node_item(n.id).run_badge) for n in wf.nodes}
    labels = [(scene.edge_item(c).flow_label, scene.edge_item(c).flow_taken) for c in wf.connections]
    assert shown["get"][0] == "failed" and shown["log"] == (None, None)  # never ran: plain again
    state.begin(wf.clone())  # the next run of the same workflow
    state.settle()
    assert scans == [] and all(scene.node_item(n.id).run_state == "pending" for n in wf.nodes)
    # a fresh canvas on a fresh scene shows the same record the same way
    scene2 = WorkflowScene()
    scene2.bind(wf)
    fresh = RunCanvas(lambda: scene2)
    fresh.show_snapshot(wf, final)
    fresh.settle()
    assert shown == {n.id: (scene2.node_item(n.id).run_state, scene2.node_item(n.id).run_badge) for n in wf.nodes}
    assert labels == [(scene2.edge_item(c).flow_label, scene2.edge_item(c).flow_taken) for c in wf.connections]


def test_a_snapshot_after_a_partial_one_still_clears_every_card_it_does_not_name(setup: tuple) -> None:
    """Stepping through a past run shows partial snapshots: a card shown at one step and
    absent from the next goes back to plain (the pass over every item stays for that)."""
    scene, wf, state = setup
    state.show_snapshot(wf, RunSnapshot("e", wf.id, "completed", {}, nodes={"start": NodeLive("succeeded", 1), "get": NodeLive("succeeded", 1)}, edges={0: 1}))
    state.settle()
    state.show_snapshot(wf, RunSnapshot("e", wf.id, "completed", {}, nodes={"start": NodeLive("succeeded", 1)}, edges={}))
    state.settle()
    assert scene.node_item("start").run_state == "succeeded" and scene.node_item("get").run_state is None
    assert scene.edge_item(wf.connections[0]).flow_label is None


def test_the_scene_asks_qt_not_python_for_a_spinner_s_bounds(setup: tuple, qtbot: QtBot, tmp_path) -> None:
    """Every running node's spinner turns every SPIN_MS, and the scene asks each for its
    bounds as it repaints: a Python `boundingRect` was a call into Python on the GUI thread
    (87-325 a run) waiting for the interpreter lock the engine holds. Qt answers now."""
    from PySide6.QtCore import QEvent, QObject, QRectF

    from app.runner import canvas_state

    scene, wf, state = setup
    view = scene.views()[0]
    view.resize(900, 600)
    view.show()
    qtbot.waitExposed(view)
    painted: list[int] = []

    class PaintCounter(QObject):
        def eventFilter(self, _obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                painted.append(1)
            return False

    counter = PaintCounter(view)
    view.viewport().installEventFilter(counter)

    def spin_and_paint() -> None:
        state.begin(wf)
        state.apply(Batch(nodes={n.id: NodeLive("running", 1) for n in wf.nodes}))
        state.settle()
        spinners = list(state._spinners.values())
        angles = [s.angle for s in spinners]
        painted.clear()
        qtbot.waitUntil(lambda: bool(painted) and all(s.angle != a for s, a in zip(spinners, angles, strict=True)), timeout=5000)

    assert python_calls("boundingRect", {canvas_state.__file__}, spin_and_paint) == 0
    spinners = list(state._spinners.values())
    assert len(spinners) == len(wf.nodes) and all(s.boundingRect() == QRectF(8, 6, 44, 44) for s in spinners)
    view.grab().save(str(tmp_path / "spinners.png"))
