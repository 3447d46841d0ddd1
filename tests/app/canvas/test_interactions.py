"""Mouse gestures as state objects: each one changes only graphics items while it runs
and reports the user's intent through one scene signal when it ends (or nothing, when
it is refused or cancelled)."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.canvas.scene import WorkflowScene
from app.canvas.view import CanvasView
from tests.demo import demo_workflow


@pytest.fixture
def canvas(qtbot: QtBot, ui: Any) -> tuple[WorkflowScene, CanvasView]:
    wf = demo_workflow()
    for c in list(wf.connections):
        if c.to_node == "mail":
            wf.connections.remove(c)  # leave mail's input free to connect
    scene = WorkflowScene()
    scene.bind(wf)
    view = CanvasView(scene)
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    qtbot.waitExposed(view)
    view.fit_all()
    return scene, view


def test_dragging_an_output_to_an_input_asks_for_that_connection(qtbot: QtBot, ui: Any, canvas: tuple) -> None:
    scene, view = canvas
    start = ui.port_pos(scene, "many", "false", True)
    end = ui.port_pos(scene, "mail", "in", False)
    with qtbot.waitSignal(scene.connect_requested) as got:
        ui.mouse_drag(view, start, end)
    assert got.args == ["many", "false", "mail", "in"]
    assert not [i for i in scene.items() if type(i).__name__ == "QGraphicsPathItem"]  # the rubber line is gone


def test_an_input_dragged_to_an_output_is_turned_around(qtbot: QtBot, ui: Any, canvas: tuple) -> None:
    scene, view = canvas
    with qtbot.waitSignal(scene.connect_requested) as got:
        ui.mouse_drag(view, ui.port_pos(scene, "mail", "in", False), ui.port_pos(scene, "many", "true", True))
    assert got.args == ["many", "true", "mail", "in"]


def test_an_output_to_an_output_is_refused_with_a_reason(qtbot: QtBot, ui: Any, canvas: tuple) -> None:
    scene, view = canvas
    asked: list[Any] = []
    scene.connect_requested.connect(lambda *a: asked.append(a))
    with qtbot.waitSignal(scene.status_message) as got:
        ui.mouse_drag(view, ui.port_pos(scene, "many", "true", True), ui.port_pos(scene, "get", "out", True))
    assert "cannot connect an output to an output" in got.args[0]
    assert asked == []


def test_a_link_dropped_on_empty_canvas_offers_to_add_a_node(qtbot: QtBot, ui: Any, canvas: tuple) -> None:
    scene, view = canvas
    start = ui.port_pos(scene, "many", "false", True)
    with qtbot.waitSignal(scene.link_dropped) as got:
        ui.mouse_drag(view, start, start + QPointF(150, -160))
    node, port, is_output = got.args[:3]
    assert (node, port, is_output) == ("many", "false", True)


def test_moving_a_node_reports_old_and_new_positions_once(qtbot: QtBot, ui: Any, canvas: tuple) -> None:
    scene, view = canvas
    item = scene.node_item("log")
    before = item.pos()
    grab = item.mapToScene(item.boundingRect().center())
    with qtbot.waitSignal(scene.nodes_moved) as got:
        ui.mouse_drag(view, grab, grab + QPointF(100, 60))
    moves, note_moves = got.args[0], got.args[1]
    assert list(moves) == ["log"] and not note_moves
    old, new = moves["log"]
    assert tuple(old) == (before.x(), before.y())
    assert new[0] > old[0] and new[1] > old[1]


def test_escape_puts_a_dragged_node_back_and_reports_nothing(qtbot: QtBot, ui: Any, canvas: tuple) -> None:
    scene, view = canvas
    moved: list[Any] = []
    scene.nodes_moved.connect(lambda *a: moved.append(a))
    item = scene.node_item("log")
    before = item.pos()
    vp = view.viewport()
    grab = ui.vp_point(view, item.mapToScene(item.boundingRect().center()))
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, grab)
    for dx in (10, 40, 80):
        QTest.mouseMove(vp, grab + type(grab)(dx, dx))
    assert item.pos() != before  # it follows the mouse while the gesture runs
    QTest.keyClick(vp, Qt.Key.Key_Escape)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, grab + type(grab)(80, 80))
    assert item.pos() == before and moved == []


def test_a_rubber_band_selects_the_nodes_it_covers(qtbot: QtBot, ui: Any, canvas: tuple) -> None:
    scene, view = canvas
    start_item, get_item = scene.node_item("start"), scene.node_item("get")
    top_left = start_item.mapToScene(start_item.boundingRect().topLeft()) - QPointF(30, 30)
    bottom_right = get_item.mapToScene(get_item.boundingRect().bottomRight()) + QPointF(10, 10)
    ui.mouse_drag(view, top_left, bottom_right)
    selected = sorted(i.node_id for i in scene.selectedItems() if hasattr(i, "node_id"))
    assert selected == ["get", "start"]
