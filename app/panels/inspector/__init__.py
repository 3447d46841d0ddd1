"""The inspector dock: schema-generated forms, retry editor, expression previews."""

from app.panels.inspector.panel import Inspector, NodeForm, WorkflowForm

__all__ = ["Inspector", "NodeForm", "WorkflowForm"]
