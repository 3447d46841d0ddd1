"""The code node in Python: a child process with limits, killed on pause and cancel, behind trust."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from engine import trust
from engine.errors import NodeError
from engine.nodes import registry
from engine.nodes.base import Interrupted
from engine.runtime.control import RunControl
from engine.runtime.runner import resume_workflow, run_workflow
from tests.engine.nodes.helpers import NodeHarness
from tests.engine.runtime.helpers import workflow
from tests.waiting import wait_until

INVOICES = [
    {"number": "2024-001", "customer": "acme", "amount": "1200.50", "paid": True},
    {"number": "2024-002", "customer": "globex", "amount": "80.00", "paid": False},
    {"number": "2024-003", "customer": "acme", "amount": "99.90", "paid": False},
]


@pytest.fixture(autouse=True)
def trusted():  # type: ignore[no-untyped-def]
    with trust.granted():
        yield


async def py(harness: NodeHarness, code: str, value: Any = None, **config: Any) -> Any:
    result = await harness.run("code", {"language": "python", "code": code, **config}, value, name="Calc")
    return result.outputs["out"]


async def py_error(harness: NodeHarness, code: str, value: Any = None, **config: Any) -> str:
    with pytest.raises(NodeError) as err:
        await py(harness, code, value, **config)
    assert str(err.value).startswith("Python code of node 'Calc': ")
    return str(err.value)


def wait_for_file(path: Path, timeout: float = 20.0) -> str:
    """Wait for a file the child writes (a condition, checked until it holds)."""
    return wait_until(lambda: path.exists() and path.read_text().strip(), timeout, f"{path} to be written", every=0.01)


def process_gone(pid: int, timeout: float = 10.0) -> bool:
    """Wait until the process has exited (a SIGKILL takes a moment to land)."""
    return wait_until(lambda: _exited(pid), timeout, f"process {pid} to exit", every=0.01)


def _exited(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie of a process we did not start (the grandchild) counts as gone
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z"


async def test_open_amounts_per_customer(harness):
    code = """
from decimal import Decimal
from collections import defaultdict
open_by_customer = defaultdict(Decimal)
for inv in input:
    if not inv["paid"]:
        open_by_customer[inv["customer"]] += Decimal(inv["amount"])
return {k: str(v) for k, v in sorted(open_by_customer.items())}
"""
    assert await py(harness, code, INVOICES) == {"acme": "99.90", "globex": "80.00"}


async def test_names_in_a_workflow():
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "prices", "name": "Prices", "type": "set", "config": {"values": {"eur": 1.1}}},
            {"id": "calc", "type": "code", "config": {"language": "python", "code": (
                "return {'usd': round(input['eur'] * vars['amount'], 2),\n"
                "        'from_node': nodes['Prices']['eur'], 'exec': execution['id'], 'loop': loop}"
            )}},
        ],
        [("start", "out", "prices"), ("prices", "out", "calc")],
        variables={"amount": 10},
    )
    with trust.granted():
        rec = await run_workflow(wf, execution_id="exec-py")
    assert rec.status == "completed", rec.main.error
    assert rec.main.outputs["calc"] == {"usd": 11.0, "from_node": 1.1, "exec": "exec-py", "loop": None}


async def test_print_lines_are_node_log_lines(harness, caplog):
    with caplog.at_level(logging.INFO, logger="tests.nodes"):
        assert await py(harness, "print('checking', len(input))\nprint('done')\nreturn 1", [1, 2]) == 1
    assert [r.getMessage() for r in caplog.records if r.name == "tests.nodes"] == [
        "print: checking 2", "print: done"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("total = 0\nfor x in input:\n    total += x['missing']\nreturn total", "line 3: KeyError: 'missing'"),
        ("x = 1\nif x\n    pass", "line 2: SyntaxError: expected ':'"),
        ("def helper():\n    return 1 / 0\n\nreturn helper()", "line 2: ZeroDivisionError: division by zero"),
        ("return {1, 2}", "TypeError: the result is not JSON: Object of type set is not JSON serializable"),
        ("return float('nan')", "the result is not JSON: Out of range float values are not JSON compliant"),
        ("raise SystemExit(3)", "line 1: SystemExit: 3"),
    ],
)
async def test_errors_name_node_and_line(harness, code, message):
    assert message in await py_error(harness, code, [{"a": 1}])


async def test_time_limit_kills_the_child(harness):
    message = await py_error(harness, "while True:\n    pass", timeout_s=0.5)
    assert "ran longer than its time limit of 0.5 s" in message


async def test_memory_limit(harness):
    message = await py_error(harness, "block = bytearray(400 * 1024 * 1024)\nreturn len(block)", memory_mb=64)
    assert "line 1: MemoryError: out of memory (the node's memory_mb limit)" in message


async def test_untrusted_python_is_refused(harness):
    with trust.granted(False), pytest.raises(NodeError) as err:
        await py(harness, "open('/tmp/never', 'w')\nreturn 1")
    assert "node 'Calc' runs Python code on this machine outside a sandbox" in str(err.value)


@pytest.mark.parametrize("action", ["pause", "cancel"])
async def test_pause_and_cancel_kill_the_child_and_what_it_started(harness, tmp_path, action):
    pids = tmp_path / "pids"
    code = (
        "import os, subprocess, pathlib\n"
        "child = subprocess.Popen(['sleep', '600'])\n"
        f"pathlib.Path({str(pids)!r}).write_text(f'{{os.getpid()}} {{child.pid}}')\n"
        "while True:\n    pass\n"
    )
    node = harness.node("code", {"language": "python", "code": code, "timeout_s": 600}, name="Calc")
    task = asyncio.ensure_future(registry.get_spec("code").run(harness.context(node), None))
    text = await asyncio.to_thread(wait_for_file, pids)
    child_pid, grandchild_pid = map(int, text.split())
    getattr(harness.control, action)()
    if action == "cancel":
        task.cancel()
    with pytest.raises((Interrupted, asyncio.CancelledError)) as err:
        await task
    assert isinstance(err.value, Interrupted if action == "pause" else asyncio.CancelledError)
    assert process_gone(child_pid)
    assert process_gone(grandchild_pid)


async def test_paused_node_runs_again_on_resume(tmp_path):
    count = tmp_path / "count"
    code = (
        "import pathlib\n"
        f"p = pathlib.Path({str(count)!r})\n"
        "n = int(p.read_text()) if p.exists() else 0\n"
        "p.write_text(str(n + 1))\n"
        "while n == 0:\n    pass\n"
        "return {'runs': n + 1}\n"
    )
    wf = workflow(
        [{"id": "start", "type": "manual_trigger"},
         {"id": "calc", "type": "code", "config": {"language": "python", "code": code, "timeout_s": 600}}],
        [("start", "out", "calc")],
    )
    control = RunControl()
    task = asyncio.ensure_future(run_workflow(wf, control=control))
    await asyncio.to_thread(wait_for_file, count)
    control.pause()
    rec = await task
    assert rec.status == "paused"
    assert [a["status"] for a in rec.main.attempts["calc"]] == ["paused"]
    rec = await resume_workflow(wf, rec)
    assert rec.status == "completed", rec.main.error
    assert rec.main.outputs["calc"] == {"runs": 2}
    assert count.read_text() == "2"


async def test_run_once_for_the_editors_test_button():
    from engine.nodes.code import run_once

    names = {"input": [1, 2], "vars": {}, "nodes": {}, "execution": {"id": "t"}, "loop": None}
    run = await run_once({"language": "python", "code": "print('n', len(input))\nreturn sum(input)"}, names)
    assert (run.value, run.error, run.logs) == (3, None, ["print: n 2"])
    with trust.granted(False):
        refused = await run_once({"language": "python", "code": "return 1"}, names)
    assert refused.error == "Python code runs outside the sandbox: trust the workflow first"
    js = await run_once({"code": "console.log('a');\nreturn input.x.y;"}, names)
    assert js.error == "line 2: TypeError: Cannot read properties of undefined (reading 'y')"
    assert (js.line, js.logs) == (2, ["console.log: a"])
    bad = await run_once({"code": "return 1;", "timeout_s": -1}, names)
    assert bad.error == "config.timeout_s: Input should be greater than 0"


async def test_a_process_left_running_does_not_hold_the_node(harness, tmp_path):
    pid_file = tmp_path / "pid"
    code = (
        "import subprocess, pathlib\n"
        "child = subprocess.Popen(['sleep', '600'])\n"
        f"pathlib.Path({str(pid_file)!r}).write_text(str(child.pid))\n"
        "print('started')\n"
        "return 'done'\n"
    )
    assert await py(harness, code, timeout_s=60) == "done"
    assert process_gone(int(pid_file.read_text()))


async def test_the_engines_secrets_stay_out_of_python(harness, monkeypatch):
    monkeypatch.setenv("PROCESSENGINE_CRED_DB", '{"kind": "sql", "url": "postgresql://u:pw@h/db"}')
    code = "import os\nreturn sorted(k for k in os.environ if k.startswith('PROCESSENGINE_CRED'))"
    assert await py(harness, code) == []


def test_the_frozen_bundle_runs_the_child_through_its_entry(monkeypatch):
    import json as _json
    import subprocess
    import sys

    from engine.nodes import py_runner

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert py_runner.child_command() == [sys.executable, "--code-node-child"]
    monkeypatch.delattr(sys, "frozen")
    root = Path(__file__).resolve().parents[3]
    request = {"code": "return sorted(input)", "names": {"input": [3, 1, 2]}, "timeout_s": 10, "memory_mb": 256}
    out = subprocess.run([sys.executable, str(root / "packaging" / "entry.py"), "--code-node-child"],
                         input=_json.dumps(request), capture_output=True, text=True, timeout=60,
                         cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    assert out.returncode == 0, out.stderr
    assert _json.loads(out.stdout) == {"ok": True, "value": [1, 2, 3]}
