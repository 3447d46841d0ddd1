"""Studio start: from launching `processengine studio` to its first painted window.

Run: QT_QPA_PLATFORM=offscreen python tests/perf/bench_studio_start.py [--repeats 7]
Each repeat is a fresh process (bytecode cached, as in an installed package) that runs
the launcher's `studio` command with the hello example and `--screenshot`; the child
notes the wall clock when `app.main.show_first` has painted the window, and the parent
subtracts the moment it started the process. Beside it: a bare Python that imports
asyncio, sqlite3 and json, and one that imports PySide6's QtWidgets and creates a
QApplication (the floor of any Qt window). Prints markdown; nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HELLO = ROOT / "app" / "resources" / "examples" / "hello.pe.json"

CHILD = """
import sys, time
import app.main as m
shown = m.show_first
def show_first(app, window):
    shown(app, window)
    sys.stderr.write(f"\\nSHOWN {time.time()!r}\\n")
    sys.stderr.flush()
m.show_first = show_first
from app.launcher import main
sys.exit(main(sys.argv[1:]))
"""

QT_FLOOR = "from PySide6.QtWidgets import QApplication, QWidget; a = QApplication([]); w = QWidget(); w.show(); a.processEvents()"


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(
        PYTHONPYCACHEPREFIX=str(tmp / "pycache"),
        QT_QPA_PLATFORM=env.get("QT_QPA_PLATFORM", "offscreen"),
        PROCESSENGINE_DATA_DIR=str(tmp / "data"),
        PROCESSENGINE_LOG_DIR=str(tmp / "logs"),
        XDG_CONFIG_HOME=str(tmp / "config"),
        PYTHONPATH=str(ROOT),
    )
    return env


def to_window(tmp: Path, env: dict[str, str]) -> tuple[float, float]:
    """(seconds to the painted window, seconds to the process's end) of one studio start."""
    start = time.time()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, "studio", str(HELLO), "--screenshot", str(tmp / "shot.png"), "--db", str(tmp / "s.db")],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )
    end = time.time()
    if out.returncode != 0 or "SHOWN " not in out.stderr:
        raise RuntimeError(out.stderr[-2000:])
    shown = float(out.stderr.rsplit("SHOWN ", 1)[1].split()[0])
    return shown - start, end - start


def wall(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, env=env, timeout=120)
    return time.perf_counter() - t


def _fmt(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"{statistics.median(ms):.0f} ({min(ms):.0f}-{max(ms):.0f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        env = _env(tmp)
        to_window(tmp, env)  # fills the bytecode cache and creates the database
        shown, ended, bare, qt = [], [], [], []
        for _ in range(args.repeats):
            s, e = to_window(tmp, env)
            shown.append(s)
            ended.append(e)
            bare.append(wall([sys.executable, "-c", "import asyncio, sqlite3, json"], env))
            qt.append(wall([sys.executable, "-c", QT_FLOOR], env))
    print(f"\n{args.repeats} starts; median (range), ms\n")
    print("| measure | ms |")
    print("| --- | ---: |")
    print(f"| studio to a painted window (hello.pe.json) | {_fmt(shown)} |")
    print(f"| studio with the file loaded, screenshot taken, exited | {_fmt(ended)} |")
    print(f"| floor: Python importing QtWidgets, showing an empty QWidget | {_fmt(qt)} |")
    print(f"| floor: bare Python importing asyncio, sqlite3, json | {_fmt(bare)} |")


if __name__ == "__main__":
    main()
