"""The edited document: the engine workflow model, its undo stack and the edit commands."""

from app.document.document import WorkflowDocument

__all__ = ["WorkflowDocument"]
