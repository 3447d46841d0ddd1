"""The retry editor previews the engine's own back-off schedule."""

from __future__ import annotations

from app.panels.inspector.retry import RetryEditor, schedule_text
from engine.runtime.retry import PRESETS, RetryPolicy


def test_schedule_text():
    assert schedule_text(PRESETS["none"]) == "1 attempt · no retries"
    text = schedule_text(RetryPolicy(max_attempts=5, initial_delay_s=0.5, multiplier=2, max_delay_s=3, jitter=False))
    assert text == "up to 5 attempts · waits 500 ms → 1 s → 2 s → 3 s"


def test_editor_values(qtbot):
    editor = RetryEditor("default")
    qtbot.addWidget(editor)
    changes: list[object] = []
    editor.changed.connect(lambda: changes.append(editor.value()))
    assert editor.value() is None and "up to 3 attempts" in editor.preview.text()
    editor.set_value({"max_attempts": 4, "initial_delay_s": 0.5, "on_status": [429, 503]})
    assert changes == []  # loading a value is not an edit
    value = editor.value()
    assert value["max_attempts"] == 4 and value["on_status"] == [429, 503]
    assert not editor.custom.isHidden()
    editor.preset.setCurrentIndex(editor.preset.findData("strict"))
    assert changes[-1] == "strict" and editor.custom.isHidden()
    assert editor.attempts.value() == 5  # custom fields show the preset's numbers
