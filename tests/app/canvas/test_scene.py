"""The scene follows the model; node and edge items show run states and flow labels."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QUndoStack
from PySide6.QtWidgets import QStyleOptionGraphicsItem

from app.canvas.scene import WorkflowScene
from app.canvas.view import CanvasView
from app.document import commands
from app.theme import RUN_STATE_COLORS
from engine.model import Connection, Node, Workflow
from tests.app.python_calls import python_calls
from tests.demo import demo_workflow


@pytest.fixture
def scene(qtbot, ui):
    wf = demo_workflow()
    sc = WorkflowScene()
    sc.bind(wf)
    view = CanvasView(sc)
    qtbot.addWidget(view)
    view.resize(900, 600)
    return sc


def _render(item, scale: float = 1.0) -> QImage:
    """Paint one item alone into an image (as the view would at this zoom)."""
    rect = item.boundingRect()
    image = QImage(int(rect.width() * scale) + 2, int(rect.height() * scale) + 2, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.white)
    painter = QPainter(image)
    painter.scale(scale, scale)
    painter.translate(-rect.topLeft())
    item.paint(painter, QStyleOptionGraphicsItem(), None)
    painter.end()
    return image


def _count(image: QImage, color: str, tolerance: int = 40) -> int:
    target = QColor(color)
    n = 0
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            c = image.pixelColor(x, y)
            if abs(c.red() - target.red()) + abs(c.green() - target.green()) + abs(c.blue() - target.blue()) < tolerance:
                n += 1
    return n


def test_scene_mirrors_the_file(scene):
    wf = scene.workflow
    assert {i.node_id for i in scene.node_items()} == {n.id for n in wf.nodes}
    assert len(scene.edge_items()) == len(wf.connections)
    assert scene.note_item("n1").text() == "Fetch the items"
    get = scene.node_item("get")
    assert list(get.outputs) == ["out", "error"]  # on_error: route adds `error`
    assert list(scene.node_item("many").outputs) == ["true", "false"]
    assert scene.node_item("start").inputs == {}
    assert get.pos() == QPointF(280, 0)


def test_model_edits_update_items_and_ports(scene):
    wf = scene.workflow
    stack = QUndoStack()
    stack.push(commands.Rename(wf, "get", "Fetch"))
    assert scene.node_item("get").name == "Fetch"
    stack.push(commands.SetOnError(wf, "get", "fail"))
    assert list(scene.node_item("get").outputs) == ["out"]
    assert not any(e.conn.from_port == "error" for e in scene.edge_items())
    stack.undo()
    assert list(scene.node_item("get").outputs) == ["out", "error"]
    assert scene.edge_item(Connection("get", "error", "log", "in")) is not None
    # switch cases become ports as they are typed
    stack.push(commands.AddNode(wf, Node("sw", "switch", "Kind", (0, 400), {"value": "{{ input.kind }}"})))
    assert list(scene.node_item("sw").outputs) == ["default"]
    stack.push(commands.SetConfig(wf, "sw", {"value": "x", "cases": {"order": "o", "refund": "r"}}))
    assert list(scene.node_item("sw").outputs) == ["order", "refund", "default"]
    assert scene.node_item("sw").height > scene.node_item("log").height
    stack.push(commands.Connect(wf, Connection("sw", "refund", "log", "in")))
    edge = scene.edge_item(Connection("sw", "refund", "log", "in"))
    assert not edge.dangling
    # removing the case leaves the connection dangling (validation reports it), drawn red
    stack.push(commands.SetConfig(wf, "sw", {"value": "x", "cases": {"order": "o"}}))
    assert edge.dangling
    stack.push(commands.MoveNodes(wf, {"sw": ((0, 400), (100, 500))}))
    assert scene.node_item("sw").pos() == QPointF(100, 500)
    stack.push(commands.SetDisabled(wf, "sw", True))
    assert scene.node_item("sw").disabled
    stack.push(commands.RemoveNode(wf, "sw"))
    assert scene.node_item("sw") is None and edge.scene() is None


def test_edges_follow_moving_nodes(scene):
    edge = scene.edge_item(Connection("start", "out", "get", "in"))
    before = edge.boundingRect()
    scene.node_item("get").setPos(QPointF(280, 300))
    after = edge.boundingRect()
    assert after.bottom() > before.bottom() + 250


def test_unknown_node_type_is_shown_not_fatal(qtbot):
    wf = Workflow(nodes=[Node("x", "no_such_type", "Mystery", (0, 0))])
    sc = WorkflowScene()
    sc.bind(wf)
    item = sc.node_item("x")
    assert "Unknown type" in item.title
    assert list(item.inputs) == ["in"] and list(item.outputs) == ["out"]
    assert _count(_render(item), "#ffffff") > 0  # it paints


def test_run_state_colours_the_card(scene):
    item = scene.node_item("log")
    plain = _render(item)
    red = RUN_STATE_COLORS["failed"]
    assert _count(plain, red) == 0
    item.set_run_state("failed", "boom", "HTTP 500 after 3 attempts")
    failed = _render(item)
    assert _count(failed, red) > 40
    assert "HTTP 500 after 3 attempts" in item.toolTip()
    item.set_run_state("retrying", "retry 2/5 in 3.2 s")
    amber = RUN_STATE_COLORS["retrying"]
    assert _count(_render(item), amber) > _count(plain, amber) + 40
    narrow = item.boundingRect().width()
    item.set_run_state("retrying", "retry 12/100 in 3.2 s, waiting for the server to come back up")
    assert item.boundingRect().width() > narrow + 50  # a long badge widens the item (no clipping)
    item.set_run_state(None)
    assert _count(_render(item), red) == 0 and item.run_badge is None
    for state in RUN_STATE_COLORS:
        item.set_run_state(state)
        assert _count(_render(item), RUN_STATE_COLORS[state], 30) > 20, state
    with pytest.raises(ValueError, match="unknown run state"):
        item.set_run_state("exploded")


def test_zoomed_out_cards_are_blocks_in_their_state_colour(scene):
    item = scene.node_item("log")
    item.set_run_state("succeeded")
    far = _render(item, 0.2)
    assert _count(far, RUN_STATE_COLORS["succeeded"], 60) > 10


def test_flow_label_on_edges(scene):
    edge = scene.edge_item(Connection("many", "false", "mail", "in"))
    plain = _render(edge)
    edge.set_flow_label("3 items", True)
    assert edge.flow_label == "3 items"
    taken = _render(edge)
    green = "#16a34a"
    assert _count(taken, green) > _count(plain, green) + 10
    edge.set_flow_label(None, False)
    assert edge.flow_label is None and edge.flow_taken is False
    edge.set_flow_label(None, None)
    assert edge.flow_taken is None


def test_problem_badges(scene):
    scene.set_problems({"mail": ["smtp_host: required"]})
    assert scene.node_item("mail").problems == ["smtp_host: required"]
    assert "smtp_host: required" in scene.node_item("mail").toolTip()
    image = _render(scene.node_item("mail"))
    assert _count(image, "#dc2626") > 10
    scene.set_problems({})
    assert scene.node_item("mail").problems == []


def test_theme_switch_repaints_with_dark_colours(scene):
    from app.theme import DARK

    scene.set_theme(DARK)
    image = _render(scene.node_item("log"))
    assert _count(image, DARK.card, 10) > 100


def test_run_states_and_flow_labels_keep_item_geometry(scene, qtbot):
    """A run re-badges thousands of items per second: geometry changes would re-index each
    one in the scene's BSP tree, so states keep the bounds and labels only ever grow them."""
    item = scene.node_item("get")
    bounds = item.boundingRect()
    for state, badge in (("running", None), ("retrying", "retry 2/4 · next in 1.6 s"), ("succeeded", "12 ms"), (None, None)):
        item.set_run_state(state, badge)
        assert item.boundingRect() == bounds
    edge = scene.edge_item(Connection("start", "out", "get"))
    plain = edge.boundingRect()
    edge.set_flow_label("3 items · {'id': 1}", True)
    labelled = edge.boundingRect()
    assert labelled.contains(edge._label_rect) and labelled != plain
    edge.set_flow_label("1 item", False)  # shorter: no geometry change
    assert edge.boundingRect() == labelled and labelled.contains(edge._label_rect)
    edge.set_flow_label(None, None)
    assert edge.boundingRect() == labelled and edge.flow_label is None


def test_scene_reports_content_and_run_state_changes(scene, qtbot):
    content, states = [], []
    scene.content_changed.connect(lambda: content.append(1))
    scene.run_states_changed.connect(lambda: states.append(1))
    for item in scene.node_items():
        item.set_run_state("running")
    assert states == [1]  # one signal for the burst
    scene.run_states_seen()
    scene.node_item("get").set_run_state("succeeded")
    assert states == [1, 1]
    assert content == []
    scene.workflow.set_node_attr("get", "position", (400.0, 40.0))
    assert content == [1] and scene.node_item("get").pos() == QPointF(400, 40)


def test_relabelled_edge_follows_its_curve_after_a_move(scene, qtbot):
    """Label widths and points on the curve are remembered between relabels: a relabel after
    the cards moved must measure against the new curve, and every text at its own width."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QFontMetricsF

    from app.canvas.edgeitem import _label_font

    edge = scene.edge_item(Connection("start", "out", "get"))
    metrics = QFontMetricsF(_label_font())
    for text in ("1 item", "3 items · {'id': 1}", "1 item"):
        edge.set_flow_label(text, True)
        assert edge._label_rect.width() == metrics.horizontalAdvance(text) + 14
    before = edge._label_rect.center()
    target = scene.node_item("get")
    target.setPos(target.pos() + QPointF(0, 300))
    edge.set_flow_label("2 items", True)
    after = edge._label_rect.center()
    assert after != before
    spot = edge._label_spot
    assert spot is not None and spot != -1.0
    on_curve = edge.path().pointAtPercent(spot)
    assert abs(after.x() - on_curve.x()) < 1e-6 and abs(after.y() - on_curve.y()) < 1e-6


def test_run_state_tooltip_and_badge_follow_renames_and_texts(scene, qtbot):
    """The tooltip's name lines and badge widths are remembered between run states: a rename
    must still show in the next state's tooltip, and each badge text gets its own width."""
    from PySide6.QtGui import QFontMetricsF

    from app.canvas.nodeitem import _Fonts

    item = scene.node_item("get")
    metrics = QFontMetricsF(_Fonts.get().badge)
    item.set_run_state("running")
    assert "<b>running</b>" in item.toolTip() and "<b>Get items</b>" in item.toolTip()
    item.set_name("fetch <orders>")
    item.set_run_state("succeeded", "12 ms", "output: 3 items")
    tip = item.toolTip()
    assert "<b>fetch &lt;orders&gt;</b>" in tip and "<b>succeeded</b>: output: 3 items" in tip
    assert item._badge_width == metrics.horizontalAdvance(item._badge_text()) + 16
    item.set_run_state("succeeded", "1.5 s")
    assert item._badge_width == metrics.horizontalAdvance(item._badge_text()) + 16
    item.set_run_state(None)
    assert "succeeded" not in item.toolTip() and item._badge_width == 0.0


def test_the_scene_asks_qt_not_python_for_a_card_s_or_an_edge_s_bounds(qtbot, scene):
    """A run re-badges and repaints thousands of cards and labels edges: each question the
    scene asks an item about its bounds would be a call into Python waiting for the
    interpreter lock. Qt holds the bounds, so repainting them runs no Python `boundingRect`."""
    from app.canvas import edgeitem, nodeitem

    view = scene.views()[0]
    view.show()
    qtbot.waitExposed(view)
    painted: list[int] = []
    view.viewport().installEventFilter(_PaintCounter(painted, view))

    def rebadge_and_paint() -> None:
        for item in scene.node_items():
            item.set_run_state("running")
            item.set_run_state("succeeded", "12 ms")
        for edge in scene.edge_items():
            edge.set_flow_label("1 item", True)
        painted.clear()
        qtbot.waitUntil(lambda: len(painted) > 0)

    assert python_calls("boundingRect", {nodeitem.__file__, edgeitem.__file__}, rebadge_and_paint) == 0
    assert all(i.boundingRect() == i.rect() for i in [*scene.node_items(), *scene.edge_items()])


class _PaintCounter:
    """Counts the paint events of a widget (an event filter owned by `parent`)."""

    def __new__(cls, painted: list[int], parent):
        from PySide6.QtCore import QEvent, QObject

        class Counter(QObject):
            def eventFilter(self, _obj, event):
                if event.type() == QEvent.Type.Paint:
                    painted.append(1)
                return False

        return Counter(parent)


def test_a_card_s_bounds_follow_its_ports_marks_and_badges_in_the_scene_index(scene):
    """Bounds held by Qt still move with the card's geometry, and the scene's index knows
    the new area at once (what is found under the mouse, what is repainted)."""
    def found(at: QPointF) -> bool:
        return item in scene.items(at, Qt.ItemSelectionMode.IntersectsItemBoundingRect, Qt.SortOrder.DescendingOrder)

    item = scene.node_item("log")
    plain = item.boundingRect()
    item.set_ports(["in"], [f"out{i}" for i in range(6)])  # a row per output: taller
    tall = item.boundingRect()
    assert tall.height() > plain.height() + 100 and tall.top() == plain.top()
    below = item.mapToScene(QPointF(20, plain.bottom() + 40))
    assert found(below)
    item.set_debug_marks(paused_here=True)  # the arrow left of the card
    assert item.boundingRect().left() < tall.left() - 10
    assert found(item.mapToScene(QPointF(item.boundingRect().left() + 2, 10)))
    item.set_debug_marks(paused_here=False)
    item.set_run_state("retrying", "retry 12/100 in 3.2 s, waiting for the server to come back up")
    wide = item.boundingRect()
    assert wide.left() < tall.left() - 50
    assert found(item.mapToScene(QPointF(wide.left() + 2, 10)))
    item.set_run_state(None)
    item.set_ports(["in"], ["out"])
    assert item.boundingRect() == plain and not found(below)
