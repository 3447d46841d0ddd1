"""The README's set-up commands work as written on a fresh Debian/Ubuntu machine, and CI
runs exactly its test command, as a new user has the clone (before any build)."""

from __future__ import annotations

import re
import shlex
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI_RUN = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
QT_LIBRARIES = ["libgl1", "libegl1", "libx11-6", "libdbus-1-3", "libfontconfig1", "libfreetype6", "libglib2.0-0", "libxkbcommon0", "fonts-dejavu-core"]


def _set_up_section() -> str:
    return README.split("## Set up on a fresh machine", 1)[1].split("\n## ", 1)[0]


def _bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def _commands() -> tuple[list[str], str, str]:
    apt, install, test = _bash_blocks(_set_up_section())
    return shlex.split(apt), install, test


def _ci_lines() -> list[str]:
    """.ci/run's command lines, continuation lines joined."""
    return [line.strip() for line in CI_RUN.replace("\\\n", " ").splitlines() if line.strip() and not line.strip().startswith("#")]


def test_each_set_up_command_is_one_line_in_its_own_virtual_environment() -> None:
    _, install, test = _commands()
    for command in (install, test):
        assert "\n" not in command
        steps = [s.strip() for s in command.split("&&")]
        assert steps[0] == "python3 -m venv .venv", command  # PEP 668: never the system Python
        assert all(s.split()[0].startswith(".venv/bin/") for s in steps[1:]), command
    assert "processengine run " in install and " --json" in install and "processengine studio " in install
    for path in re.findall(r"\S+\.pe\.json", install):
        assert (ROOT / path).is_file(), path


def test_system_packages_cover_qt_and_the_virtual_environment() -> None:
    apt, _, _ = _commands()
    assert apt[:3] == ["sudo", "apt-get", "install"]
    assert set(QT_LIBRARIES) | {"python3-venv"} <= set(apt[3:])


def test_ci_runs_exactly_the_readme_test_command_before_any_build() -> None:
    apt, _, test = _commands()
    lines = _ci_lines()
    assert test in lines, f"{test!r} is not a line of .ci/run"
    at = lines.index(test)
    build = next(i for i, line in enumerate(lines) if "packaging/build.py" in line)
    assert at < build  # the clone as a new user has it: no build/, dist/ or PyInstaller yet
    first_install = next(line for line in lines if "install -y --no-install-recommends" in line)
    packages = set(first_install.split("--no-install-recommends", 1)[1].split())
    assert set(apt[3:]) <= packages, "the README's packages are what CI installs before the tests"
    for line in lines[:at]:
        assert "pyinstaller" not in line.lower() and "desktop-file-utils" not in line, f"before the tests: {line}"


def test_ci_waits_for_the_package_lock_and_stops_its_postgresql() -> None:
    assert "DPkg::Lock::Timeout=" in CI_RUN
    assert re.search(r"^trap \S+ EXIT$", CI_RUN, flags=re.M)
    assert "--stop" in CI_RUN
    assert subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")]).returncode == 0


def test_license_file_matches_pyproject() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert meta["license"] == {"text": "MIT"}
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "ProcessEngine Studio contributors" in text


def test_readme_images_exist() -> None:
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README):
        assert (ROOT / image).is_file(), image
