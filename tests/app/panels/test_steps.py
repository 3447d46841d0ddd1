"""The Steps dock's list: showing a big run costs the same as a small one; keys move one step."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.panels.steps import StepsModel, StepsPanel


def _steps(n: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
    steps = [
        {"index": i, "node_id": f"s{i}", "thread_id": "main", "attempt": 1, "status": "succeeded", "duration_ms": 1.0, "started_at": None}
        for i in range(n)
    ]
    return steps, {f"s{i}": f"Set {i}" for i in range(n)}


def _shown(qtbot: Any) -> StepsPanel:
    p = StepsPanel()
    qtbot.addWidget(p)
    p.resize(700, 240)
    p.show()
    qtbot.waitExposed(p)
    return p


@pytest.fixture
def panel(qtbot: Any) -> StepsPanel:
    return _shown(qtbot)


def test_a_run_of_5000_steps_is_shown_at_its_end_without_laying_out_every_row(qtbot: Any, monkeypatch: Any) -> None:
    calls = [0]
    count = StepsModel.rowCount

    def counted(self: StepsModel, parent: Any = None) -> int:
        calls[0] += 1
        return count(self) if parent is None else count(self, parent)

    monkeypatch.setattr(StepsModel, "rowCount", counted)  # before the model exists: Qt looks it up once
    panel = _shown(qtbot)
    calls[0] = 0
    steps, names = _steps(5000)
    panel.set_steps(steps, names)
    qtbot.waitUntil(lambda: panel.list.viewport().rect().intersects(panel.list.visualRect(panel.model.index(4999, 0))))
    assert panel.current == 4999 and panel.list.currentIndex().row() == 4999
    assert "Step 5000 of 5000: Set 4999" in panel.title.text()
    # a list view asked the Python model twice per row (10,000 calls) before it could scroll
    assert calls[0] < 200


def test_keys_in_the_list_move_one_step_or_to_either_end(panel: StepsPanel, qtbot: Any) -> None:
    steps, names = _steps(30)
    panel.set_steps(steps, names, at=10)
    chosen: list[int] = []
    panel.step_selected.connect(chosen.append)
    panel.list.setFocus()
    qtbot.keyClick(panel.list, Qt.Key.Key_Right)
    assert panel.current == 11
    qtbot.keyClick(panel.list, Qt.Key.Key_Left)
    qtbot.keyClick(panel.list, Qt.Key.Key_Left)
    assert panel.current == 9
    qtbot.keyClick(panel.list, Qt.Key.Key_End)
    assert panel.current == 29 and "Step 30 of 30" in panel.title.text()
    qtbot.keyClick(panel.list, Qt.Key.Key_Right)  # already the last: stays
    qtbot.keyClick(panel.list, Qt.Key.Key_Home)
    assert panel.current == 0
    qtbot.keyClick(panel.list, Qt.Key.Key_Down)
    assert panel.current == 1
    assert chosen == [11, 10, 9, 29, 0, 1]


def test_clicking_a_row_selects_its_step(panel: StepsPanel, qtbot: Any) -> None:
    steps, names = _steps(8)
    panel.set_steps(steps, names)
    with qtbot.waitSignal(panel.step_selected) as got:
        rect = panel.list.visualRect(panel.model.index(2, 0))
        qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert got.args == [2] and panel.slider.value() == 2
