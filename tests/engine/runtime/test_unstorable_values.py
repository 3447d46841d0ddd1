"""A value that cannot be written as strict JSON never reaches the store: the node that
produced it fails with a clear error and the run ends `failed` (never left `interrupted`)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine import fileformat
from engine.errors import StoreError
from engine.nodes import registry
from engine.nodes.base import NodeContext, NodeResult
from engine.nodes.set_node import SetSpec
from engine.service import ExecutionService
from tests.engine.runtime.helpers import workflow
from tests.engine.store.fixtures import Db, db_fixture, svc_fixture  # noqa: F401 - fixtures
from tests.memory import PEAK_KB, RESET

ROOT = Path(__file__).resolve().parents[3]


def _strict(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} in --json output")

    return json.loads(text, parse_constant=refuse)


class _OddSpec(SetSpec):
    """A node whose output is whatever its `values.v` is, unchecked (as a code node's may be)."""

    type = "test_odd_output"

    async def run(self, ctx: NodeContext, value: Any) -> NodeResult:
        return NodeResult.out({"v": ODD[ctx.config.values["v"]]})


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


ODD = {"nan": math.nan, "inf": math.inf, "digits": 10**5000, "deep": _nested(5000)}


@pytest.fixture
def odd_node() -> Any:
    spec = registry.register(_OddSpec())
    yield spec
    registry._REGISTRY.pop(spec.type, None)


@pytest.mark.parametrize("kind", list(ODD))
async def test_an_unstorable_output_fails_its_node(svc: ExecutionService, odd_node: Any, kind: str) -> None:
    wf = workflow(
        [{"id": "start", "type": "manual_trigger"}, {"id": "odd", "type": "test_odd_output", "config": {"values": {"v": kind}}}],
        [("start", "out", "odd")],
    )
    rec = await svc.run(wf)
    assert rec.status == "failed"
    assert rec.error["node_id"] == "odd" and "output cannot be stored" in rec.error["message"]
    assert "odd" not in rec.main.outputs
    assert svc.status(rec.execution_id)["status"] == "failed"  # the store took the failure


@pytest.mark.parametrize("payload", [math.nan, -math.inf, {"n": 10**5000}])
async def test_an_unstorable_input_is_refused_before_the_run(svc: ExecutionService, payload: Any) -> None:
    wf = workflow([{"id": "hook", "type": "webhook_trigger", "config": {"path": "x"}}], [])
    with pytest.raises(StoreError, match="the run's input cannot be stored"):
        await svc.run(wf, {"headers": {}, "query": {}, "body": payload}, trigger="hook")


BOMBS = [
    # refused as too large, or (on a slow or busy machine) for its time first: both are clean
    ("[s for s in ['a'*999999] for c in 'x'*99999]", ("the result would be too large", "took longer than")),
    ("int('f'*999999, 16)", "too long to be an integer"),
    ("float('nan')", "not a JSON number"),
    ("1e308 * 10", "not a JSON number"),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("expr", "why"), BOMBS, ids=[b[0][:30] for b in BOMBS])
def test_run_json_with_a_bomb_fails_cleanly(tmp_path: Path, expr: str, why: str | tuple[str, ...]) -> None:
    """Through the real CLI: exit 1, strict JSON on stdout naming node and field, status failed."""
    wf = workflow(
        [{"id": "start", "type": "manual_trigger"}, {"id": "bomb", "type": "set", "config": {"values": {"v": "{{ " + expr + " }}"}}}],
        [("start", "out", "bomb")],
    )
    path = tmp_path / "bomb.pe.json"
    fileformat.save(wf, path)
    env = {**os.environ, "PROCESSENGINE_DB": str(tmp_path / "pe.db")}
    run = [sys.executable, "-c", _MEASURED_CLI, "run", str(path), "--json"]
    out = subprocess.run(run, capture_output=True, text=True, env=env, cwd=ROOT, timeout=110, check=False)
    assert out.returncode == 1, out.stderr[-2000:]
    data = _strict(out.stdout.split("\n@@rss ")[0])
    assert data["status"] == "failed" and data["error"]["node_id"] == "bomb"
    reasons = (why,) if isinstance(why, str) else why
    assert any(r in data["error"]["message"] for r in reasons) and "values.v" in data["error"]["message"]
    assert int(out.stdout.rsplit("@@rss ", 1)[1]) < 300 * 1024  # KiB: the process stayed under 300 MB
    status = subprocess.run([sys.executable, "-m", "engine.cli", "status", data["execution_id"], "--json"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False)
    assert _strict(status.stdout)["status"] == "failed"


# the CLI in-process, then its own peak memory (tests/memory.py: not the parent's)
_MEASURED_CLI = f"""
import sys
{RESET}
from engine.cli import main
sys.argv[0] = "processengine"
try:
    code = main(sys.argv[1:])
finally:
    sys.stdout.write("\\n@@rss %d" % {PEAK_KB})
sys.exit(code)
"""
