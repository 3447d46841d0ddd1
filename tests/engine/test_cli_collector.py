"""The garbage collector in a `run` process: paused from the command's start until the run
starts (everything imported, loaded and opened before then lives on), on again for the run,
and on after `main` returns whatever happened. In a child process: these calls change the
collector of the process they run in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from engine import fileformat
from tests.engine.runtime.helpers import workflow
from tests.engine.test_cli import EXAMPLES, ROOT

_CHILD = """
import gc, json, sys
from engine import cli
seen = {"before the run": 0, "after": 0}
phase = ["before the run"]
gc.callbacks.append(lambda stage, info: stage == "start" and seen.__setitem__(phase[0], seen[phase[0]] + 1))
settle = cli._settle_heap
def settled():
    settle()
    phase[0] = "after"
    seen["on for the run"] = gc.isenabled()
cli._settle_heap = settled
command = cli._command
def commanded(*args):
    phase[0] = "before the run"  # main has paused the collector already
    try:
        return command(*args)
    finally:
        phase[0] = "after"
cli._command = commanded
codes = [cli.main(["run", path, "--db", sys.argv[1], "--json"]) for path in sys.argv[2:]]
gc.collect()  # still counted: the collector works after main
sys.stderr.write("\\nSEEN " + json.dumps({**seen, "codes": codes, "on after main": gc.isenabled()}) + "\\n")
"""


def test_no_collection_before_the_run_and_the_collector_on_again(tmp_path: Path) -> None:
    invalid = tmp_path / "invalid.pe.json"
    fileformat.save(workflow([{"id": "start", "type": "manual_trigger"}, {"id": "s", "type": "set", "config": {"values": {"x": "{{ nope( }}"}}}], [("start", "out", "s")]), invalid)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "pe.db"), str(invalid), str(EXAMPLES / "hello.pe.json")],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stderr.rsplit("SEEN ", 1)[1])
    assert seen["codes"] == [2, 0]  # the invalid file returned before its run, with the collector paused
    assert seen["before the run"] == 0  # importing, loading and opening the store: no collection
    assert seen["on for the run"] is True and seen["on after main"] is True
    assert seen["after"] >= 1
