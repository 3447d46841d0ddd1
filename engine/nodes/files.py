"""Where the file nodes may read and write, and how a config path becomes a file.

Decision (docs/nodes.md, "File access"): a relative `path` is resolved against the
folder of the workflow file; the resolved file (symlinks followed, `..` applied) must
lie inside that folder or inside one of the folders listed in the environment variable
`PROCESSENGINE_FILE_ROOTS` (separated by the OS path separator, `:` on Linux). So a
workflow someone sent you cannot read `~/.ssh` or overwrite `~/.bashrc` unless you
allowed that folder. A workflow never saved has no folder: only absolute paths under
`PROCESSENGINE_FILE_ROOTS` work for it. Registers no node type.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.errors import NodeError
from engine.nodes.base import NodeContext

ROOTS_ENV = "PROCESSENGINE_FILE_ROOTS"


def allowed_roots(workflow_dir: Path | None) -> list[Path]:
    roots = [workflow_dir.resolve()] if workflow_dir is not None else []
    for part in os.environ.get(ROOTS_ENV, "").split(os.pathsep):
        if part.strip():
            roots.append(Path(part.strip()).expanduser().resolve())
    return roots


def resolve_path(ctx: NodeContext, raw: str, field: str = "path") -> Path:
    """The absolute file `raw` names, or a NodeError naming node and field when it is not allowed."""
    where = f"node {ctx.node.id!r}, config.{field}"
    if not raw.strip():
        raise NodeError(f"{where}: the path is empty")
    base = ctx.services.workflow_dir()
    path = Path(raw).expanduser()
    if not path.is_absolute():
        if base is None:
            raise NodeError(
                f"{where}: {raw!r} is relative but the workflow was never saved; save it first "
                f"or use an absolute path under {ROOTS_ENV}"
            )
        path = base / path
    resolved = path.resolve()
    roots = allowed_roots(base)
    if not any(resolved.is_relative_to(root) for root in roots):
        shown = ", ".join(str(r) for r in roots) or "none"
        raise NodeError(
            f"{where}: {resolved} is outside the folders files may be used from ({shown}); "
            f"add its folder to {ROOTS_ENV} to allow it"
        )
    return resolved
