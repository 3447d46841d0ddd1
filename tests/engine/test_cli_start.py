"""What `processengine run` imports: only what the run uses (start-up time is mostly imports)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import RUN_COMMANDS, build_parser
from tests.engine.test_cli import EXAMPLES, ROOT, pe

# Libraries a durable run of a plain workflow never needs: metrics (serve/worker only),
# SQLAlchemy and migrations (an up-to-date SQLite file is used through sqlite3), HTTP,
# the terminal UI (stderr is not a terminal here), graph algorithms (no loop, no
# cycle), the queue.
NOT_NEEDED = ("sqlalchemy", "prometheus_client", "alembic", "httpx", "rich", "networkx", "aiohttp", "procrastinate")

_CHILD = """
import json, sys
from engine import cli
code = cli.main(["run", sys.argv[1], "--db", sys.argv[2], "--json"])
heavy = json.loads(sys.argv[3])
sys.stderr.write("\\nIMPORTED " + json.dumps([m for m in heavy if m in sys.modules]) + "\\n")
sys.exit(code)
"""


def test_a_plain_run_on_an_up_to_date_database_imports_none_of_the_optional_libraries(tmp_path: Path) -> None:
    db = tmp_path / "pe.db"
    pe("run", str(EXAMPLES / "hello.pe.json"), db=db, check=True)  # creates and migrates the database
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(EXAMPLES / "hello.pe.json"), str(db), json.dumps(NOT_NEEDED)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)["status"] == "completed"
    imported = json.loads(out.stderr.rsplit("IMPORTED ", 1)[1])
    assert imported == []


def test_version_is_read_only_when_asked_for() -> None:
    out = subprocess.run([sys.executable, "-m", "engine.cli", "--version"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("processengine ") and out.stdout.strip().split()[-1][0].isdigit()


def test_a_run_imports_none_of_the_other_commands_modules(tmp_path: Path) -> None:
    """`run` builds only the run commands' parsers (`build_parser(run_commands_only=True)`)."""
    from engine.cli import EXTENSIONS

    db = tmp_path / "pe.db"
    pe("run", str(EXAMPLES / "hello.pe.json"), db=db, check=True)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(EXAMPLES / "hello.pe.json"), str(db), json.dumps(EXTENSIONS)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stderr.rsplit("IMPORTED ", 1)[1]) == []


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


_GOOD = {
    "run": ["run", "f.pe.json", "--json", "--var", "k=1", "--break", "n:input.x > 1", "--trust", "--input", "{}"],
    "resume": ["resume", "some-id", "--set-input", "{}", "--to", "n", "--json"],
    "validate": ["validate", "f.pe.json", "--json", "--db", "x.db"],
}


@pytest.mark.parametrize("command", RUN_COMMANDS)
def test_the_short_parser_parses_helps_and_errs_as_the_whole_one(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    whole, short = build_parser(), build_parser(run_commands_only=True)
    assert short.format_usage() == whole.format_usage()
    assert _subparser(short, command).format_help() == _subparser(whole, command).format_help()
    assert vars(short.parse_args(_GOOD[command])) == vars(whole.parse_args(_GOOD[command]))
    for bad in ([command], [command, "x", "--bogus"], [command, "x", "--log-level", "LOUD"]):
        said = []
        for parser in (whole, short):
            with pytest.raises(SystemExit) as exited:
                parser.parse_args(bad)
            said.append((exited.value.code, capsys.readouterr().err))
        assert said[0] == said[1] and said[0][0] == 64, bad
