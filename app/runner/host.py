"""What the runner needs from the window it is installed in.

The designer's main window is adapted to this in `app/runner/install.py`;
tests use a small window that implements it directly.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtWidgets import QMainWindow

from app.canvas.scene import WorkflowScene
from app.canvas.view import CanvasView
from engine.model import Workflow


class RunnerHost(Protocol):
    def window(self) -> QMainWindow: ...

    def current_workflow(self) -> Workflow | None:
        """The workflow being edited (the GUI's live model; the runner clones it)."""

    def current_file(self) -> str | None: ...

    def scene(self) -> WorkflowScene | None: ...

    def view(self) -> CanvasView | None: ...

    def show_workflow(self, workflow: Workflow) -> None:
        """Put another workflow on the canvas (a run of a workflow that is not open)."""

    def set_read_only(self, read_only: bool) -> None:
        """Forbid (or allow again) edits of the document while a past run is shown."""

    def select_node(self, node_id: str) -> None: ...
