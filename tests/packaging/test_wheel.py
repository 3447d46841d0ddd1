"""A plain `pip install .` (what pipx, a wheel or a git URL give) carries everything the
app loads: the wheel is built from a copy of the tracked tree, installed into a new
virtual environment, and the installed `processengine` runs an example headless and
opens the app on it offscreen, from a folder far from the checkout.

Speed: the project's dependencies are not installed again; a `.pth` file lets the new
environment see the ones this test runs with (after its own site-packages, so the
project itself can only come from the wheel), and `pip check` proves the wheel's
declared requirements are met there. The build itself needs only setuptools and wheel,
which pip takes from its cache after the first time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", "build", "dist", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}


def _copy_source(dest: Path) -> Path:
    """The tree as a clone has it (no build leftovers), so the build never writes into ROOT."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in SKIP_DIRS or n.endswith((".egg-info", ".pyc", ".db"))}

    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


def _build_wheel(tmp: Path) -> Path:
    src = _copy_source(tmp / "src")
    out = tmp / "wheelhouse"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = out.glob("processengine_studio-*.whl")
    return wheel


def _venv_with(wheel: Path, where: Path) -> Path:
    venv.create(where, with_pip=False)
    python = where / "bin" / "python"
    site = Path(subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "--ignore-installed", "--quiet", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return where


@pytest.fixture(name="installed", scope="module")
def installed_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    return _venv_with(_build_wheel(tmp), tmp / "venv")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PROCESSENGINE_", "XDG_"))}
    return {**env, "HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_STATE_HOME": str(home / "state"), "XDG_CACHE_HOME": str(home / "cache"), "QT_QPA_PLATFORM": "offscreen",
            "PROCESSENGINE_DB": str(home / "pe.db")}


def test_the_installed_wheel_runs_an_example_and_opens_the_app(installed: Path, tmp_path: Path) -> None:
    env, exe = _env(tmp_path), installed / "bin" / "processengine"
    python = installed / "bin" / "python"
    where = subprocess.run(
        [python, "-c", "import app, app.paths as p; print(app.__file__); print(p.EXAMPLES)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert where.returncode == 0, where.stderr
    package_file, examples = (Path(line) for line in where.stdout.split())
    assert package_file.is_relative_to(installed), f"app imported from {package_file}, not from the wheel"
    assert examples.is_relative_to(installed) and list(examples.glob("*.pe.json"))

    check = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "check"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr  # the wheel's requirements are all met

    example = examples / "fan_out_merge.pe.json"
    run = subprocess.run([exe, "run", str(example), "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["status"] == "completed"

    shot = tmp_path / "window.png"
    studio = subprocess.run(
        [exe, "studio", str(example), "--screenshot", str(shot)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
    )
    assert studio.returncode == 0, studio.stderr[-3000:]
    assert shot.stat().st_size > 10_000  # a real window picture, icons and all
    assert "Traceback" not in studio.stderr, studio.stderr[-3000:]
