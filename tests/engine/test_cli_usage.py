"""The command line as a new user meets it, through a real subprocess of the
`processengine` script's entry point (`app.launcher`): usage errors are exit 64 and
never the desktop app, bad values are one line and never a traceback, stdout is strict
JSON with --json and a readable result without, and progress is drawn only on a terminal."""

from __future__ import annotations

import argparse
import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.cli import build_parser
from engine.cli_report import INDENT_UP_TO, dumps_strict, json_text
from tests.engine.runtime.helpers import workflow
from tests.engine.test_cli import (
    EXAMPLES,
    ROOT,
    _slow_workflow,
    pe,
    save,
    start_pe,
    wait_for_running,
)
from tests.servers import Reply

HELLO = str(EXAMPLES / "hello.pe.json")


def _headless_env(db: Path) -> dict[str, str]:
    """No display and no Qt platform: opening the app here would abort inside Qt."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return {**env, "PROCESSENGINE_DB": str(db)}


def launcher(*args: str, db: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.launcher", *args], capture_output=True, text=True, timeout=timeout,
        env=_headless_env(db), cwd=ROOT,
    )


def _strict(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in stdout: not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "pe.db"


@pytest.mark.parametrize(
    "argv", [["lst"], ["help"], ["--db", "x.db", "list"], ["--workspace=w", "list"], [HELLO], ["run.pe.json"]]
)
def test_unknown_first_argument_is_usage_not_the_app(argv: list[str], db: Path) -> None:
    out = launcher(*argv, db=db)
    assert out.returncode == 64, out.stderr[-2000:]
    assert out.stderr.startswith("usage: processengine") and "Traceback" not in out.stderr
    assert "qt." not in out.stderr.lower()  # Qt was never started


def test_options_before_the_command_get_a_hint(db: Path) -> None:
    out = launcher("--db", "x.db", "list", db=db)
    assert "--db goes after the command: processengine list --db x.db" in out.stderr


def test_a_file_as_first_argument_gets_the_commands_that_take_it(db: Path) -> None:
    out = launcher(HELLO, db=db)
    assert out.returncode == 64
    assert f"to open it in the app: processengine studio {HELLO}; to run it: processengine run {HELLO}" in out.stderr


@pytest.mark.parametrize("argv", [["studio", HELLO], []])
def test_studio_without_a_display_says_so_in_one_line(argv: list[str], db: Path) -> None:
    out = launcher(*argv, db=db)  # bare `processengine` opens the app too
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and "no display" in out.stderr


def test_studio_with_a_display_nobody_serves_says_so_in_one_line(db: Path) -> None:
    env = {**_headless_env(db), "DISPLAY": ":987"}
    out = subprocess.run([sys.executable, "-m", "app.launcher", "studio"], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert out.returncode == 1
    assert out.stderr == "processengine studio: no X server answers on DISPLAY=:987; headless, use `processengine run FILE`, or `studio FILE --screenshot PNG`\n"


def test_studio_screenshot_needs_no_display(db: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    out = launcher("studio", HELLO, "--screenshot", str(shot), db=db, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert shot.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["list", "--since", "yesterday"], "argument --since: expected an ISO 8601 date or time"),
        (["list", "--limit", "0"], "argument --limit: expected a number from 1 to"),
        (["list", "--limit", "99999999999999999999"], "argument --limit: expected a number from 1 to"),
        (["prune", "--older-than", "nan"], "argument --older-than: expected a number of days"),
        (["serve", HELLO, "--port", "70000"], "argument --port: a TCP port is 0-65535"),
        (["run", HELLO, "--input", "@missing.json"], "argument --input: no such file: 'missing.json'"),
        (["run", HELLO, "--input", "{\"n\": NaN}"], "argument --input: NaN is not a JSON number"),
        (["run", HELLO, "--input", "[1,"], "argument --input: the value is not valid JSON"),
        (["run", HELLO, "--var", "n=Infinity"], "argument --var: n: Infinity is not a JSON number"),
        (["run", HELLO, "--var", "n"], "argument --var: expected KEY=VALUE"),
        (["run", HELLO, "--trigger", "nope"], "--trigger nope: the workflow has no trigger node with that id; its triggers: start (manual_trigger)"),
    ],
)
def test_bad_values_are_one_line_usage_errors(argv: list[str], message: str, db: Path) -> None:
    out = launcher(*argv, db=db)
    assert out.returncode == 64, out.stderr[-2000:]
    assert message in out.stderr and "Traceback" not in out.stderr
    assert out.stdout == ""


def test_input_file_with_nan_names_the_file(db: Path, tmp_path: Path) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text('{"n": NaN}')
    out = launcher("run", HELLO, "--input", f"@{payload}", db=db)
    assert out.returncode == 64 and f"file {str(payload)!r}: NaN is not a JSON number" in out.stderr


def test_since_takes_dates_and_ages(db: Path) -> None:
    assert pe("run", HELLO, db=db).returncode == 0
    for since, count in (("2000-01-01", 1), ("1h", 1), ("2999-01-01T00:00+00:00", 0)):
        out = pe("list", "--since", since, "--json", db=db)
        assert out.returncode == 0, out.stderr
        assert len(json.loads(out.stdout)) == count, since


def test_list_into_a_closed_pipe_ends_quietly(db: Path) -> None:
    assert pe("run", HELLO, db=db).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PROCESSENGINE_DB": str(db)}, cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before anything is written (`| head -0`)
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == 141
    assert stderr == ""


def test_json_printer_never_prints_nan() -> None:
    text, bad = dumps_strict({"a": [1.5, float("nan")], "b": {"c": float("-inf")}, "d": "NaN"})
    assert _strict(text) == {"a": [1.5, None], "b": {"c": None}, "d": "NaN"}
    assert bad == ["a[1]", "b.c"]


def test_json_output_is_indented_when_small_and_compact_when_large() -> None:
    small = {"status": "completed", "outputs": {"s": {"x": 1, "bad": float("nan")}}}
    text, bad = json_text(small)
    assert text.startswith('{\n  "status"') and json.loads(text) == {"status": "completed", "outputs": {"s": {"x": 1, "bad": None}}}
    assert bad == ["outputs.s.bad"]
    large = {"outputs": {f"n{i}": {"i": i, "k": "v" * 20} for i in range(INDENT_UP_TO // 20)}}
    text, bad = json_text(large)
    assert "\n" not in text and json.loads(text) == large and bad == []


def test_run_json_stdout_is_strict_json_whatever_a_node_computes(db: Path, tmp_path: Path) -> None:
    wf = workflow(
        [{"id": "start", "type": "manual_trigger"}, {"id": "s", "type": "set", "config": {"values": {"big": "{{ 1e308 * 10 }}"}}}],
        [("start", "out", "s")],
    )
    out = pe("run", str(save(tmp_path, wf)), "--json", db=db)
    data = _strict(out.stdout)  # whether the sandbox refuses the value or the printer nulls it
    assert data["status"] in ("completed", "failed")
    if data["status"] == "completed":
        assert data["outputs"]["s"] == {"big": None} and "printed as null at outputs.s.big" in out.stderr


def test_plain_run_prints_a_readable_result_and_nothing_on_stderr(db: Path) -> None:
    out = pe("run", HELLO, "--var", "who=tests", db=db)
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines[0].startswith("completed Hello")
    assert lines[1] == "  2 completed, 0 failed, 0 skipped of 2 (100%)"
    assert any("output of 'greet'" in line and '"Hello, tests!"' in line for line in lines)
    assert lines[-1].startswith("  execution ")
    assert out.stderr == ""  # not a terminal: no progress drawn


def test_plain_run_names_the_failed_node_and_its_error(db: Path, tmp_path: Path, http_server: Any) -> None:
    http_server.route("/boom", Reply(500, json={"err": True}))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "name": "Fetch", "config": {"method": "GET", "url": http_server.url_for("/boom")},
             "retry": {"max_attempts": 2, "initial_delay_s": 0.01}},
        ],
        [("start", "out", "get")],
    )
    out = pe("run", str(save(tmp_path, wf)), db=db)
    assert out.returncode == 1
    failed = next(line for line in out.stdout.splitlines() if "failed at node" in line)
    assert "'get' (Fetch) (after 2 attempts): " in failed and "500" in failed


def test_progress_is_drawn_on_a_terminal(db: Path, tmp_path: Path) -> None:
    """stderr on a real pseudo-terminal: rich draws the progress line there."""
    path = _slow_workflow(tmp_path, seconds=1)
    master, slave = pty.openpty()
    env = {**os.environ, "PROCESSENGINE_DB": str(db), "TERM": "xterm-256color", "COLUMNS": "120"}
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "run", str(path)], stdout=subprocess.PIPE, stderr=slave, text=True, env=env, cwd=ROOT)
    os.close(slave)
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed: the process ended
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    stdout = proc.stdout.read() if proc.stdout else ""
    assert proc.wait(timeout=60) == 0
    text = drawn.decode("utf-8", "replace")
    assert "running" in text and "/4" in text, text[-2000:]
    assert stdout.startswith("completed")  # the result itself stays on stdout


def test_pause_and_cancel_print_json(db: Path, tmp_path: Path) -> None:
    proc = start_pe("run", str(_slow_workflow(tmp_path, seconds=600)), db=db)
    exec_id = wait_for_running(db, proc)
    paused = pe("pause", exec_id, "--json", db=db)
    assert paused.returncode == 0, paused.stderr
    assert _strict(paused.stdout)["execution_id"] == exec_id
    proc.communicate(timeout=60)
    cancelled = pe("cancel", exec_id, "--json", db=db)
    assert cancelled.returncode == 0, cancelled.stderr
    assert _strict(cancelled.stdout) == {"execution_id": exec_id, "status": "cancelled"}


def _undocumented(parser: Any, prefix: str = "") -> list[str]:
    """Arguments without help, through nested command groups too."""
    missing = []
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sub in a.choices.items():
                missing += _undocumented(sub, f"{prefix}{name} ")
        elif not a.help and a.dest != "help" and prefix:
            missing.append(f"{prefix}{a.dest}")
    return missing


def test_help_describes_every_argument_and_lists_exit_codes() -> None:
    assert _undocumented(build_parser()) == []
    out = subprocess.run([sys.executable, "-m", "engine.cli", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0
    for code in ("0 ", "1 ", "2 ", "3 ", "4 ", "64 "):
        assert f"\n  {code}" in out.stdout, code
    serve = subprocess.run([sys.executable, "-m", "engine.cli", "serve", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "(default: 8080)" in " ".join(serve.stdout.split())


def test_the_engine_names_an_unknown_start_node_and_the_triggers() -> None:
    """Callers other than the CLI (the service, the app) get the same message."""
    from engine.errors import EngineError
    from engine.runtime.orchestrator import new_record

    wf = workflow([{"id": "start", "type": "manual_trigger"}, {"id": "s", "type": "set", "config": {"values": {}}}], [("start", "out", "s")])
    with pytest.raises(EngineError, match=r"no node 'nope' to start from; its triggers: start"):
        new_record(wf, execution_id="x", trigger="nope")
