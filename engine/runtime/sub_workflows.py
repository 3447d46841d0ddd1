"""Finding the workflow an `execute_workflow` node names, when the host lends no loader.

Kept apart from the orchestrator: it is file and store lookup, not stepping.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import NodeError
from engine.model import Workflow

if TYPE_CHECKING:
    from engine.compiled import Loaded

__all__ = ["load_file", "load_sub_workflow"]


def load_sub_workflow(ref: str, *, workflow_file: str | None, find_workflow: Callable[[str], Workflow | None] | None) -> Workflow:
    """A sub-workflow by path (relative to the parent's file) or by `id:<workflow id>`.

    Ids are looked up with the host's `find_workflow` (the service: saved versions in
    the store), then among the `*.pe.json` files beside the parent.
    """
    base = Path(workflow_file).parent if workflow_file else Path.cwd()
    if ref.startswith("id:"):
        wanted = ref[3:]
        if find_workflow is not None and (found := find_workflow(wanted)) is not None:
            return found
        for candidate in sorted(base.glob("*.pe.json")):
            wf = _with_id(candidate, wanted)
            if wf is not None:
                return wf
        raise NodeError(f"no saved workflow with id {wanted!r} (looked in the store and in {base})")
    path = Path(ref)
    if not path.is_absolute():
        path = base / path
    return load_file(path).workflow


def load_file(path: Path) -> Loaded:
    """A workflow file, loaded and checked through the compiled-workflow cache (a file whose
    exact bytes were found valid before is built without the checks; `engine.compiled`).

    An invalid file never has a cache entry: it is checked in full every time, and its
    problems are those of `fileformat.load` then `graph.ensure_valid`, worded and ordered
    as a sub-workflow's always were (the compiled loader lists the config and graph
    problems of a file together)."""
    from engine import compiled
    from engine.errors import WorkflowInvalid

    try:
        return compiled.load(str(path))
    except WorkflowInvalid:
        pass
    return compiled.Loaded(workflow=_checked(path), warnings=None)  # valid after all: the file changed meanwhile


def _checked(path: Path) -> Workflow:
    """The file loaded and checked without the cache; raises WorkflowInvalid with its problems."""
    from engine import fileformat
    from engine.graph import ensure_valid

    wf = fileformat.load(path)
    ensure_valid(wf, file=str(path))
    return wf


def _with_id(candidate: Path, wanted: str) -> Workflow | None:
    """The candidate file's workflow if its id is `wanted`. A file that does not load is
    passed over; one that loads with that id but is invalid raises its problems."""
    from engine import compiled, fileformat
    from engine.errors import WorkflowInvalid

    try:
        wf = compiled.load(str(candidate)).workflow
    except WorkflowInvalid:
        try:
            wf = fileformat.load(candidate)
        except WorkflowInvalid:
            return None
        if wf.id == wanted:
            wf = _checked(candidate)
    return wf if wf.id == wanted else None
