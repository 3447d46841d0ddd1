"""n8n import goals, measured over real community exports.

Run: `python tests/perf/n8n_import_goals.py [DIR ...]` (default: the 20 CC BY 4.0
workflows in tests/engine/n8n/corpus). For each file: does it import without
error; does it keep every node (sticky notes as notes), every main connection
and every sticky note; does it use only node types with a counterpart
("core-only"), and if so does it validate with no error; if not, are all its
unsupported nodes reported (summary and `validate`). Prints a Markdown table
per file and the four goals (the table goes into docs/n8n-import.md):

- >= 95 % import without error
- >= 95 % of those keep every node and connection
- >= 80 % of core-only workflows validate clean
- 100 % of the rest report their unsupported nodes
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.graph import validate
from engine.n8n import import_file
from engine.n8n.convert import MAPPERS, short_type

CORPUS = Path(__file__).resolve().parents[1] / "engine" / "n8n" / "corpus"


@dataclass(slots=True, kw_only=True)
class Row:
    name: str
    imported: bool
    kept: bool = False
    core_only: bool = False
    clean: bool = False
    reported: bool = False
    detail: str = ""


def measure(path: Path) -> Row:
    doc = json.loads(path.read_text())
    name = path.stem.split("__", 1)[-1]
    try:
        wf, summary = import_file(path)
    except Exception as exc:  # any failure is what this measures
        return Row(name=name, imported=False, detail=f"{type(exc).__name__}: {exc}"[:80])
    real = [n for n in doc["nodes"] if short_type(n["type"]) != "stickyNote"]
    notes = len(doc["nodes"]) - len(real)
    wanted = sum(len(t or []) for kinds in doc["connections"].values() for t in kinds.get("main", []))
    kept = len(wf.nodes) == len(real) and len(wf.connections) == wanted and len(wf.notes) == notes
    unmapped = {n["name"] for n in real if short_type(n["type"]) not in MAPPERS}
    problems = validate(wf)
    errors = [p for p in problems if p.is_error]
    placeholder_ids = {e.node_id for e in summary.unsupported}
    named = {p.node_id for p in errors if "unsupported node" in p.message}
    row = Row(name=name, imported=True, kept=kept, core_only=not unmapped)
    row.clean = not errors
    row.reported = {e.name for e in summary.unsupported} >= unmapped and placeholder_ids <= named
    if errors:
        row.detail = f"{len(errors)} error(s), first: {errors[0].message}"[:80]
    return row


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} % ({part}/{whole})" if whole else "n/a"


def main(dirs: list[str]) -> int:
    paths = sorted(p for d in (dirs or [str(CORPUS)]) for p in Path(d).glob("*.json"))
    rows = [measure(p) for p in paths]
    print("| workflow | imports | keeps all | core-only | validates clean | unsupported reported | first error |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    yes = {True: "yes", False: "no"}
    for r in rows:
        print(f"| {r.name[:48]} | {yes[r.imported]} | {yes[r.kept]} | {yes[r.core_only]} | {yes[r.clean]} | "
              f"{'—' if r.core_only else yes[r.reported]} | {r.detail.replace('|', '/')} |")  # fmt: skip
    imported = [r for r in rows if r.imported]
    core = [r for r in imported if r.core_only]
    rest = [r for r in imported if not r.core_only]
    print()
    print("| goal | target | measured |")
    print("| --- | --- | --- |")
    print(f"| import without error | >= 95 % | {pct(len(imported), len(rows))} |")
    print(f"| keep every node and connection | >= 95 % | {pct(sum(r.kept for r in imported), len(imported))} |")
    print(f"| core-only workflows validate clean | >= 80 % | {pct(sum(r.clean for r in core), len(core))} |")
    print(f"| the rest report their unsupported nodes | 100 % | {pct(sum(r.reported for r in rest), len(rest))} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
