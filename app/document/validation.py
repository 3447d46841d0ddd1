"""Runs the engine's validation shortly after the last edit (debounced).

Validation (`engine.graph.validate`) walks the whole graph, so it runs once
per burst of edits rather than on every event; the result goes to the
problems dock, the node badges and the inspector.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.document.document import WorkflowDocument
from engine.errors import Problem
from engine.graph import validate

log = logging.getLogger(__name__)
DEBOUNCE_MS = 300


class Validator(QObject):
    problems_changed = Signal(list)  # list[Problem]

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document: WorkflowDocument | None = None
        self.problems: list[Problem] = []
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self.run_now)

    def set_document(self, document: WorkflowDocument) -> None:
        if self.document is not None:
            self._subscribe(self.document, connect=False)
        self.document = document
        self._subscribe(document, connect=True)
        self.run_now()

    def _subscribe(self, document: WorkflowDocument, *, connect: bool) -> None:
        ev = document.workflow.events
        for signal in (
            ev.node_added, ev.node_removed, ev.node_changed, ev.connection_added,
            ev.connection_removed, ev.workflow_changed,
        ):  # fmt: skip
            (signal.connect if connect else signal.disconnect)(self.schedule)

    def schedule(self, *_args: Any) -> None:
        self.timer.start()

    def run_now(self) -> list[Problem]:
        self.timer.stop()
        if self.document is None:
            return []
        path = self.document.path
        self.problems = validate(self.document.workflow, file=str(path) if path else None)
        self.problems_changed.emit(self.problems)
        return self.problems
