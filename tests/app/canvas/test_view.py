"""Building a workflow with the mouse on the real canvas of the real main window."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.canvas.nodeitem import HEADER, WIDTH
from engine.model import Connection


def drop_from_palette(window, node_type: str, scene_pos: QPointF) -> str:
    """Drag a palette entry onto the canvas: the palette's own drag data, real drop events."""
    palette = window.node_palette
    item = palette.item_for(node_type)
    mime = palette.tree.mimeData([item])
    vp = window.view.viewport()
    point = window.view.mapFromScene(scene_pos)
    before = {n.id for n in window.document.workflow.nodes}
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(point, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(point, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, move)
    drop = QDropEvent(QPointF(point), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, drop)
    added = [n.id for n in window.document.workflow.nodes if n.id not in before]
    assert len(added) == 1
    return added[0]


def test_build_a_workflow_with_the_mouse(window, ui):
    wf = window.document.workflow
    start = drop_from_palette(window, "manual_trigger", QPointF(0, 0))
    get = drop_from_palette(window, "http_request", QPointF(300, 40))
    check = drop_from_palette(window, "if", QPointF(600, 0))
    assert [n.type for n in wf.nodes] == ["manual_trigger", "http_request", "if"]
    assert wf.node(get).position == (300, 40)  # on the grid
    assert wf.node(get).name == "HTTP request"
    scene, view = window.scene, window.view

    ui.mouse_drag(view, ui.port_pos(scene, start, "out", True), ui.port_pos(scene, get, "in", False))
    # dragging backwards, from an input to an output, works too
    ui.mouse_drag(view, ui.port_pos(scene, check, "in", False), ui.port_pos(scene, get, "out", True))
    assert wf.connections == [Connection(start, "out", get, "in"), Connection(get, "out", check, "in")]
    assert scene.edge_item(Connection(start, "out", get, "in")) is not None

    # every step is undoable, one at a time, and redoable
    stack = window.document.undo_stack
    assert stack.count() == 5
    final = wf.clone()
    for _ in range(5):
        stack.undo()
    assert wf.nodes == [] and wf.connections == []
    assert scene.node_items() == [] and scene.edge_items() == []
    for _ in range(5):
        stack.redo()
    assert wf == final
    assert len(scene.edge_items()) == 2


def test_valid_targets_are_highlighted_while_dragging(window, ui):
    wf = window.document.workflow
    a = window.add_node_at("manual_trigger", QPointF(0, 0))
    b = window.add_node_at("set", QPointF(300, 0))
    c = window.add_node_at("webhook_trigger", QPointF(300, 200))
    view, scene = window.view, window.scene
    vp = view.viewport()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view.mapFromScene(ui.port_pos(scene, a, "out", True)))
    QTest.mouseMove(vp, view.mapFromScene(QPointF(150, 100)))
    from app.canvas.nodeitem import PortItem

    assert scene.node_item(b).inputs["in"].highlight == PortItem.VALID
    assert scene.node_item(c).inputs == {}  # a trigger has no input to offer
    assert scene.node_item(b).outputs["out"].highlight == PortItem.NORMAL
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view.mapFromScene(QPointF(150, 100)))
    assert wf.connections == []  # dropped on empty canvas: nothing
    assert scene.node_item(b).inputs["in"].highlight == PortItem.NORMAL


def test_invalid_connections_are_refused_with_a_message(window, ui):
    wf = window.document.workflow
    view, scene = window.view, window.scene
    a = window.add_node_at("manual_trigger", QPointF(0, 0))
    b = window.add_node_at("set", QPointF(300, 0))
    t = window.add_node_at("webhook_trigger", QPointF(300, 200))
    messages: list[str] = []
    scene.status_message.connect(messages.append)

    # output -> output
    ui.mouse_drag(view, ui.port_pos(scene, a, "out", True), ui.port_pos(scene, b, "out", True))
    assert wf.connections == []
    assert "output to an output" in messages[-1]
    assert "Connection refused" in window.statusBar().currentMessage()
    # self-loop
    ui.mouse_drag(view, ui.port_pos(scene, b, "out", True), ui.port_pos(scene, b, "in", False))
    assert wf.connections == [] and "itself" in messages[-1]
    # into a trigger (it has no input: dropped on its card)
    card = scene.node_item(t).mapToScene(QPointF(WIDTH / 2, HEADER / 2))
    ui.mouse_drag(view, ui.port_pos(scene, b, "out", True), card)
    assert wf.connections == [] and "no input" in messages[-1]
    # duplicate
    ui.mouse_drag(view, ui.port_pos(scene, a, "out", True), ui.port_pos(scene, b, "in", False))
    assert len(wf.connections) == 1
    ui.mouse_drag(view, ui.port_pos(scene, a, "out", True), ui.port_pos(scene, b, "in", False))
    assert len(wf.connections) == 1 and "already connected" in messages[-1]
    # dropping on a card with one input connects to it
    c = window.add_node_at("set", QPointF(600, 0))
    ui.mouse_drag(view, ui.port_pos(scene, b, "out", True), scene.node_item(c).mapToScene(QPointF(WIDTH / 2, HEADER / 2)))
    assert wf.connections[-1] == Connection(b, "out", c, "in")


def test_move_snaps_and_undoes(window, ui):
    wf = window.document.workflow
    a = window.add_node_at("set", QPointF(0, 0))
    b = window.add_node_at("set", QPointF(0, 200))
    view, scene = window.view, window.scene
    scene.select_nodes([a, b])
    grab = scene.node_item(a).mapToScene(QPointF(100, 20))
    ui.mouse_drag(view, grab, grab + QPointF(107, 52))
    assert wf.node(a).position == (100, 60)  # snapped to the 20 px grid
    assert wf.node(b).position == (100, 260)  # the selection moved together
    assert window.document.undo_stack.undoText().startswith("Move 2")
    window.document.undo_stack.undo()
    assert wf.node(a).position == (0, 0) and scene.node_item(a).pos() == QPointF(0, 0)
    assert scene.node_item(b).pos() == QPointF(0, 200)


def test_escape_cancels_a_drag(window, ui):
    a = window.add_node_at("set", QPointF(0, 0))
    view, scene = window.view, window.scene
    vp = view.viewport()
    grab = view.mapFromScene(scene.node_item(a).mapToScene(QPointF(100, 20)))
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, grab)
    QTest.mouseMove(vp, grab + QPoint(80, 80))
    assert scene.node_item(a).pos() != QPointF(0, 0)
    QTest.keyClick(view, Qt.Key.Key_Escape)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, grab + QPoint(80, 80))
    assert scene.node_item(a).pos() == QPointF(0, 0)
    assert window.document.workflow.node(a).position == (0, 0)


def test_rubber_band_selects_and_delete_removes_with_connections(window, ui):
    wf = window.document.workflow
    view, scene = window.view, window.scene
    a = window.add_node_at("manual_trigger", QPointF(0, 0))
    b = window.add_node_at("set", QPointF(300, 0))
    c = window.add_node_at("set", QPointF(300, 300))
    window.controller.connect(a, "out", b, "in")
    window.controller.connect(b, "out", c, "in")
    before = wf.clone()
    scene.clearSelection()
    ui.mouse_drag(view, QPointF(-60, -60), QPointF(560, 120))
    assert sorted(scene.selected_node_ids()) == sorted([a, b])
    assert scene.selected_connections() == []
    window.actions_by_name["delete"].trigger()
    assert [n.id for n in wf.nodes] == [c]
    assert wf.connections == []
    window.document.undo_stack.undo()
    assert wf == before


def test_click_selects_an_edge_and_delete_disconnects(window, ui):
    wf = window.document.workflow
    view, scene = window.view, window.scene
    a = window.add_node_at("manual_trigger", QPointF(0, 0))
    b = window.add_node_at("set", QPointF(400, 0))
    window.controller.connect(a, "out", b, "in")
    edge = scene.edge_item(wf.connections[0])
    mid = edge.path().pointAtPercent(0.5)
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view.mapFromScene(mid))
    assert scene.selected_connections() == [wf.connections[0]]
    window.delete_selection()
    assert wf.connections == []


def test_wheel_zooms_at_the_cursor(window):
    view = window.view
    window.add_node_at("set", QPointF(0, 0))
    view.zoom_reset()
    anchor = QPoint(300, 200)
    before = view.mapToScene(anchor)
    event = QWheelEvent(QPointF(anchor), QPointF(view.viewport().mapToGlobal(anchor)), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)  # fmt: skip
    QApplication.sendEvent(view.viewport(), event)
    assert abs(view.zoom - 1.44) < 1e-6
    after = view.mapToScene(anchor)
    assert abs(after.x() - before.x()) < 2 and abs(after.y() - before.y()) < 2
    view.set_zoom(100)
    assert view.zoom == 4.0
    window.actions_by_name["zoom_reset"].trigger()
    assert view.zoom == 1.0
    assert window.zoom_label.text() == "100 %"


def test_fit_shows_every_node(window):
    for i in range(6):
        window.add_node_at("set", QPointF(i * 900, i * 500))
    window.actions_by_name["fit"].trigger()
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    for item in window.scene.node_items():
        assert visible.contains(item.sceneBoundingRect().adjusted(10, 10, -10, -10))


def test_space_drag_and_middle_drag_pan(window, ui):
    view = window.view
    h, v = view.horizontalScrollBar(), view.verticalScrollBar()
    x0, y0 = h.value(), v.value()
    vp = view.viewport()
    QTest.mousePress(vp, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(400, 300))
    QTest.mouseMove(vp, QPoint(350, 260))
    QTest.mouseRelease(vp, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(350, 260))
    assert (h.value(), v.value()) == (x0 + 50, y0 + 40)
    QTest.keyPress(view, Qt.Key.Key_Space)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(400, 300))
    QTest.mouseMove(vp, QPoint(420, 300))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(420, 300))
    QTest.keyRelease(view, Qt.Key.Key_Space)
    assert h.value() == x0 + 30
    assert window.document.workflow.nodes == []  # panning never selects or adds anything


def test_arrow_keys_nudge_and_merge_into_one_undo_step(window):
    a = window.add_node_at("set", QPointF(0, 0))
    window.scene.select_nodes([a])
    window.view.setFocus()
    count = window.document.undo_stack.count()
    for _ in range(3):
        QTest.keyClick(window.view, Qt.Key.Key_Right)
    QTest.keyClick(window.view, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert window.document.workflow.node(a).position == (60, 100)
    assert window.document.undo_stack.count() == count + 1  # consecutive nudges merge
    window.document.undo_stack.undo()
    assert window.document.workflow.node(a).position == (0, 0)
    # a mouse drag after the nudges is its own step
    QTest.keyClick(window.view, Qt.Key.Key_Left)
    window.controller.move({a: ((-20, 0), (0, 0))})
    assert window.document.undo_stack.count() == count + 2


def test_quick_add_with_tab_and_double_click(window, qtbot):
    view = window.view
    view.setFocus()
    QTest.mouseMove(view.viewport(), QPoint(200, 200))
    QTest.keyClick(view, Qt.Key.Key_Tab)
    popup = window.quick_add
    assert popup.isVisible()
    QTest.keyClicks(popup.search, "http")
    QTest.keyClick(popup.search, Qt.Key.Key_Return)
    assert not popup.isVisible()
    nodes = window.document.workflow.nodes
    assert [n.type for n in nodes] == ["http_request"]
    # double-click on empty canvas opens it there; arrow keys choose
    window.view.centerOn(QPointF(2000, 2000))
    empty = view.mapFromScene(QPointF(2000, 2000))
    QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, empty)
    assert popup.isVisible()
    QTest.keyClicks(popup.search, "trigger")
    QTest.keyClick(popup.search, Qt.Key.Key_Down)
    chosen = popup.list.currentItem().data(Qt.ItemDataRole.UserRole)
    QTest.keyClick(popup.search, Qt.Key.Key_Return)
    assert nodes[-1].type == chosen and chosen.endswith("trigger")
    assert nodes[-1].position == (2000, 2000)


def test_sticky_note_edit_resize_and_undo(window, ui):
    wf = window.document.workflow
    view, scene = window.view, window.scene
    window.actions_by_name["add_note"].trigger()
    assert len(wf.notes) == 1
    note = scene.note_item(wf.notes[0].id)
    assert note.editing
    QTest.keyClicks(view.viewport(), "remember me")
    view.setFocus()
    note.text_item.clearFocus()
    assert wf.notes[0].text == "remember me"
    # resize with the grip
    w, h = note.size
    grip = note.mapToScene(QPointF(w - 4, h - 4))
    ui.mouse_drag(view, grip, grip + QPointF(100, 60))
    assert wf.notes[0].size == (w + 100, h + 60)
    window.document.undo_stack.undo()
    assert wf.notes[0].size == (w, h) and note.size == (w, h)
    window.document.undo_stack.undo()
    assert wf.notes[0].text == ""


def test_link_dropped_on_empty_canvas_adds_a_connected_node(window, ui):
    wf = window.document.workflow
    view, scene = window.view, window.scene
    a = window.add_node_at("manual_trigger", QPointF(0, 0))
    count = window.document.undo_stack.count()
    ui.mouse_drag(view, ui.port_pos(scene, a, "out", True), QPointF(400, 100))
    popup = window.quick_add
    assert popup.isVisible()
    QTest.keyClicks(popup.search, "set fields")
    QTest.keyClick(popup.search, Qt.Key.Key_Return)
    new = wf.nodes[-1]
    assert new.type == "set"
    assert wf.connections == [Connection(a, "out", new.id, "in")]
    landed = ui.port_pos(scene, new.id, "in", False) - QPointF(400, 100)
    assert abs(landed.x()) <= 10 and abs(landed.y()) <= 10  # its input sits where the link was dropped (snapped)
    assert window.document.undo_stack.count() == count + 1
    window.document.undo_stack.undo()
    assert [n.id for n in wf.nodes] == [a] and wf.connections == []
    # backwards, from an input: the new node's output feeds it
    ui.mouse_drag(view, ui.port_pos(scene, a, "out", True), QPointF(400, 100))
    popup.hide()  # closing the popup forgets the pending link
    b = window.add_node_at("set", QPointF(600, 300))
    ui.mouse_drag(view, ui.port_pos(scene, b, "in", False), QPointF(300, 300))
    QTest.keyClicks(popup.search, "wait")
    QTest.keyClick(popup.search, Qt.Key.Key_Return)
    w = wf.nodes[-1]
    assert w.type == "wait" and wf.connections == [Connection(w.id, "out", b, "in")]


def _node_rects_in_view(window):
    view = window.view
    return {i.node_id: view.mapFromScene(i.sceneBoundingRect()).boundingRect().translated(view.viewport().pos())
            for i in window.scene.node_items()}  # fmt: skip


def test_fit_workflow_from_menu_shortcut_toolbar_and_context_menu(window, demo_file, qtbot):
    """Every way of asking for Fit gives the fitted zoom (the action used to pass Qt's
    `checked` flag as `max_zoom`: always the 8 % minimum)."""
    assert window.open_path(demo_file, ask=False)
    view = window.view
    view.fit_all()
    fitted = view.zoom
    assert 0.3 < fitted <= 1.0
    fit = window.actions_by_name["fit"]
    ways = {
        "menu": lambda: fit.trigger(),
        "shortcut": lambda: QTest.keyClick(view, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier),
        "toolbar": lambda: window.toolbar.widgetForAction(fit).click(),
    }
    for name, do in ways.items():
        view.set_zoom(2.0)
        do()
        assert abs(view.zoom - fitted) < 1e-6, name
    # every action of the window: none of them gets `checked` as a stray argument
    view.set_zoom(1.0)
    for name in ("zoom_in", "zoom_out", "zoom_reset"):
        before = view.zoom
        window.actions_by_name[name].trigger()
        assert view.zoom != before or name == "zoom_reset", name


def test_fit_keeps_every_node_out_from_under_the_minimap(window, demo_file, qtbot):
    assert window.open_path(demo_file, ask=False)
    window.set_minimap_visible(True)
    for size in ((1400, 900), (900, 900), (1400, 500)):
        window.resize(*size)
        qtbot.waitUntil(lambda s=size: window.width() == s[0])
        window.view.fit_all()
        minimap = window.view.minimap.geometry()
        viewport = window.view.viewport().geometry()
        for node_id, rect in _node_rects_in_view(window).items():
            assert not rect.intersects(minimap), (size, node_id, rect, minimap)
            assert viewport.contains(rect), (size, node_id, rect, viewport)


def test_quick_add_from_an_output_offers_only_nodes_with_an_input(window, ui):
    from app.panels.quick_add import TYPE_ROLE
    from engine.nodes.registry import get_spec

    view, scene, popup = window.view, window.scene, window.quick_add

    def offered():
        items = [popup.list.item(i) for i in range(popup.list.count())]
        return [get_spec(i.data(TYPE_ROLE)) for i in items if not i.isHidden()]

    a = window.add_node_at("set", QPointF(0, 0))
    ui.mouse_drag(view, ui.port_pos(scene, a, "out", True), QPointF(400, 100))
    assert popup.isVisible()
    shown = offered()
    assert shown and not any(s.is_trigger for s in shown)  # a trigger cannot take the link
    assert not popup.list.currentItem().isHidden() and not get_spec(popup.list.currentItem().data(TYPE_ROLE)).is_trigger
    QTest.keyClicks(popup.search, "trigger")
    assert not any(s.is_trigger for s in offered())
    popup.hide()
    # the plain quick-add (no link) offers every type, triggers included
    window.quick_add_at_center()
    assert any(s.is_trigger for s in offered())
    popup.hide()
    # from an input: the new node must have an output to feed it
    ui.mouse_drag(view, ui.port_pos(scene, a, "in", False), QPointF(-300, 100))
    assert offered() and any(s.is_trigger for s in offered())


def test_edge_data_labels_stay_clear_of_the_cards(window, qtbot):
    """On a short edge the middle of the curve is under a card (cards are drawn over edges):
    the label moves along the curve, or above the cards, where it can be read."""
    scene = window.scene
    a = window.add_node_at("set", QPointF(0, 0))
    for gap, dy in ((30, 0), (60, 40), (400, 0)):
        b = window.add_node_at("set", QPointF(WIDTH + gap, dy))
        window.controller.connect(a, "out", b, "in")
        edge = scene.edge_item(Connection(a, "out", b, "in"))
        edge.set_flow_label("12 items", True)
        label = edge._label_rect
        assert not label.isEmpty()
        for card in (scene.node_item(a), scene.node_item(b)):
            assert not label.intersects(card.sceneBoundingRect()), (gap, label, card.sceneBoundingRect())
        assert edge.boundingRect().contains(label)
        # moving a card moves the label with it, still clear of both
        scene.node_item(b).setPos(QPointF(WIDTH + gap, dy + 20))
        edge.update_path()
        assert not any(edge._label_rect.intersects(scene.node_item(n).sceneBoundingRect()) for n in (a, b))
        window.controller.delete([b])
