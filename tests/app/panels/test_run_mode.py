"""The inspector's Live / Replay / Pinned switch: it shows the document, edits it in undoable steps,
and offers Replay and Pinned only when the run shown can back them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.panels.inspector.run_mode import LIVE, PINNED, REPLAY, ReplayContext
from engine import fileformat


@pytest.fixture
def demo(window: Any, demo_file: Path) -> Any:
    assert window.open_path(demo_file)
    return window


def _switch(window: Any, node_id: str) -> Any:
    window.scene.select_nodes([node_id])
    form = window.inspector.node_form
    assert form is not None and form.node_id == node_id
    assert form.run_mode is not None
    return form.run_mode


def _checked(section: Any) -> str:
    (mode,) = [m for m, b in section.buttons.items() if b.isChecked()]
    return str(mode)


def _click(section: Any, mode: str) -> None:
    from PySide6.QtTest import QTest

    QTest.mouseClick(section.buttons[mode], Qt.MouseButton.LeftButton)


def test_only_http_and_email_nodes_have_the_switch(demo: Any) -> None:
    for node_id in ("get", "mail"):
        assert _switch(demo, node_id).buttons[LIVE].isChecked()
    for node_id in ("start", "many", "log"):
        demo.scene.select_nodes([node_id])
        assert demo.inspector.node_form.run_mode is None


def test_replay_is_an_undoable_document_setting_shown_on_the_card(demo: Any, tmp_path: Path) -> None:
    wf, stack = demo.document.workflow, demo.document.undo_stack
    section = _switch(demo, "get")
    card = demo.scene.node_item("get")
    assert not card.replay and not demo.document.is_dirty
    _click(section, REPLAY)
    assert wf.node("get").replay is True and card.replay and _checked(section) == REPLAY
    assert stack.undoText() == "Replay: Get items" and demo.document.is_dirty
    stack.undo()
    assert wf.node("get").replay is False and not card.replay and _checked(section) == LIVE
    stack.redo()
    assert _checked(section) == REPLAY
    # saved with the workflow, like a pin, and read back
    path = tmp_path / "saved.pe.json"
    demo.document.save(path)
    saved = json.loads(path.read_text())
    assert next(n for n in saved["nodes"] if n["id"] == "get")["replay"] is True
    assert "replay" not in next(n for n in saved["nodes"] if n["id"] == "mail")
    assert fileformat.load(path).node("get").replay is True
    # copied with the node
    from app.document import clipboard

    assert clipboard.parse_fragment(clipboard.copy_text(wf, ["get"])).node("get").replay is True


def test_pinned_and_live_replace_each_other_in_one_step(demo: Any) -> None:
    wf, stack = demo.document.workflow, demo.document.undo_stack
    section = _switch(demo, "get")
    assert not section.buttons[PINNED].isEnabled()  # no run shown: no output to pin
    _click(section, REPLAY)
    demo.controller.set_pin("get", {"status": 200, "body": {"items": [1]}})  # Run data's "Pin this output"
    assert wf.node("get").pin is not None and wf.node("get").replay is False  # pinned: no longer on Replay
    assert _checked(section) == PINNED and section.buttons[PINNED].isEnabled()
    assert demo.scene.node_item("get").pinned and not demo.scene.node_item("get").replay
    stack.undo()
    assert wf.node("get").pin is None and wf.node("get").replay is True and _checked(section) == REPLAY
    stack.redo()
    _click(section, LIVE)  # unpins and stays off Replay, one step
    assert (wf.node("get").pin, wf.node("get").replay, _checked(section)) == (None, False, LIVE)
    assert stack.undoText() == "Live: Get items"
    stack.undo()
    assert _checked(section) == PINNED


def test_pinned_asks_the_runner_to_pin_the_output_of_the_run_shown(demo: Any, qtbot: Any) -> None:
    section = _switch(demo, "mail")
    demo.inspector.set_replay_context(ReplayContext(run="run #4", recorded=frozenset({"mail"}), outputs=frozenset({"mail", "get"})))
    assert section.buttons[PINNED].isEnabled() and "run #4" in section.buttons[PINNED].toolTip()
    with qtbot.waitSignal(demo.inspector.pin_requested) as got:
        _click(section, PINNED)
    assert got.args == ["mail"]
    assert demo.document.workflow.node("mail").pin is None and _checked(section) == LIVE  # nothing pinned it (no runner here)


def test_a_run_without_a_recording_of_the_node_disables_replay_and_warns(demo: Any) -> None:
    section = _switch(demo, "mail")
    ctx = ReplayContext(run="run #2", recorded=frozenset({"get"}), outputs=frozenset({"get"}))
    demo.inspector.set_replay_context(ctx)
    replay = section.buttons[REPLAY]
    assert not replay.isEnabled()
    assert replay.toolTip() == "Run #2 has no recording of this node (it did not run there): nothing to replay"
    assert section.warning.isHidden()
    # a node set to Replay earlier (or in the file): a visible warning, and it can be switched off
    demo.controller.set_replay("mail", True)
    assert _checked(section) == REPLAY and replay.isEnabled()
    assert not section.warning.isHidden()
    assert "Run #2 has no recording of this node" in section.warning.text()
    _click(section, LIVE)
    assert section.warning.isHidden() and not replay.isEnabled()
    # the node that did run there can replay
    assert _switch(demo, "get").buttons[REPLAY].isEnabled()
    shots = os.environ.get("PE_DEBUG_SHOTS")
    if shots:
        demo.inspector.grab().save(str(Path(shots) / "run_mode_no_recording.png"))


def test_read_only_inspector_keeps_the_switch_from_editing(demo: Any) -> None:
    section = _switch(demo, "get")
    demo.inspector.set_read_only(True)
    assert not section.isEnabled()
    demo.controller.read_only = True
    demo.controller.set_replay("get", True)  # refused: a past run is shown
    assert demo.document.workflow.node("get").replay is False
