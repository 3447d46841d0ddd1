"""`processengine import FILE.json [-o OUT.pe.json] [--json]`: open an n8n workflow export.

Writes the `processengine/1` file (default: FILE with `.pe.json`) and prints the
summary: what was mapped, which expressions were translated, which nodes are
unsupported placeholders. Exit 0 when the file was written (placeholders
included: `validate` reports them), 2 when the input is not an n8n export.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["cmd_import", "register"]


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Any]:
    p = sub.add_parser("import", parents=[common], help="convert an n8n workflow export into a workflow file")
    p.add_argument("file", help="the n8n export (.json)")
    p.add_argument("-o", "--output", metavar="OUT.pe.json", help="where to write (default: beside FILE, .pe.json)")
    p.add_argument("--json", action="store_true", help="print the import summary as JSON")
    return {"import": cmd_import}


def default_output(path: str) -> Path:
    p = Path(path)
    stem = p.name[: -len(".json")] if p.name.endswith(".json") else p.name
    return p.with_name(stem + ".pe.json")


def cmd_import(args: argparse.Namespace) -> int:
    from engine import fileformat
    from engine.errors import WorkflowInvalid
    from engine.n8n import import_file

    try:
        wf, summary = import_file(args.file)
    except WorkflowInvalid as exc:
        if args.json:
            sys.stdout.write(json.dumps({"status": "invalid", "problems": [p.to_json() for p in exc.problems]}, indent=2) + "\n")
        else:
            sys.stderr.write(f"{exc}\n")
        return 2
    out = Path(args.output) if args.output else default_output(args.file)
    try:
        fileformat.save(wf, out)
    except OSError as exc:
        sys.stderr.write(f"{out}: cannot write: {exc.strerror or exc}\n")
        return 1
    if args.json:
        sys.stdout.write(json.dumps({"status": "imported", "output": str(out), **summary.to_json()}, indent=2) + "\n")
    else:
        sys.stdout.write(f"{args.file} -> {out}\n{summary.to_text()}")
    return 0
