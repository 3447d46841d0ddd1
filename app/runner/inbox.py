"""The Inbox dock in the app, over `engine.cli_inbox.captured_messages` and the store.

`install_inbox(runner)` adds the dock. Whenever a stored run is shown (viewed from
History, paused, or just ended), the email it captured is listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt

from app.panels.inbox import InboxPanel
from app.runner.time_travel import SHOWN_STATES
from engine.errors import EngineError

if TYPE_CHECKING:
    from app.runner.install import RunnerUi


class Inbox(QObject):
    """Keeps the Inbox dock showing the current run's captured email."""

    def __init__(self, runner: RunnerUi) -> None:
        super().__init__(runner)
        self.runner = runner
        self.controller = runner.controller
        self.panel = InboxPanel()
        self.dock = runner._dock("Inbox", "inbox", self.panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        runner.window.tabifyDockWidget(runner.docks["history"], self.dock)
        runner.docks["history"].raise_()
        self.execution_id: str | None = None
        self.controller.execution_changed.connect(lambda _eid: self._state_changed(self.controller.state))
        self.controller.state_changed.connect(self._state_changed)

    def _state_changed(self, state: str) -> None:
        eid = self.controller.execution_id
        if state not in SHOWN_STATES or eid is None:
            self.execution_id = None
            self.panel.clear()
            return
        self.controller.spawn(self.load(eid))

    async def load(self, execution_id: str) -> None:
        """Read the run's captured messages (engine thread) and list them."""
        from engine.cli_inbox import captured_messages

        try:
            messages = await self.controller.call(lambda s: captured_messages(s.store.recordings(execution_id)))
        except EngineError as exc:  # an in-memory service keeps no inbox
            self.panel.clear(f"No inbox to show: {exc}")
            return
        if self.controller.execution_id != execution_id:
            return
        wf = self.controller.workflow
        self.execution_id = execution_id
        self.panel.set_messages(messages, {n.id: n.name for n in wf.nodes} if wf is not None else {})


def install_inbox(runner: RunnerUi) -> Inbox:
    inbox = Inbox(runner)
    runner.inbox = inbox
    return inbox
