"""The debugger's panels on their own: JSON editing refused with line and column, the call stack text, variables."""

from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox

from app.panels.debug_panels import (
    CallStackPanel,
    DebugDataBar,
    PinDialog,
    VariablesPanel,
    parse_json,
)


def test_parse_json_names_line_and_column() -> None:
    assert parse_json('{"a": [1, 2]}') == ({"a": [1, 2]}, None)
    value, err = parse_json('{\n  "a": ,\n}')
    assert value is None and err is not None and err.startswith("line 2, column 8")


def test_pin_dialog_ok_only_while_valid(qtbot) -> None:
    dialog = PinDialog("Get", {"status": 200})
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok.isEnabled() and dialog.pin() == {"status": 200}
    dialog.editor.text.setPlainText("[1, 2")
    assert not ok.isEnabled() and "Not valid JSON" in dialog.editor.error.text()
    dialog.editor.text.setPlainText("[1, 2]")
    assert ok.isEnabled() and dialog.pin() == [1, 2]


def test_data_bar_pins_the_output_or_unpins(qtbot) -> None:
    bar = DebugDataBar()
    qtbot.addWidget(bar)
    bar.show_node("n1", pinned=False, output={"x": 1}, has_output=True, can_rerun=True)
    with qtbot.waitSignal(bar.pin_requested) as got:
        bar.pin_button.click()
    assert got.args == ["n1", {"x": 1}]
    bar.show_node("n1", pinned=True, output={"x": 1}, has_output=True, can_rerun=False)
    assert bar.pin_button.text() == "Unpin" and not bar.rerun_button.isEnabled()
    with qtbot.waitSignal(bar.pin_requested) as got:
        bar.pin_button.click()
    assert got.args == ["n1", None]
    bar.show_pending({"a": 1}, True)
    bar.pending.text.setPlainText("{")
    assert not bar.apply_pending()
    bar.pending.text.setPlainText('{"a": 2}')
    with qtbot.waitSignal(bar.pending_input_edited) as got:
        assert bar.apply_pending()
    assert got.args == [{"a": 2}]


def test_variables_only_editable_while_paused(qtbot) -> None:
    panel = VariablesPanel()
    qtbot.addWidget(panel)
    panel.set_variables(None)
    assert panel.table.rowCount() == 0 and "while a run is paused" in panel.note.text()
    panel.set_variables({"limit": 3, "name": "x"})
    with qtbot.waitSignal(panel.variable_edited) as got:
        panel.table.item(0, 1).setText("[1]")
    assert got.args == ["limit", [1]]


def test_call_stack_lists_threads_innermost_first(qtbot) -> None:
    panel = CallStackPanel()
    qtbot.addWidget(panel)
    at = {
        "node_id": "double", "reason": "step", "thread_id": "main/call#1",
        "stack": [
            {"thread_id": "main/call#1", "node_id": "double", "loop": {"node_id": "each", "index": 1, "count": 3}},
            {"thread_id": "main", "node_id": "call", "loop": None},
        ],
    }
    panel.set_paused(at, {"double": "Double", "call": "Call child", "each": "Each"})
    texts = [panel.list.item(i).text() for i in range(panel.list.count())]
    assert texts == ["main/call#1 · Double · Each [2/3]  ← step", "main · Call child"]


_TOGGLE = """
import sys
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from app.panels.debug_panels import BreakpointsPanel
app = QApplication(sys.argv[:1])
panel = BreakpointsPanel()
bps = {"a": {"enabled": True, "hits": 0}, "b": {"enabled": True, "hits": 2}}
names = {"a": "A", "b": "B"}
def changed(node, on):  # as the app does: the session changes, the panel is refilled at once
    bps[node] = {**bps[node], "enabled": on}
    panel.set_breakpoints(dict(bps), names)
panel.enabled_changed.connect(changed)
panel.set_breakpoints(dict(bps), names)
for _ in range(50):
    for i in range(2):
        item = panel.tree.topLevelItem(i)
        on = item.checkState(0) == Qt.CheckState.Checked
        item.setCheckState(0, Qt.CheckState.Unchecked if on else Qt.CheckState.Checked)
        assert shiboken6.isValid(item), "the toggled row was deleted inside its own toggle"
print("enabled", [bps[k]["enabled"] for k in "ab"], panel.tree.topLevelItem(1).text(2))
"""


def test_toggling_a_breakpoint_refills_the_dock_without_deleting_the_toggled_row() -> None:
    """The toggle's own handler refills the dock: rebuilding the rows deleted the item Qt was
    still inside (a crash of the whole process, seen in the suite). Run apart, so a crash is a
    failure here and not the end of the test run."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", _TOGGLE], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "enabled [True, True] 2"
