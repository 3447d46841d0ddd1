"""`EditController.attach(scene)`: the document layer turns a real scene's intents into
undo commands by itself; no window routes them (there is no MainWindow in these tests)."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QPointF
from pytestqt.qtbot import QtBot

from app.canvas.scene import WorkflowScene
from app.canvas.view import CanvasView
from app.document.controller import EditController
from app.document.document import WorkflowDocument
from engine import fileformat
from engine.model import Connection


def _canvas(qtbot: QtBot, ui: Any) -> tuple[WorkflowDocument, WorkflowScene, CanvasView]:
    wf = fileformat.parse(ui.DEMO)
    wf.connections[:] = [c for c in wf.connections if c.to_node != "mail"]  # mail's input is free
    document = WorkflowDocument(wf)
    scene = WorkflowScene()
    scene.bind(wf)
    view = CanvasView(scene)
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    qtbot.waitExposed(view)
    view.fit_all()
    return document, scene, view


@pytest.fixture
def attached(qtbot: QtBot, ui: Any) -> tuple[EditController, WorkflowScene, CanvasView]:
    document, scene, view = _canvas(qtbot, ui)
    controller = EditController(document)
    controller.attach(scene)
    return controller, scene, view


def test_a_link_drawn_on_the_scene_becomes_one_undoable_command(qtbot: QtBot, ui: Any, attached: tuple) -> None:
    controller, scene, view = attached
    stack = controller.document.undo_stack
    with qtbot.waitSignal(scene.connect_requested):
        ui.mouse_drag(view, ui.port_pos(scene, "many", "false", True), ui.port_pos(scene, "mail", "in", False))
    made = Connection("many", "false", "mail", "in")
    assert stack.count() == 1 and made in controller.wf.connections
    assert scene.edge_item(made) is not None  # the scene follows the model, not the gesture
    stack.undo()
    assert made not in controller.wf.connections and scene.edge_item(made) is None


def test_a_dragged_node_is_moved_by_a_command(qtbot: QtBot, ui: Any, attached: tuple) -> None:
    controller, scene, view = attached
    stack = controller.document.undo_stack
    before = controller.wf.node("log").position
    item = scene.node_item("log")
    grab = item.mapToScene(item.boundingRect().center())
    with qtbot.waitSignal(scene.nodes_moved):
        ui.mouse_drag(view, grab, grab + QPointF(100, 60))
    after = controller.wf.node("log").position
    assert stack.count() == 1 and after[0] > before[0] and after[1] > before[1]
    stack.undo()
    assert controller.wf.node("log").position == before


def test_note_text_and_size_intents_become_commands(attached: tuple) -> None:
    controller, scene, _view = attached
    stack = controller.document.undo_stack
    scene.note_item("n1").text_edited.emit("n1", "second")  # what the note item says when editing ends
    scene.note_resized.emit("n1", (300.0, 180.0))
    note = controller.wf.notes[0]
    assert (note.text, tuple(note.size)) == ("second", (300.0, 180.0))
    assert stack.count() == 2  # no merging across gestures
    stack.undo()
    stack.undo()
    assert note.text == "Fetch the items"


def test_the_scene_asks_the_attached_controller_before_it_offers_a_link(qtbot: QtBot, ui: Any, attached: tuple) -> None:
    controller, scene, view = attached
    assert scene.link_validator == controller.connection_refusal
    refused: list[str] = []
    scene.status_message.connect(refused.append)
    ui.mouse_drag(view, ui.port_pos(scene, "many", "true", True), ui.port_pos(scene, "mail", "in", False))
    ui.mouse_drag(view, ui.port_pos(scene, "many", "true", True), ui.port_pos(scene, "mail", "in", False))
    assert controller.document.undo_stack.count() == 1
    assert refused and "already connected" in refused[-1]


def test_a_read_only_controller_refuses_the_intent_with_a_reason(qtbot: QtBot, ui: Any, attached: tuple) -> None:
    controller, scene, _view = attached
    controller.read_only = True
    with qtbot.waitSignal(controller.refused) as got:
        scene.connect_requested.emit("many", "false", "mail", "in")
    assert "read-only" in got.args[0] and controller.document.undo_stack.count() == 0


def test_attaching_a_new_document_detaches_the_old_one(qtbot: QtBot, ui: Any) -> None:
    document, scene, _view = _canvas(qtbot, ui)
    old = EditController(document)
    old.attach(scene)
    fresh_doc = WorkflowDocument(document.workflow.clone())
    scene.bind(fresh_doc.workflow)
    new = EditController(fresh_doc)
    old.detach()
    new.attach(scene)
    scene.connect_requested.emit("many", "false", "mail", "in")
    assert document.undo_stack.count() == 0 and fresh_doc.undo_stack.count() == 1
    assert old.scene is None and new.scene is scene
    assert scene.link_validator == new.connection_refusal


def test_attach_to_another_scene_leaves_the_first(qtbot: QtBot, ui: Any, attached: tuple) -> None:
    controller, first, _view = attached
    second = WorkflowScene()
    second.bind(controller.wf)
    controller.attach(second)
    first.connect_requested.emit("many", "false", "mail", "in")
    assert controller.document.undo_stack.count() == 0 and first.link_validator is None
    second.connect_requested.emit("many", "false", "mail", "in")
    assert controller.document.undo_stack.count() == 1
