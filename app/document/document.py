"""The document: one engine workflow, where it lives on disk, and its undo stack.

Dirty state comes from the undo stack's clean index (so undoing back to the
saved state clears the marker) plus a flag for documents that are dirty
without any command, such as a recovered autosave.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from engine import fileformat
from engine.model import Workflow

log = logging.getLogger(__name__)


class WorkflowDocument(QObject):
    """A workflow being edited. All edits go through `push(command)`."""

    dirty_changed = Signal(bool)
    path_changed = Signal(str)  # "" when the document has no file yet

    def __init__(self, workflow: Workflow | None = None, path: str | Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workflow = workflow if workflow is not None else Workflow(name="Untitled")
        self._path: Path | None = Path(path) if path else None
        self.undo_stack = QUndoStack(self)
        self._forced_dirty = False
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)

    # -- files -------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, parent: QObject | None = None) -> WorkflowDocument:
        """Load a `.pe.json` file; raises engine.errors.WorkflowInvalid when it cannot be read
        (not JSON, another or newer format, a malformed document).

        Node configs are not checked here: a workflow with a bad config or an
        unknown node type opens, and validation lists those problems in the
        problems dock, where the user can fix them.
        """
        wf = fileformat.load(path, check_configs=False)
        return cls(wf, Path(path).resolve(), parent)

    @property
    def path(self) -> Path | None:
        return self._path

    def save(self, path: str | Path | None = None) -> Path:
        """Write the workflow (atomically) and mark the current state as saved."""
        target = Path(path).resolve() if path else self._path
        if target is None:
            raise ValueError("the document has no file name yet")
        fileformat.save(self.workflow, target)
        log.info("saved %s", target)
        if target != self._path:
            self._path = target
            self.path_changed.emit(str(target))
        only_forced = self._forced_dirty and self.undo_stack.isClean()
        self._forced_dirty = False
        self.undo_stack.setClean()  # emits dirty_changed(False) through cleanChanged if needed
        if only_forced:
            self.dirty_changed.emit(False)
        return target

    @property
    def display_name(self) -> str:
        if self._path is not None:
            name = self._path.name
            return name[: -len(".pe.json")] if name.endswith(".pe.json") else name
        return self.workflow.name or "Untitled"

    # -- editing -----------------------------------------------------------
    def push(self, command: QUndoCommand) -> None:
        self.undo_stack.push(command)

    @property
    def is_dirty(self) -> bool:
        return self._forced_dirty or not self.undo_stack.isClean()

    def mark_dirty(self) -> None:
        """Mark as unsaved without a command (a recovered autosave is not on disk yet)."""
        if not self._forced_dirty:
            was = self.is_dirty
            self._forced_dirty = True
            if not was:
                self.dirty_changed.emit(True)

    def _on_clean_changed(self, clean: bool) -> None:
        if not self._forced_dirty:
            self.dirty_changed.emit(not clean)
