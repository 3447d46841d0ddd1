"""A run of a workflow with code outside the sandbox asks once per file and content."""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer

from app import trust_dialog
from app.runner import controller as rc
from engine import fileformat
from tests.app.runner.helpers import workflow


def _workflow(marker):
    return workflow(
        [
            {"id": "start", "type": "manual_trigger", "name": "Start"},
            {"id": "touch", "type": "execute_command", "name": "Touch",
             "config": {"command": [sys.executable, "-c", f"open({str(marker)!r}, 'a').write('x')"]}},
        ],
        [("start", "out", "touch")],
    )


def _answer(answers: list[bool], seen: list[list[str]]):
    def hook(dialog: trust_dialog.TrustDialog) -> None:
        seen.append([dialog.listing.item(i).text() for i in range(dialog.listing.count())])
        accept = answers.pop(0)
        QTimer.singleShot(0, dialog.trust_button.click if accept else dialog.cancel_button.click)

    return hook


def test_refused_then_trusted_once_per_content(make_controller, qtbot, tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    wf = _workflow(marker)
    path = tmp_path / "touch.pe.json"
    fileformat.save(wf, path)
    answers: list[bool] = [False, True]
    seen: list[list[str]] = []
    monkeypatch.setattr(trust_dialog, "on_dialog", [_answer(answers, seen)])
    ctl, win = make_controller(wf, str(path))

    ctl.run_action.trigger()  # asked, refused: nothing runs
    qtbot.waitUntil(lambda: len(seen) == 1 and ctl.state == rc.IDLE, timeout=5000)
    assert seen[0] == [
        f"Touch — runs: {sys.executable} -c open({str(marker)!r}, 'a').write('x')"]
    assert not marker.exists()
    assert "not trusted" in win.statusBar().currentMessage()

    ctl.run_action.trigger()  # asked, trusted: runs
    qtbot.waitUntil(lambda: ctl.state == rc.COMPLETED, timeout=15000)
    assert marker.read_text() == "x" and len(seen) == 2

    ctl.run_action.trigger()  # remembered: no question
    qtbot.waitUntil(lambda: ctl.state == rc.COMPLETED and marker.read_text() == "xx", timeout=15000)
    assert len(seen) == 2
    assert trust_dialog.is_trusted(wf, str(path))

    wf.node("touch").name = "Touch it"  # another content: asked again
    assert not trust_dialog.is_trusted(wf, str(path))


def test_the_dialog(qtbot, tmp_path):
    wf = _workflow(tmp_path / "m")
    dialog = trust_dialog.TrustDialog(wf, str(tmp_path / "touch.pe.json"))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.cancel_button.isDefault()
    dialog.grab().save(str(tmp_path / "trust.png"))
