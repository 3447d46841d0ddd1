"""`run --capture-email` and `inbox` through a real subprocess, with the real SMTP server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.engine.runtime.helpers import workflow
from tests.engine.test_cli import pe, save
from tests.engine.test_recorded_io import email_node
from tests.servers import SmtpTestServer


def _mail_workflow(tmp_path: Path, server: SmtpTestServer) -> Path:
    wf = workflow(
        [{"id": "start", "type": "manual_trigger"}, email_node(server, "notify", cc="Boss <boss@example.org>")],
        [("start", "out", "notify")],
        variables={"n": 3},
    )
    return save(tmp_path, wf)


def test_capture_email_keeps_the_message_in_the_inbox(tmp_path: Path, smtp_server: SmtpTestServer) -> None:
    db = tmp_path / "pe.db"
    path = _mail_workflow(tmp_path, smtp_server)
    out = pe("run", str(path), "--capture-email", "--json", db=db)
    assert out.returncode == 0, out.stderr
    eid = json.loads(out.stdout)["execution_id"]
    assert smtp_server.messages == []

    inbox = json.loads(pe("inbox", eid, "--json", db=db, check=True).stdout)
    assert len(inbox) == 1
    (m,) = inbox
    assert {"from", "to", "subject", "text", "node_id"} <= set(m)
    assert (m["from"], m["to"], m["cc"], m["subject"], m["node_id"]) == (
        "Robot <robot@example.com>", ["ann@example.org"], ["Boss <boss@example.org>"], "Report 3", "notify")
    assert m["text"] == "Hello Ann,\nreport 3.\n"
    text = pe("inbox", eid, db=db, check=True).stdout
    assert "notify  Robot <robot@example.com> -> ann@example.org  Report 3" in text


def test_without_capture_the_mail_is_sent_and_the_inbox_is_empty(tmp_path: Path, smtp_server: SmtpTestServer) -> None:
    db = tmp_path / "pe.db"
    out = pe("run", str(_mail_workflow(tmp_path, smtp_server)), "--json", db=db)
    assert out.returncode == 0, out.stderr
    eid = json.loads(out.stdout)["execution_id"]
    assert len(smtp_server.wait_for_messages(1)) == 1
    assert json.loads(pe("inbox", eid, "--json", db=db, check=True).stdout) == []
    assert "captured no email" in pe("inbox", eid, db=db, check=True).stdout
    bad = pe("inbox", "no-such-run", db=db)
    assert bad.returncode == 1 and "no execution 'no-such-run'" in bad.stderr and "Traceback" not in bad.stderr
