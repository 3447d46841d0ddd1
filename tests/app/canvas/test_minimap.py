"""The minimap: a cached picture rebuilt only when the model or run states changed,
throttled and coalesced, with a live viewport frame on top."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QObject, QPointF
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from app.canvas import minimap as mm
from app.canvas.scene import WorkflowScene
from app.canvas.view import CanvasView
from app.theme import RUN_STATE_COLORS
from engine.model import Node
from tests.demo import demo_workflow


def shown_with_minimap(qtbot, wf) -> CanvasView:
    """A 900x600 canvas on `wf`, shown, with its minimap on."""
    scene = WorkflowScene()
    scene.bind(wf)
    v = CanvasView(scene)
    qtbot.addWidget(v)
    v.resize(900, 600)
    v.set_minimap_visible(True)
    v.show()
    qtbot.waitExposed(v)
    return v


@pytest.fixture
def view(qtbot, ui):
    v = shown_with_minimap(qtbot, demo_workflow())
    v.zoom_reset()
    v.centerOn(QPointF(0, 0))
    qtbot.waitUntil(lambda: not v.minimap.pending, timeout=2000)
    return v


class _PaintCounter(QObject):
    """Counts the paint events a widget receives (the frame is drawn in paintEvent)."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def _pixel_at(minimap, scene_point: QPointF) -> str:
    """The minimap's cached picture at the place that shows `scene_point`."""
    r = minimap._to_widget(minimap._source.__class__(scene_point.x(), scene_point.y(), 0, 0))
    image = minimap._pixmap.toImage()
    dpr = minimap._pixmap.devicePixelRatio()
    return image.pixelColor(round(r.x() * dpr), round(r.y() * dpr)).name()


def _card_center(scene, node_id: str) -> QPointF:
    item = scene.node_item(node_id)
    return item.mapToScene(item.card_rect().center())


def test_repaints_and_run_states_do_not_rebuild_each_time(view, qtbot):
    m = view.minimap
    scene = view.scene()
    before = m.rebuilds
    with qtbot.waitSignal(scene.changed, timeout=2000):  # the repaints reached the event loop
        for item in scene.node_items():  # what a run does to every card on every frame
            item.update()
    assert m.rebuilds == before and not m.pending  # plain repaints are not model changes

    for state in ("pending", "running", "succeeded", "failed", "running", "succeeded"):
        for item in scene.node_items():
            item.set_run_state(state)
    assert m.pending  # coalesced behind one timer
    qtbot.waitUntil(lambda: not m.pending, timeout=2000)
    assert m.rebuilds == before + 1  # 30 run-state changes, one new picture
    get = _card_center(scene, "get")
    assert _pixel_at(m, get) == QColor(RUN_STATE_COLORS["succeeded"]).name()


def test_model_changes_rebuild_the_layout(view, qtbot):
    m = view.minimap
    scene = view.scene()
    wf = scene.workflow
    source = m._source
    wf.add_node(Node(id="far", type="set", name="Far away", position=(3000.0, 1600.0)))
    qtbot.waitUntil(lambda: not m.pending, timeout=2000)
    assert m._source != source and m._source.contains(QPointF(3100, 1620))
    far = _card_center(scene, "far")
    assert _pixel_at(m, far) == scene.node_item("far").color.name()
    # every connection is in the one cached edge path
    assert m._edges.elementCount() == 2 * len(scene.edge_items())


def test_hidden_minimap_never_rebuilds(view, qtbot):
    m = view.minimap
    view.set_minimap_visible(False)
    before = m.rebuilds
    with qtbot.waitSignal(view.scene().changed, timeout=2000):  # the changes reached the event loop
        view.scene().workflow.add_node(Node(id="n2", type="set", name="Hidden change", position=(600.0, 600.0)))
        for item in view.scene().node_items():
            item.set_run_state("running")
    assert m.rebuilds == before and not m.pending
    view.set_minimap_visible(True)  # shown again: one fresh picture with what changed meanwhile
    assert m.rebuilds == before + 1
    assert m._source.contains(_card_center(view.scene(), "n2"))


def test_viewport_frame_follows_the_view_without_a_rebuild(view, qtbot):
    m = view.minimap
    view.set_zoom(3.0)
    view.centerOn(QPointF(100, 30))
    qtbot.waitUntil(lambda: not m.pending, timeout=2000)
    before = m.rebuilds
    frame = m.viewport_frame()
    view.scroll_by(300, 0)
    moved = m.viewport_frame()
    assert moved.x() > frame.x() and moved.width() == pytest.approx(frame.width())
    painted = _PaintCounter(m)
    view.zoom_out()
    assert m.viewport_frame().width() > moved.width()
    qtbot.waitUntil(lambda: painted.count > 0, timeout=2000)  # the minimap drew the new frame
    assert m.rebuilds == before and not m.pending


def test_rebuilds_are_spaced_by_their_cost(view, qtbot):
    m = view.minimap
    m._last_cost_ms = 80.0  # as if the last picture took 80 ms (a huge canvas)
    m.schedule_colors()
    assert m._timer.interval() == min(mm.MAX_WAIT_MS, 80 * mm.COST_FACTOR)
    qtbot.waitUntil(lambda: not m.pending, timeout=3000)


def test_a_big_canvas_recolours_only_what_changed_and_shows_the_final_states(qtbot, ui, tmp_path):
    """Past ROUNDED_LIMIT nodes a run-state change paints the changed blocks over the last
    picture; after every wave, and at the end, it is the picture a full rebuild draws."""
    from tests.app.runner.helpers import workflow

    n = mm.ROUNDED_LIMIT + 80
    nodes = [{"id": f"n{i}", "type": "set", "position": [(i % 24) * 260, (i // 24) * 150]} for i in range(n)]
    v = shown_with_minimap(qtbot, workflow(nodes, [(f"n{i}", "out", f"n{i + 1}") for i in range(n - 1)]))
    scene = v.scene()
    m = v.minimap
    qtbot.waitUntil(lambda: not m.pending, timeout=2000)
    items = scene.node_items()
    picture = m._pixmap
    for wave, state in enumerate(("pending", "running", "succeeded")):
        for item in items[: (wave + 1) * n // 3]:  # a run's front moving through the canvas
            item.set_run_state(state)
        qtbot.waitUntil(lambda: not m.pending, timeout=2000)
        assert m._pixmap is picture  # painted over, not drawn anew
        shown = m._pixmap.toImage()
        m.refresh()  # the whole picture, drawn from scratch, for comparison
        assert m._pixmap.toImage() == shown, f"wave {wave}"
        picture = m._pixmap
    for item in items:
        item.set_run_state("succeeded")
    qtbot.waitUntil(lambda: not m.pending, timeout=2000)
    assert m._pixmap is picture
    shown = m._pixmap.toImage()
    m.grab().save(str(tmp_path / "minimap_recoloured.png"))
    m.refresh()  # the whole picture, drawn from scratch
    assert m._pixmap is not picture and m._pixmap.toImage() == shown
    assert _pixel_at(m, _card_center(scene, f"n{n - 1}")) == QColor(RUN_STATE_COLORS["succeeded"]).name()


def test_a_paint_that_fails_midway_ends_its_painter(view, qtbot, qtlog, monkeypatch):
    """A failed paint's traceback, kept by whoever reports it, holds the paint's frame and
    with it the painter: Qt then warned "endPaint() called with active painter" (the
    GUI benchmark's stack sampler, which keeps frames too, showed it 33 times a run)."""
    import sys

    kept = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: kept.append(exc))  # keeps the traceback, as a crash report does

    def broken():
        raise RuntimeError("frame")

    monkeypatch.setattr(view.minimap, "viewport_frame", broken)
    view.minimap.repaint()
    assert kept and kept[0][0] is RuntimeError
    assert not [r for r in qtlog.records if "active painter" in r.message]
