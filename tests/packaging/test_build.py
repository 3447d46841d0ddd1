"""packaging/build.py: metadata, sources, Debian version and dependency rules (not the full build,
which CI runs with packaging/smoke.sh)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import build

ROOT = Path(__file__).resolve().parents[2]


def pyproject_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def test_engine_reports_the_pyproject_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "engine.cli", "--version"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"processengine {pyproject_version()}"


@pytest.mark.parametrize(
    ("pep440", "debian"),
    [("0.1.0", "0.1.0"), ("1.2.0rc1", "1.2.0~rc1"), ("1.2.0b2", "1.2.0~b2"), ("2.0.0.dev3", "2.0.0~dev3")],
)
def test_debian_version(pep440: str, debian: str) -> None:
    assert build.debian_version(pep440) == debian


def test_pre_releases_sort_before_the_release_for_dpkg() -> None:
    pre, final = build.debian_version("1.0.0rc1"), build.debian_version("1.0.0")
    assert subprocess.run(["dpkg", "--compare-versions", pre, "lt", final]).returncode == 0
    assert subprocess.run(["dpkg", "--compare-versions", build.debian_version(pyproject_version()), "gt", "0"]).returncode == 0


def test_source_tree_has_everything_the_bundle_must_carry() -> None:
    build.check_sources()  # raises BuildError naming what is missing
    migrations = ROOT / "engine" / "store" / "migrations"
    assert list((migrations / "versions").glob("*.py")), "no Alembic revision to bundle"
    assert (migrations / "script.py.mako").is_file()


def test_missing_tools_and_sources_fail_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "APP_ICON", tmp_path / "nope.svg")
    with pytest.raises(build.BuildError, match=r"nope\.svg"):
        build.check_sources()
    bin_dir = tmp_path / "bin"  # ldd only (PyInstaller needs it): no dpkg-deb, no strip
    bin_dir.mkdir()
    (bin_dir / "ldd").symlink_to(shutil.which("ldd"))
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(build.BuildError, match="dpkg-deb not found"):
        build.check_tools()


def test_build_tools_are_checked_before_pyinstaller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With dpkg-deb and strip present but not desktop-file-validate, the build names the
    missing tool (and its package) whether or not PyInstaller is installed: the build,
    not the test suite, validates the desktop entry."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ldd").symlink_to(shutil.which("ldd"))
    for tool in ("dpkg-deb", "strip"):  # check_tools only asks whether they are on PATH
        (bin_dir / tool).symlink_to(shutil.which("true"))
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(build.BuildError, match=r"desktop-file-validate not found.*desktop-file-utils"):
        build.check_tools()


def test_failed_command_raises_with_its_exit_code() -> None:
    with pytest.raises(build.BuildError, match="exit code 3"):
        build.run([sys.executable, "-c", "raise SystemExit(3)"])


def _extension(name: str) -> Path:
    # where the interpreter really loads it from (a venv's platstdlib has no lib-dynload)
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin and spec.origin.endswith(".so"), f"no {name} extension in this Python"
    return Path(spec.origin)


def test_dependencies_name_debian_packages_for_system_libraries(tmp_path: Path) -> None:
    """A real C extension linked to libsqlite3: bundled library -> only libc6 is needed."""
    ext = _extension("_sqlite3")
    sqlite_lib = next(
        (Path(p) for p in ("/usr/lib/x86_64-linux-gnu/libsqlite3.so.0", "/lib/x86_64-linux-gnu/libsqlite3.so.0") if Path(p).exists()),
        None,
    )
    assert sqlite_lib is not None, "libsqlite3.so.0 not found on this machine"
    shutil.copy(ext, tmp_path / ext.name)
    shutil.copy(sqlite_lib, tmp_path / "libsqlite3.so.0")
    depends, recommends = build.dependencies(tmp_path)
    assert depends[0].startswith("libc6 (>= 2.")
    assert recommends == []


def test_unknown_system_library_stops_the_build(tmp_path: Path) -> None:
    ext = _extension("_sqlite3")
    shutil.copy(ext, tmp_path / ext.name)  # libsqlite3 not carried and not in SYSTEM_LIBS
    with pytest.raises(build.BuildError, match=r"libsqlite3\.so\.0 \(needed by _sqlite3"):
        build.dependencies(tmp_path)


def test_every_mapped_library_names_a_plausible_debian_package() -> None:
    for lib, package in {**build.SYSTEM_LIBS, **build.OPTIONAL_LIBS}.items():
        assert lib.startswith(("lib", "ld-linux")) and ".so" in lib
        assert package.islower() and " " not in package
