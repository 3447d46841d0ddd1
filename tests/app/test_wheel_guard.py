"""The mouse wheel over the inspector scrolls it; settings change only in a focused field."""

from __future__ import annotations

from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QSpinBox, QVBoxLayout, QWidget


def _open(window, demo_file, node_id="get"):
    assert window.open_path(demo_file, ask=False)
    window.scene.select_nodes([node_id])
    form = window.inspector.node_form
    assert form is not None and form.node_id == node_id
    return form


def _sweep(window, ui, x: int) -> set[str]:
    """Scroll the inspector from top to bottom and back at column `x`; the widget types that took a notch."""
    vp = window.inspector.viewport()
    bar = window.inspector.verticalScrollBar()
    takers: set[str] = set()
    for delta in (-120, 120):
        for _ in range(60):
            for y in range(20, vp.height() - 10, 70):
                taker = ui.wheel_at(vp, QPoint(x, y), delta)
                takers.add(type(taker).__name__)
            if bar.value() in (bar.minimum(), bar.maximum()) and _ > 0:
                break
    return takers


def test_wheel_over_the_inspector_scrolls_it_and_changes_nothing(window, demo_file, ui, qtbot):
    form = _open(window, demo_file)
    retry = form.retry
    # the user's custom retry: max attempts 4, first wait 3
    retry.attempts.setFocus()
    retry.attempts.setValue(4)
    retry.initial.setFocus()
    retry.initial.setValue(3)
    window.view.setFocus()  # the user moves on: no field has focus
    node = window.document.workflow.node("get")
    before = (node.retry, node.on_error, dict(node.config))
    undo_count = window.document.undo_stack.count()
    bar = window.inspector.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0)  # the form is longer than the panel
    for x in (40, 160, window.inspector.viewport().width() - 30):
        _sweep(window, ui, x)
    node = window.document.workflow.node("get")
    assert (node.retry, node.on_error, dict(node.config)) == before
    assert node.retry["max_attempts"] == 4 and node.retry["initial_delay_s"] == 3
    assert window.document.undo_stack.count() == undo_count
    # and the panel did scroll
    ui.wheel_at(window.inspector.viewport(), QPoint(160, 200), -120)
    assert bar.value() > 0


def test_a_focused_field_takes_the_wheel(window, demo_file, ui, qtbot):
    form = _open(window, demo_file)
    window.windowHandle().requestActivate()  # focus only moves inside the active window
    qtbot.waitUntil(lambda: window.isActiveWindow() and window.inspector.verticalScrollBar().maximum() > 0)  # laid out
    combo = form.on_error
    window.inspector.ensureWidgetVisible(combo)
    combo.setFocus()
    qtbot.waitUntil(combo.hasFocus)
    pos = combo.mapTo(window.inspector.viewport(), combo.rect().center())
    assert combo.currentData() == "route"
    assert ui.wheel_at(window.inspector.viewport(), pos, -120) is combo
    assert window.document.workflow.node("get").on_error == "continue"
    spin = form.retry.attempts
    window.inspector.ensureWidgetVisible(spin)
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    pos = spin.mapTo(window.inspector.viewport(), spin.rect().center())
    ui.wheel_at(window.inspector.viewport(), pos, 120)
    assert window.document.workflow.node("get").retry["max_attempts"] == 5


def test_boxes_added_later_are_guarded_and_never_focused_by_the_wheel(window, ui, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QDockWidget, QDoubleSpinBox

    panel = QWidget()
    layout = QVBoxLayout(panel)
    spin = QSpinBox()
    layout.addWidget(spin)
    dock = QDockWidget("Later", window)  # another tool adds a dock after start-up
    dock.setObjectName("dock_later")
    dock.setWidget(panel)
    window.add_panel(dock)
    dock.show()
    late = QDoubleSpinBox(panel)  # and a box appears in it later still
    layout.addWidget(late)
    late.show()
    combo = QComboBox()
    combo.addItems(["a", "b"])
    layout.addWidget(combo)
    qtbot.waitUntil(lambda: all(b.focusPolicy() == Qt.FocusPolicy.StrongFocus for b in (spin, late, combo)))
    for box in (spin, late, combo):
        ui.wheel_at(panel, box.mapTo(panel, box.rect().center()), 120)
        assert not box.hasFocus()
    assert spin.value() == 0 and late.value() == 0 and combo.currentIndex() == 0
    spins = [w for w in window.inspector.findChildren(QAbstractSpinBox)]
    assert all(w.focusPolicy() == Qt.FocusPolicy.StrongFocus for w in spins)


def test_busy_widgets_carry_no_filter_and_boxes_added_later_are_still_seen(window, qtbot):
    """Every event of a filtered widget is a call into Python: the widgets that paint or tick
    all through a run (the window itself, its status bar, docks, tables, labels, bars) carry
    none; boxes and the containers they may be added to do."""
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication, QDockWidget, QLabel, QScrollBar, QTableView

    from app.wheel_guard import WheelGuard

    seen: list[QObject] = []

    class Counting(WheelGuard):
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.User:
                seen.append(obj)
            return super().eventFilter(obj, event)

    guard = Counting(window)
    guard.watch(window)
    panel = QWidget()
    layout = QVBoxLayout(panel)
    table = QTableView()
    label = QLabel("lines")
    layout.addWidget(table)
    layout.addWidget(label)
    dock = QDockWidget("Busy", window)
    dock.setObjectName("dock_busy")
    dock.setWidget(panel)
    window.add_panel(dock)  # what the run tools do
    guard.watch(dock)
    combo = QComboBox()
    layout.addWidget(combo)  # a box added later still
    qtbot.waitUntil(lambda: combo.focusPolicy() == Qt.FocusPolicy.StrongFocus)
    busy = [window, window.statusBar(), dock, table, table.viewport(), label, table.verticalScrollBar(), *window.findChildren(QScrollBar)]
    for widget in [*busy, panel, combo]:
        QApplication.sendEvent(widget, QEvent(QEvent.Type.User))
    assert not any(obj in seen for obj in busy)
    assert panel in seen and combo in seen
