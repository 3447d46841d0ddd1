"""Recorded I/O in the studio's debugger: the inspector's run-mode switch and replay warnings.

Keeps the inspector's Live / Replay / Pinned switch told what the run on the canvas
recorded and output (a `ReplayContext`), so Replay and Pinned are only offered when
they can work; turns the switch's Pinned into the debugger's "Pin this output"; and
makes a replayed re-run's warnings (a request that differed from its recording)
visible: a status-bar line at its end, and Log lines when such a run is viewed later
(a live re-run's Log has them already, from the engine's log).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from app.panels.inspector import Inspector
from app.panels.inspector.run_mode import ReplayContext
from app.runner import controller as rc
from app.runner.bridge import LogLine
from app.runner.time_travel import SHOWN_STATES
from engine.errors import EngineError
from engine.replay import recorded_nodes

if TYPE_CHECKING:
    from app.runner.debug_install import DebugUi

log = logging.getLogger(__name__)

WARNINGS_LOGGER = "engine.replay"  # the logger column of the warning lines added for a viewed run


class ReplayUi(QObject):
    """Wires the run-mode switch and replay warnings to one `DebugUi`."""

    def __init__(self, debug: DebugUi) -> None:
        super().__init__(debug)
        self.debug = debug
        self.runner = debug.runner
        self.controller: rc.RunController = debug.session.controller
        self.execution_id: str | None = None  # the run the context describes
        self.warnings: list[str] = []  # of that run
        self._warned: set[str] = set()  # runs whose warnings were shown already
        inspector = self.inspector
        if inspector is not None:
            inspector.set_strict_replay_action(debug.session.strict_replay_action)
            inspector.pin_requested.connect(self._pin_requested)
        self.controller.execution_changed.connect(lambda _eid: self._state_changed(self.controller.state))
        self.controller.state_changed.connect(self._state_changed)
        # a run shown anew (ended, paused, viewed: its Log was rebuilt) is read again
        self.controller.snapshot_ready.connect(lambda snap: self.controller.spawn(self.load(snap.execution_id)))
        self.runner.history.runs_set.connect(self._rename)  # a run's number arrives with the history

    @property
    def inspector(self) -> Inspector | None:
        found = getattr(self.debug.window, "inspector", None)
        return found if isinstance(found, Inspector) else None

    # -- what the run shown offers -----------------------------------------------------------
    def _state_changed(self, state: str) -> None:
        eid = self.controller.execution_id
        if state not in SHOWN_STATES or eid is None:
            self.execution_id, self.warnings = None, []
            self._set_context(None)
            return
        if eid != self.execution_id:
            self.controller.spawn(self.load(eid))

    async def load(self, execution_id: str) -> None:
        """Read what the run recorded and output (engine thread); tell the inspector."""

        def read(s: Any) -> tuple[frozenset[str], frozenset[str], str | None, list[str]] | None:
            try:
                outputs = frozenset(s.record(execution_id).main.outputs)
                warnings = list(s.status(execution_id).get("warnings") or [])
            except EngineError:  # deleted meanwhile
                return None
            try:
                recorded, note = frozenset(recorded_nodes(s.store, execution_id)), None
            except EngineError:  # a service that keeps runs in memory stores no recordings
                recorded, note = frozenset(), "This run is kept in memory only, with no recordings"
            return recorded, outputs, note, warnings

        got = await self.controller.call(read)
        if execution_id != self.controller.execution_id or self.controller.state not in SHOWN_STATES or got is None:
            return  # the canvas moved on while we read (another run, or this one going on)
        recorded, outputs, note, warnings = got
        self.execution_id, self.warnings = execution_id, warnings
        self._set_context(ReplayContext(run=self._run_name(execution_id), recorded=recorded, outputs=outputs, note=note))
        if warnings:
            self._show_warnings(execution_id, warnings)

    def _set_context(self, ctx: ReplayContext | None) -> None:
        inspector = self.inspector
        if inspector is not None:
            inspector.set_replay_context(ctx)

    def _rename(self) -> None:
        """The context was read before the history listed its run: name it by number now."""
        inspector, eid = self.inspector, self.execution_id
        ctx = inspector.replay_context if inspector is not None else None
        if ctx is None or eid is None:
            return
        name = self._run_name(eid)
        if name != ctx.run:
            self._set_context(dataclasses.replace(ctx, run=name))

    def _run_name(self, execution_id: str) -> str:
        viewing = self.controller.viewing
        number = viewing[1] if viewing and viewing[0] == execution_id else (self.runner.history.row_of(execution_id) or {}).get("number")
        return f"run #{number}" if number else "the run shown"

    # -- warnings of a replayed re-run ---------------------------------------------------------
    def _show_warnings(self, execution_id: str, warnings: list[str]) -> None:
        """A status-bar line (once per run); and Log lines for a viewed run (its Log is rebuilt
        from its attempts; a run that ran here logged them as they came)."""
        count = len(warnings)
        if execution_id not in self._warned:
            self._warned.add(execution_id)
            self.controller.message.emit(f"Replay: {count} request{'s' if count != 1 else ''} differed from the recording — {warnings[0]}")
            log.info("replayed run has %d warning(s)", count, extra={"execution_id": execution_id})
        logs = self.runner.logs
        shown = any(line.logger == WARNINGS_LOGGER and line.execution_id == execution_id for line in logs.model.lines)
        if self.controller.state == rc.VIEWING and not shown:
            now = time.time()
            logs.append([LogLine(now, "WARNING", w, _node_of(w), execution_id, WARNINGS_LOGGER) for w in warnings])

    # -- Pinned ------------------------------------------------------------------------------
    def _pin_requested(self, node_id: str) -> None:
        self.controller.spawn(self.pin(node_id))

    async def pin(self, node_id: str) -> None:
        """The switch chose Pinned: pin the node's output in the run shown, as Run data's
        "Pin this output" does (Run data is brought up to this node first)."""
        await self.runner.refresh_data()
        data = self.runner.data.data or {}
        if data.get("node_id") != node_id or not data.get("has_output"):
            self.controller.message.emit("This node has no output in the run shown: nothing to pin (Edit pin… in Run data sets one by hand).")
            return
        self.debug.pin(node_id, None)


def _node_of(warning: str) -> str | None:
    """The node id a replay warning names (`node 'ID': …`)."""
    if warning.startswith("node '") and "':" in warning:
        return warning[len("node '"):warning.index("':")]
    return None


def install_replay_ui(debug: DebugUi) -> ReplayUi:
    return ReplayUi(debug)
