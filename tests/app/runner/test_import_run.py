"""An imported n8n polling loop runs from the app: the cycle runs until its way out, the
unreachable draft node (a warning, not a problem) is skipped, and the loop's back-edge
carries the count of values that went round."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from app.dialogs_import import import_n8n
from app.runner import controller as rc
from tests.servers import Reply

POLL = Path(__file__).resolve().parents[2] / "engine" / "n8n" / "workflows" / "poll_until_done.json"


def test_imported_polling_loop_runs_from_the_app(window, runner, http_server, qtbot) -> None:
    http_server.route("/jobs", Reply(json={"job_id": "j9"}))
    http_server.route("/jobs/j9", Reply(json={"state": "queued"}), Reply(json={"state": "queued"}),
                      Reply(json={"state": "done", "result_url": "u"}))  # fmt: skip
    assert import_n8n(window, POLL) is not None
    window.controller.set_variables({"base_url": http_server.url})
    problems = window.validator.run_now()
    assert [p.severity for p in problems] == ["warning"]
    assert window.problem_label.text() == "✓ ready to run"
    qtbot.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: runner.controller.state == rc.COMPLETED, timeout=15000)
    names = {n.id: n.name for n in window.document.workflow.nodes}
    states = {names[i.node_id]: i.run_state for i in window.scene.node_items()}
    assert states["Result"] == "succeeded" and states["Draft (not connected)"] == "skipped"
    assert http_server.calls("/jobs/j9") == 3
    back = next(e for e in window.scene.edge_items() if e.back_edge)
    qtbot.waitUntil(lambda: back.flow_label is not None, timeout=5000)
    assert back.flow_label.startswith("2")  # went round twice before the job was done
    window.view.fit_all()
    window.grab().save("/tmp/n8n_poll_run.png")
