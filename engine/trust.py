"""Trust for code that runs on this machine outside a sandbox.

A `code` node in Python and an `execute_command` node run with the user's own
rights. Before a run starts, `require_trust` lists every such node and refuses the
run unless the caller says the user trusts the workflow (`--trust` on the CLI, the
app's prompt, remembered per file path and content hash). The refusal comes at
validation time, so no node of the workflow runs at all.

The nodes check again while running (`is_granted`): the caller runs the execution
inside `granted()`, a context variable that the run's asyncio tasks inherit. A run
started any other way (a server, a queue worker) refuses such nodes with the same
clear error.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from engine.errors import Problem, WorkflowInvalid
from engine.model import Node, Workflow

__all__ = [
    "TrustRequired",
    "fingerprint",
    "granted",
    "is_granted",
    "needs_trust",
    "refusal",
    "require_trust",
]

_GRANTED: ContextVar[bool] = ContextVar("processengine_trusted", default=False)


class TrustRequired(WorkflowInvalid):
    """The workflow runs code outside a sandbox and the user has not trusted it."""


def _runs_unsandboxed(node: Node) -> bool:
    if node.disabled or not isinstance(node.config, dict):
        return False
    if node.type == "execute_command":
        return True
    return node.type == "code" and node.config.get("language") == "python"


def needs_trust(workflow: Workflow) -> list[Node]:
    """The enabled nodes that would run code on this machine outside a sandbox."""
    return [n for n in workflow.nodes if _runs_unsandboxed(n)]


def refusal(node: Node) -> str:
    what = "runs a command" if node.type == "execute_command" else "runs Python code"
    return (f"node {node.name!r} {what} on this machine outside a sandbox; trust the workflow "
            "to run it (processengine run/resume --trust, or answer the app's prompt)")


def require_trust(workflow: Workflow, *, trusted: bool, file: str | None = None) -> None:
    """Raise TrustRequired naming every such node, unless `trusted`."""
    if trusted:
        return
    nodes = needs_trust(workflow)
    if nodes:
        problems = [Problem(refusal(n), node_id=n.id, field="type", file=file) for n in nodes]
        raise TrustRequired(problems, file=file)


@contextlib.contextmanager
def granted(trusted: bool = True) -> Iterator[None]:
    """Runs started inside this block (and their tasks) may run unsandboxed nodes."""
    token = _GRANTED.set(trusted)
    try:
        yield
    finally:
        _GRANTED.reset(token)


def is_granted() -> bool:
    return _GRANTED.get()


def fingerprint(workflow: Workflow, path: str | Path | None) -> tuple[str, str]:
    """(absolute path or "", sha256 of the canonical file text): what a remembered trust is
    bound to. Saving is canonical, so a saved workflow hashes like its file's bytes."""
    from engine.fileformat import dumps

    where = str(Path(path).resolve()) if path else ""
    return where, hashlib.sha256(dumps(workflow).encode("utf-8")).hexdigest()
