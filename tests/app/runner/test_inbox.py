"""Capture email and recorded I/O in the app: the toolbar toggle keeps a run's email in
the Inbox dock (the SMTP server gets nothing), and Run data shows what an attempt sent
and got."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.runner import controller as rc
from engine import fileformat
from tests.app.runner.helpers import RUN_MS, http_retry_workflow
from tests.engine.runtime.helpers import workflow
from tests.servers import HttpTestServer, Reply, SmtpTestServer


def _mail_workflow(server: SmtpTestServer) -> Any:
    def mail(node_id: str, to: str, subject: str) -> dict[str, Any]:
        cfg = {"smtp_host": server.host, "smtp_port": server.port, "from": "Robot <robot@example.com>", "to": to,
               "subject": subject, "text": f"Hello,\n\n{subject} is attached.\n\n-- \nThe robot", "timeout_s": 5}
        return {"id": node_id, "name": f"Mail {node_id}", "type": "send_email", "config": cfg, "retry": "none"}

    return workflow(
        [{"id": "start", "type": "manual_trigger"}, mail("ann", "Ann <ann@example.org>", "Weekly report"),
         mail("bob", "bob@example.org", "Invoice 42")],
        [("start", "out", "ann"), ("ann", "out", "bob")],
    )


def test_capture_email_fills_the_inbox_and_sends_nothing(
    window: Any, runner: Any, smtp_server: SmtpTestServer, qtbot: Any, tmp_path: Path
) -> None:
    path = tmp_path / "mail.pe.json"
    fileformat.save(_mail_workflow(smtp_server), path)
    assert window.open_path(path, ask=False)
    c = runner.controller
    assert c.capture_email_action.isCheckable() and not c.capture_email_action.isChecked()
    c.capture_email_action.trigger()
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED, timeout=RUN_MS)
    panel = runner.inbox.panel
    qtbot.waitUntil(lambda: len(panel.messages) == 2, timeout=RUN_MS)
    assert smtp_server.messages == []
    assert [panel.table.item(r, 0).text() for r in range(2)] == ["Mail ann", "Mail bob"]
    assert panel.table.item(0, 1).text() == "Ann <ann@example.org>" and "2 captured messages" in panel.title.text()
    panel.table.selectRow(1)
    shown = panel.reader.toPlainText()
    assert "Invoice 42" in shown and "bob@example.org" in shown and "Invoice 42 is attached." in shown
    runner.docks["inbox"].raise_()
    window.grab().save(str(tmp_path / "window_inbox.png"))
    panel.resize(760, 300)
    panel.grab().save(str(tmp_path / "inbox.png"))
    # the toggle off again: the next run sends for real and its inbox is empty
    c.capture_email_action.trigger()
    c.run_action.trigger()
    qtbot.waitUntil(lambda: len(smtp_server.messages) == 2, timeout=RUN_MS)
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED and panel.messages == [] and "no email" in panel.title.text(), timeout=RUN_MS)


def test_run_data_shows_the_recorded_request_and_response(
    window: Any, runner: Any, http_server: HttpTestServer, qtbot: Any, tmp_path: Path
) -> None:
    http_server.fail_first("/h", 1, status=503, then=Reply(json={"items": [1, 2]}))
    path = tmp_path / "wf.pe.json"
    fileformat.save(http_retry_workflow(http_server.url_for("/h")), path)
    assert window.open_path(path, ask=False)
    c = runner.controller
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED, timeout=RUN_MS)
    window.scene.select_nodes(["get"])
    data = runner.data
    qtbot.waitUntil(lambda: data.data is not None and data.data["node_id"] == "get" and len(data.data["attempts"]) == 2, timeout=RUN_MS)
    data.tabs.setCurrentWidget(data.io_view)
    qtbot.waitUntil(lambda: data.io_view.has_value, timeout=RUN_MS)
    io = data.io_view.value
    assert io["kind"] == "http" and io["request"]["method"] == "GET" and io["request"]["url"].endswith("/h")
    assert io["response"]["status"] == 200 and '"items"' in io["response"]["body"]
    data.attempts.selectRow(0)  # the failed first attempt got a 503
    assert data.io_view.value["response"]["status"] == 503
    data.resize(640, 420)
    data.grab().save(str(tmp_path / "run_data_io.png"))
    # a node that records nothing says so
    window.scene.select_nodes(["start"])
    qtbot.waitUntil(lambda: data.data["node_id"] == "start", timeout=RUN_MS)
    assert not data.io_view.has_value and "Nothing recorded" in data.io_view.empty.text()
