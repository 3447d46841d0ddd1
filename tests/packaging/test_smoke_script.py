"""packaging/smoke.sh itself, on a stand-in package whose executable runs this source tree.

The stand-in has the layout the script checks (empty icons and desktop files) and its
`processengine` execs this interpreter on `app.launcher`, so the script's logic runs as
in CI without a frozen build. What this pins: the script passes, and every process it
started (the HTTP server, `serve`, `serve --api`) is gone when it exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYOUT = [
    "usr/share/applications/processengine.desktop",
    "usr/share/mime/packages/processengine.xml",
    "usr/share/icons/hicolor/scalable/apps/processengine.svg",
    "usr/share/icons/hicolor/48x48/apps/processengine.png",
    "usr/share/icons/hicolor/256x256/apps/processengine.png",
    "usr/share/doc/processengine/copyright",
]


def stand_in_package(tmp: Path) -> Path:
    root = tmp / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        "Package: processengine\nVersion: 0.0\nArchitecture: amd64\nMaintainer: test <test@example.invalid>\nDescription: stand-in\n"
    )
    internal = root / "opt/processengine/_internal/app/resources"
    internal.mkdir(parents=True)
    subprocess.run(["cp", "-r", str(ROOT / "app/resources/examples"), str(internal)], check=True)
    exe = root / "opt/processengine/processengine"
    exe.write_text(f'#!/bin/sh\nPYTHONPATH={ROOT} exec {sys.executable} -m app.launcher "$@"\n')
    exe.chmod(0o755)
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/processengine").symlink_to("../../opt/processengine/processengine")
    for f in LAYOUT:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).touch()
    deb = tmp / "processengine_0.0_amd64.deb"
    subprocess.run(["dpkg-deb", "-b", "--root-owner-group", str(root), str(deb)], check=True, capture_output=True)
    return deb


def processes_mentioning(text: str) -> list[int]:
    """Our processes whose command line or environment holds `text` (a path only the script's run uses)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            seen = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        except OSError:
            continue
        if text.encode() in seen:
            found.append(int(proc.name))
    return found


# about ten interpreter starts (each example's run, serve, studio): 12 s on an idle machine,
# many times that on a loaded one; the bounds only stop a hang
@pytest.mark.timeout(600)
def test_smoke_script_passes_and_leaves_no_process_behind(tmp_path: Path) -> None:
    deb = stand_in_package(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PROCESSENGINE_TEST_PG_URL"}
    env.update(TMPDIR=str(work), SMOKE_X11="0")
    out = subprocess.run(["bash", str(ROOT / "packaging/smoke.sh"), str(deb)], env=env, capture_output=True, text=True, timeout=540)
    left = processes_mentioning(str(work))
    for pid in left:  # stop what the script left, so a failure here does not outlive the test
        os.kill(pid, signal.SIGKILL)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "smoke: all checks passed" in out.stdout
    assert left == [], f"still running after the script ended: {left}"
    assert list(work.iterdir()) == []  # its temporary directory is removed too
