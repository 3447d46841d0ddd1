"""Finding the workflow an `execute_workflow` node names, when the host lends no loader.

Kept apart from the orchestrator: it is file and store lookup, not stepping.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.errors import NodeError
from engine.model import Workflow

__all__ = ["load_sub_workflow"]


def load_sub_workflow(ref: str, *, workflow_file: str | None, find_workflow: Callable[[str], Workflow | None] | None) -> Workflow:
    """A sub-workflow by path (relative to the parent's file) or by `id:<workflow id>`.

    Ids are looked up with the host's `find_workflow` (the service: saved versions in
    the store), then among the `*.pe.json` files beside the parent.
    """
    from engine import fileformat
    from engine.errors import WorkflowInvalid
    from engine.graph import ensure_valid

    base = Path(workflow_file).parent if workflow_file else Path.cwd()
    if ref.startswith("id:"):
        wanted = ref[3:]
        if find_workflow is not None and (found := find_workflow(wanted)) is not None:
            return found
        for candidate in sorted(base.glob("*.pe.json")):
            try:
                wf = fileformat.load(candidate)
            except WorkflowInvalid:
                continue
            if wf.id == wanted:
                ensure_valid(wf, file=str(candidate))
                return wf
        raise NodeError(f"no saved workflow with id {wanted!r} (looked in the store and in {base})")
    path = Path(ref)
    if not path.is_absolute():
        path = base / path
    wf = fileformat.load(path)
    ensure_valid(wf, file=str(path))
    return wf
