"""Import n8n workflow exports: `import_file(path) -> (Workflow, ImportSummary)`.

Node types and parameters are mapped per type and typeVersion where a
counterpart exists, n8n's JavaScript expressions are translated to the engine's
expressions, and everything else becomes an `unsupported` placeholder; the
summary lists what happened to every node and expression (docs/n8n-import.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from engine.errors import Problem, WorkflowInvalid
from engine.model import Workflow
from engine.n8n.convert import convert, is_n8n_workflow
from engine.n8n.summary import ImportSummary

__all__ = ["ImportSummary", "convert", "import_file", "is_n8n_file", "is_n8n_workflow"]


def _read(path: str | os.PathLike[str]) -> Any:
    p = Path(path)
    try:
        return json.loads(p.read_bytes())
    except OSError as exc:
        raise WorkflowInvalid([Problem(f"cannot read file: {exc.strerror or exc}", file=str(p))], str(p)) from None
    except (ValueError, RecursionError) as exc:
        raise WorkflowInvalid([Problem(f"not valid JSON ({exc})", file=str(p))], str(p)) from None


def import_file(path: str | os.PathLike[str]) -> tuple[Workflow, ImportSummary]:
    """Read and convert one n8n export; every failure is a WorkflowInvalid naming the file."""
    return convert(_read(path), file=str(path))


def is_n8n_file(path: str | os.PathLike[str]) -> bool:
    """True for a readable JSON file holding an n8n export (for drag and drop)."""
    try:
        return is_n8n_workflow(_read(path))
    except WorkflowInvalid:
        return False
