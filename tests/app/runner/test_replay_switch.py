"""Re-runs from the studio with nodes on Replay: the inspector's switch, the real local HTTP and
SMTP servers counting what was really sent, mismatch warnings and strict replay in the app.

Real window, real engine thread, real SQLite store. Set PE_DEBUG_SHOTS=DIR to save screenshots.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.panels.inspector.run_mode import LIVE, PINNED, REPLAY
from app.runner import controller as rc
from app.runner.install import install_runner
from engine import fileformat
from engine.model import Workflow
from tests.app.runner.helpers import workflow
from tests.servers import HttpTestServer, Reply, SmtpTestServer


def two_calls(server: HttpTestServer) -> Workflow:
    """start -> a (GET /a) -> b (POST /b with a's number) -> end."""
    return workflow(
        [
            {"id": "start", "type": "manual_trigger", "name": "Start"},
            {"id": "a", "type": "http_request", "name": "Fetch", "config": {"url": server.url_for("/a")}, "retry": "none"},
            {"id": "b", "type": "http_request", "name": "Post", "retry": "none",
             "config": {"method": "POST", "url": server.url_for("/b"), "json": {"n": "{{ input.body.n }}"}}},
            {"id": "end", "type": "set", "name": "End", "config": {"values": {"got": "{{ input.body.ok }}"}}},
        ],
        [("start", "out", "a"), ("a", "out", "b"), ("b", "out", "end")],
    )


def fetch_then_alert(server: HttpTestServer) -> Workflow:
    """Fetch (GET /a) -> Big? -> Alert (GET /c), which runs only when the answer's n > 3."""
    return workflow(
        [
            {"id": "start", "type": "manual_trigger", "name": "Start"},
            {"id": "a", "type": "http_request", "name": "Fetch", "config": {"url": server.url_for("/a")}, "retry": "none"},
            {"id": "big", "type": "if", "name": "Big?", "config": {"condition": "{{ input.body.n > 3 }}"}},
            {"id": "c", "type": "http_request", "name": "Alert", "config": {"url": server.url_for("/c")}, "retry": "none"},
        ],
        [("start", "out", "a"), ("a", "out", "big"), ("big", "true", "c")],
    )


def open_wf(window: Any, wf: Workflow, tmp_path: Path) -> None:
    path = tmp_path / "wf.pe.json"
    fileformat.save(wf, path)
    assert window.open_path(path, ask=False)


def run_once(runner: Any, qtbot: Any) -> str:
    c = runner.controller
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED, timeout=15000)
    assert c.execution_id is not None
    return str(c.execution_id)


def switch(window: Any, qtbot: Any, node_id: str, execution_id: str) -> Any:
    """Select the node; its run-mode section, once it knows what the run shown recorded."""
    window.scene.select_nodes([node_id])
    qtbot.waitUntil(lambda: window.inspector.replay_context is not None and window.runner.debug.replay.execution_id == execution_id, timeout=5000)
    section = window.inspector.node_form.run_mode
    assert section is not None
    return section


def click(section: Any, mode: str) -> None:
    QTest.mouseClick(section.buttons[mode], Qt.MouseButton.LeftButton)


def rerun_from(runner: Any, qtbot: Any, node_id: str, previous: str, *, source: str | None = None, final: str = rc.COMPLETED) -> str:
    c = runner.controller
    c.spawn(runner.debug.session.rerun(from_node=node_id, choice="edited", source=source))
    qtbot.waitUntil(lambda: c.state == final and c.execution_id != previous, timeout=15000)
    return str(c.execution_id)


def status(runner: Any, execution_id: str) -> dict[str, Any]:
    return dict(runner.controller.call_blocking(lambda s: s.status(execution_id)))


def shot(window: Any, name: str) -> None:
    folder = os.environ.get("PE_DEBUG_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        window.grab().save(str(Path(folder) / f"{name}.png"))


def test_rerun_from_here_replays_the_node_set_to_replay_and_runs_the_others_live(window: Any, runner: Any, qtbot: Any, tmp_path: Path, http_server: HttpTestServer) -> None:
    http_server.route("/a", Reply(json={"n": 5}))
    http_server.route("/b", Reply(json={"ok": True}))
    open_wf(window, two_calls(http_server), tmp_path)
    first = run_once(runner, qtbot)
    assert (http_server.calls("/a"), http_server.calls("/b")) == (1, 1)
    section = switch(window, qtbot, "a", first)
    assert section.buttons[REPLAY].isEnabled() and section.buttons[PINNED].isEnabled()
    click(section, REPLAY)
    assert window.document.workflow.node("a").replay and window.scene.node_item("a").replay
    assert switch(window, qtbot, "b", first).buttons[LIVE].isChecked()
    window.scene.select_nodes(["a"])
    runner.debug.session.rerun_action.trigger()  # the document differs from the run's version only by the switch: no question
    c = runner.controller
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED and c.execution_id != first, timeout=15000)
    assert http_server.calls("/a") == 1  # answered from the recording: no request
    assert http_server.calls("/b") == 2  # live
    assert [r.json() for r in http_server.requests if r.path == "/b"] == [{"n": 5}, {"n": 5}]
    qtbot.waitUntil(lambda: window.scene.node_item("a").run_state == "replayed", timeout=3000)
    assert window.scene.node_item("b").run_state == "succeeded"
    assert c.canvas.progress()["percent"] == 100.0  # a replayed node counts as done
    st = status(runner, c.execution_id)
    assert st["rerun_of"] == first and "warnings" not in st and window.answerer.seen == []
    rec = c.call_blocking(lambda s: s.record(c.execution_id))
    assert [a["status"] for a in rec.main.attempts["a"]] == ["replayed"]
    shot(window, "replay_rerun")


def test_a_request_that_differs_is_a_warning_and_with_strict_replay_an_error(window: Any, runner: Any, qtbot: Any, tmp_path: Path, http_server: HttpTestServer) -> None:
    http_server.route("/a", Reply(json={"n": 5}))
    http_server.route("/b", Reply(json={"ok": True}))
    open_wf(window, two_calls(http_server), tmp_path)
    first = run_once(runner, qtbot)
    click(switch(window, qtbot, "a", first), REPLAY)
    window.controller.set_config("a", {"url": http_server.url_for("/a") + "?page=2"})  # the request now differs
    second = rerun_from(runner, qtbot, "a", first)
    assert http_server.calls("/a") == 1
    st = status(runner, second)
    assert st["status"] == "completed" and len(st["warnings"]) == 1 and "node 'a'" in st["warnings"][0]
    qtbot.waitUntil(lambda: "differed from the recording" in window.statusBar().currentMessage(), timeout=5000)
    assert any(line.level == "WARNING" and line.node_id == "a" and "differs from the recording" in line.message for line in runner.logs.shown_lines())
    # a viewed run shows them too (its Log is rebuilt from its attempts)
    c = runner.controller
    c.spawn(c.view_run(first, 1))
    qtbot.waitUntil(lambda: c.state == rc.VIEWING and c.execution_id == first, timeout=5000)
    c.spawn(c.view_run(second, 2))
    qtbot.waitUntil(lambda: c.execution_id == second and any(line.logger == "engine.replay" for line in runner.logs.shown_lines()), timeout=5000)
    c.leave_view()
    # strict replay (the toggle in the switch's section): the mismatch fails the node, visibly
    window.scene.select_nodes(["a"])
    strict = window.inspector.node_form.run_mode.strict
    assert strict is not None and not strict.isChecked()
    QTest.mouseClick(strict, Qt.MouseButton.LeftButton)
    assert runner.debug.session.strict_replay_action.isChecked()
    third = rerun_from(runner, qtbot, "a", c.execution_id or second, source=first, final=rc.FAILED)
    assert http_server.calls("/a") == 1 and http_server.calls("/b") == 2  # b never ran: a failed
    st = status(runner, third)
    assert st["status"] == "failed" and st["error"]["node_id"] == "a" and "(strict replay)" in st["error"]["message"]
    rec = c.call_blocking(lambda s: s.record(third))
    assert rec.main.attempts["a"][-1]["error"]["type"] == "replay_mismatch"
    qtbot.waitUntil(lambda: window.scene.node_item("a").run_state == "failed", timeout=3000)
    qtbot.waitUntil(lambda: "strict replay" in window.statusBar().currentMessage(), timeout=5000)
    shot(window, "replay_strict_failed")


def test_a_node_the_run_has_no_recording_of_cannot_replay(window: Any, runner: Any, qtbot: Any, tmp_path: Path, http_server: HttpTestServer) -> None:
    http_server.route("/a", Reply(json={"n": 1}))
    http_server.route("/c", Reply(json={"ok": True}))
    wf = fetch_then_alert(http_server)
    open_wf(window, wf, tmp_path)
    first = run_once(runner, qtbot)
    section = switch(window, qtbot, "c", first)  # c did not run: nothing recorded, no output
    assert not section.buttons[REPLAY].isEnabled() and not section.buttons[PINNED].isEnabled()
    expected = "Run #1 has no recording of this node (it did not run there): nothing to replay"
    qtbot.waitUntil(lambda: window.inspector.node_form.run_mode.buttons[REPLAY].toolTip() == expected, timeout=5000)  # named once the history lists it
    section = window.inspector.node_form.run_mode
    window.controller.set_replay("c", True)  # e.g. set so in the file
    assert not section.warning.isHidden() and "Run #1 has no recording" in section.warning.text()
    shot(window, "replay_no_recording")
    c = runner.controller
    window.scene.select_nodes(["a"])
    runner.debug.session.rerun_action.trigger()
    qtbot.waitUntil(lambda: "Not re-run: Alert is set to Replay" in window.statusBar().currentMessage(), timeout=5000)
    assert c.execution_id == first and c.state == rc.COMPLETED
    assert len(c.call_blocking(lambda s: s.list_runs())) == 1  # no execution was made
    assert http_server.calls("/a") == 1
    # Pinned pins what the run shown gave the node, through the pin mechanism (one undo step)
    section = switch(window, qtbot, "a", first)
    click(section, PINNED)
    qtbot.waitUntil(lambda: window.document.workflow.node("a").pin is not None, timeout=5000)
    assert window.document.workflow.node("a").pin["body"] == {"n": 1} and section.buttons[PINNED].isChecked()
    assert window.scene.node_item("a").pinned
    window.document.undo_stack.undo()
    assert window.document.workflow.node("a").pin is None and section.buttons[LIVE].isChecked()


def test_the_switch_names_the_run_once_the_history_lists_it(window: Any, runner: Any, qtbot: Any, tmp_path: Path, http_server: HttpTestServer) -> None:
    """What the run recorded can be read before the history lists the run (and its number):
    the switch then says "the run shown", and says "run #1" as soon as the history has it."""
    http_server.route("/a", Reply(json={"n": 1}))
    wf = fetch_then_alert(http_server)
    open_wf(window, wf, tmp_path)
    first = run_once(runner, qtbot)
    section = switch(window, qtbot, "c", first)
    runner.history.set_runs([])  # as if the history had not been read yet
    runner.controller.spawn(runner.debug.replay.load(first))
    qtbot.waitUntil(lambda: window.inspector.replay_context.run == "the run shown", timeout=5000)
    runner.schedule_history()
    qtbot.waitUntil(lambda: window.inspector.replay_context.run == "run #1", timeout=5000)
    section = window.inspector.node_form.run_mode
    assert section.buttons[REPLAY].toolTip().startswith("Run #1 has no recording of this node")


def test_a_rerun_with_capture_email_on_sends_nothing(window: Any, runner: Any, qtbot: Any, tmp_path: Path, smtp_server: SmtpTestServer) -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger", "name": "Start"},
            {"id": "mail", "type": "send_email", "name": "Notify", "retry": "none",
             "config": {"smtp_host": smtp_server.host, "smtp_port": smtp_server.port, "from": "robot@example.com",
                        "to": "ann@example.org", "subject": "Hello", "text": "hi", "timeout_s": 5}},
        ],
        [("start", "out", "mail")],
    )
    open_wf(window, wf, tmp_path)
    first = run_once(runner, qtbot)
    assert len(smtp_server.wait_for_messages(1)) == 1
    c = runner.controller
    c.capture_email_action.setChecked(True)
    second = rerun_from(runner, qtbot, "mail", first)
    assert len(smtp_server.messages) == 1  # captured, not sent
    rec = c.call_blocking(lambda s: s.record(second))
    assert rec.main.outputs["mail"]["captured"] is True
    # on Replay, even with capture off, nothing goes out: the recorded answer stands in
    c.capture_email_action.setChecked(False)
    click(switch(window, qtbot, "mail", second), REPLAY)
    third = rerun_from(runner, qtbot, "mail", second, source=first)
    assert len(smtp_server.messages) == 1
    assert [a["status"] for a in c.call_blocking(lambda s: s.record(third)).main.attempts["mail"]] == ["replayed"]


def test_the_run_version_chosen_for_a_rerun_keeps_the_documents_replay_switches(window: Any, runner: Any, qtbot: Any, tmp_path: Path, http_server: HttpTestServer) -> None:
    from PySide6.QtWidgets import QMessageBox

    http_server.route("/a", Reply(json={"n": 5}))
    http_server.route("/b", Reply(json={"ok": True}))
    open_wf(window, two_calls(http_server), tmp_path)
    first = run_once(runner, qtbot)
    click(switch(window, qtbot, "a", first), REPLAY)
    window.controller.set_config("end", {"values": {"got": 1}})  # a real edit: the re-run asks which version
    window.answerer.answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Discard]
    window.scene.select_nodes(["a"])
    runner.debug.session.rerun_action.trigger()
    c = runner.controller
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED and c.execution_id != first, timeout=15000)
    assert window.answerer.seen[0]["title"] == "Re-run"
    assert window.document.workflow.node("end").config == {"values": {"got": "{{ input.body.ok }}"}}  # the run's version
    assert window.document.workflow.node("a").replay and window.scene.node_item("a").replay  # the switch came along
    assert (http_server.calls("/a"), http_server.calls("/b")) == (1, 2)


def test_a_run_kept_in_memory_has_nothing_to_replay(window: Any, qloop: Any, engine: Any, qtbot: Any, tmp_path: Path, http_server: HttpTestServer) -> None:
    ui = install_runner(window, in_memory=True, engine=engine, recover=False)
    try:
        http_server.route("/a", Reply(json={"n": 5}))
        http_server.route("/b", Reply(json={"ok": True}))
        open_wf(window, two_calls(http_server), tmp_path)
        first = run_once(ui, qtbot)
        section = switch(window, qtbot, "a", first)
        assert not section.buttons[REPLAY].isEnabled()
        assert section.buttons[REPLAY].toolTip() == "This run is kept in memory only, with no recordings: nothing to replay"
        window.controller.set_replay("a", True)
        window.scene.select_nodes(["a"])
        ui.debug.session.rerun_action.trigger()
        qtbot.waitUntil(lambda: "Not re-run: nodes set to Replay need a stored run" in window.statusBar().currentMessage(), timeout=5000)
        assert ui.controller.execution_id == first and http_server.calls("/a") == 1
        window.controller.set_replay("a", False)  # live: an in-memory run re-runs (it read no stored version)
        ui.debug.session.rerun_action.trigger()
        qtbot.waitUntil(lambda: ui.controller.state == rc.COMPLETED and ui.controller.execution_id != first, timeout=15000)
        assert (http_server.calls("/a"), http_server.calls("/b")) == (2, 2)
    finally:
        ui.shutdown()
