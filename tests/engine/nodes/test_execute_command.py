"""execute_command: real programs, exact outputs, exit codes, limits, and the trust gate."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest

from engine import trust
from engine.errors import NodeError
from engine.model import Node
from engine.nodes import registry
from engine.nodes.base import Interrupted
from engine.nodes.registry import validate_node_config
from tests.engine.nodes.helpers import NodeHarness
from tests.engine.nodes.test_code_python import process_gone, wait_for_file


@pytest.fixture(autouse=True)
def trusted():  # type: ignore[no-untyped-def]
    with trust.granted():
        yield


async def cmd(harness: NodeHarness, **config: Any) -> Any:
    return (await harness.run("execute_command", config, None, name="Build")).outputs["out"]


async def test_stdin_env_and_cwd(harness, tmp_path):
    (tmp_path / "data.csv").write_text("id,total\n1,10\n2,32\n")
    script = (
        "import os, sys\n"
        "rows = open('data.csv').read().splitlines()[1:]\n"
        "total = sum(int(r.split(',')[1]) for r in rows)\n"
        "print(f\"{os.environ['REGION']}:{total}:{sys.stdin.read().strip()}\")\n"
        "print('warn', file=sys.stderr)\n"
    )
    out = await cmd(harness, command=[sys.executable, "-c", script], cwd=str(tmp_path),
                    env={"REGION": "eu"}, stdin="hello")
    assert out == {"exit_code": 0, "stdout": "eu:42:hello\n", "stderr": "warn\n"}


async def test_non_zero_exit_fails_with_stderr(harness):
    with pytest.raises(NodeError) as err:
        await cmd(harness, command=["sh", "-c", "echo 'disk full' >&2; exit 7"])
    assert str(err.value) == "sh exited with code 7: disk full"


async def test_allow_failure_outputs_the_code(harness):
    out = await cmd(harness, command=["sh", "-c", "printf out; exit 3"], allow_failure=True)
    assert out == {"exit_code": 3, "stdout": "out", "stderr": ""}


async def test_missing_program_and_directory(harness, tmp_path):
    with pytest.raises(NodeError) as err:
        await cmd(harness, command=["no-such-program-xyz"])
    assert str(err.value).startswith("cannot run 'no-such-program-xyz': program not found")
    with pytest.raises(NodeError) as err:
        await cmd(harness, command=["ls"], cwd=str(tmp_path / "missing"))
    assert str(err.value).startswith("cannot run 'ls': working directory not found")


async def test_timeout_kills_the_program_and_its_children(harness, tmp_path):
    pids = tmp_path / "pids"
    script = f"sleep 600 & echo \"$$ $!\" > {pids}; wait"
    with pytest.raises(NodeError) as err:
        await cmd(harness, command=["sh", "-c", script], timeout_s=1)
    assert str(err.value) == "sh ran longer than 1 s and was killed"
    assert err.value.retryable
    shell, sleeper = map(int, wait_for_file(pids).split())
    assert process_gone(shell) and process_gone(sleeper)


async def test_pause_kills_the_program(harness, tmp_path):
    pids = tmp_path / "pids"
    node = harness.node("execute_command", {"command": ["sh", "-c", f"echo $$ > {pids}; sleep 600"]})
    task = asyncio.ensure_future(registry.get_spec("execute_command").run(harness.context(node), None))
    pid = int(await asyncio.to_thread(wait_for_file, pids))
    harness.control.pause()
    with pytest.raises(Interrupted):
        await task
    assert process_gone(pid)


async def test_untrusted_is_refused_and_nothing_runs(harness, tmp_path):
    marker = tmp_path / "marker"
    with trust.granted(False), pytest.raises(NodeError) as err:
        await cmd(harness, command=["touch", str(marker)])
    assert "node 'Build' runs a command on this machine outside a sandbox" in str(err.value)
    assert not marker.exists()


def test_an_empty_command_is_a_config_error():
    node = Node(id="b", type="execute_command", name="Build", config={"command": []})
    problems = validate_node_config(node, file="wf.pe.json")
    assert [(p.node_id, p.field) for p in problems] == [("b", "config.command")]
    assert "non-empty list" in problems[0].message


def test_side_effects():
    spec = registry.get_spec("execute_command")
    code = registry.get_spec("code")
    assert spec.has_side_effects(Node(id="b", type="execute_command", name="b", config={}))
    assert code.has_side_effects(Node(id="c", type="code", name="c", config={"language": "python"}))
    assert not code.has_side_effects(Node(id="c", type="code", name="c", config={}))


async def test_a_background_process_does_not_hold_the_node(harness, tmp_path):
    pid_file = tmp_path / "pid"
    out = await cmd(harness, command=["sh", "-c", f"sleep 600 & echo $! > {pid_file}; echo started"], timeout_s=60)
    assert out == {"exit_code": 0, "stdout": "started\n", "stderr": ""}
    assert process_gone(int(pid_file.read_text()))


async def test_the_engines_secrets_stay_out_of_the_program(harness, monkeypatch):
    monkeypatch.setenv("PROCESSENGINE_CRED_API", '{"kind": "bearer", "token": "s3cret-token"}')
    monkeypatch.setenv("PROCESSENGINE_API_TOKEN", "s3cret-api")
    monkeypatch.setenv("HARMLESS", "visible")
    out = await cmd(harness, command=["env"], env={"GIVEN": "1"})
    assert "s3cret" not in out["stdout"]
    assert "HARMLESS=visible\n" in out["stdout"] and "GIVEN=1\n" in out["stdout"]
