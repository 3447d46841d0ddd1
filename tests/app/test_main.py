"""`processengine studio FILE --screenshot PNG` in a real process (as the CLI runs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

from tests.demo import example_path

ROOT = Path(__file__).resolve().parents[2]


def _studio(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PROCESSENGINE_DATA_DIR=str(tmp_path / "data"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), HOME=str(tmp_path))  # fmt: skip
    code = "import sys; from app.main import main; raise SystemExit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_screenshot_of_a_loaded_file(demo_file, tmp_path):
    png = tmp_path / "shots" / "editor.png"
    result = _studio([str(demo_file), "--screenshot", str(png)], tmp_path)
    assert result.returncode == 0, result.stderr
    image = QImage(str(png))
    assert not image.isNull() and image.width() >= 600 and image.height() >= 400
    # something was drawn: the picture is not one flat colour
    colors = {image.pixel(x, y) for x in range(0, image.width(), 37) for y in range(0, image.height(), 23)}
    assert len(colors) > 20


def test_screenshot_of_a_broken_file_fails_cleanly(tmp_path):
    bad = tmp_path / "bad.pe.json"
    bad.write_text(json.dumps({"format": "processengine/1", "id": "x", "nodes": [{"id": "a", "type": "set"}]}))
    png = tmp_path / "never.png"
    result = _studio([str(bad), "--screenshot", str(png), "--run"], tmp_path)
    assert result.returncode == 2
    assert "node 'a'" in result.stderr and "name" in result.stderr
    assert not png.exists()


def test_help_lists_the_options(tmp_path):
    result = _studio(["--help"], tmp_path)
    assert result.returncode == 0
    assert "--screenshot" in result.stdout and "--run" in result.stdout


def test_quitting_after_a_copy_exits_cleanly(tmp_path) -> None:
    """A copy still on the clipboard at exit used to segfault the process on the way out."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    script = f"""
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from app.main import release_clipboard_on_quit
from app.main_window import MainWindow
release_clipboard_on_quit(app)
w = MainWindow()
w.open_path({str(example_path("hello"))!r})
w.scene.select_nodes(["start"], [])
w.actions_by_name["copy"].trigger()
assert app.clipboard().mimeData().text()
w.document.undo_stack.setClean()
w.close()
QTimer.singleShot(50, app.quit)
app.exec()
"""
    env = {**__import__("os").environ, "PROCESSENGINE_DATA_DIR": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_bug_in_a_slot_is_logged_and_shown_and_the_app_goes_on(demo_file, tmp_path):
    """`studio` installs the error reporter: a slot that raises while the window is up is
    logged (stderr and the app log file) and shown in a dialog; the screenshot still happens."""
    png = tmp_path / "after-bug.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PROCESSENGINE_DATA_DIR=str(tmp_path / "data"),
               PROCESSENGINE_LOG_DIR=str(tmp_path / "logs"), XDG_CONFIG_HOME=str(tmp_path / "config"), HOME=str(tmp_path))  # fmt: skip
    code = (
        "import sys\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from app.main import main\n"
        "app = QApplication(sys.argv[:1])\n"
        "def bug():\n"
        "    raise RuntimeError('a bug in a slot')\n"
        "def check():\n"
        "    dialogs = [w for w in QApplication.topLevelWidgets() if w.objectName() == 'error_dialog' and w.isVisible()]\n"
        "    print('ERROR DIALOG SHOWN' if dialogs else 'NO ERROR DIALOG', flush=True)\n"
        "QTimer.singleShot(20, bug)\n"
        "QTimer.singleShot(150, check)\n"
        "raise SystemExit(main(sys.argv[1:]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(demo_file), "--screenshot", str(png)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert png.exists()
    assert "ERROR DIALOG SHOWN" in result.stdout
    assert "unexpected error: RuntimeError: a bug in a slot" in result.stderr
    assert "Traceback" in result.stderr
    logs = list((tmp_path / "logs").glob("*.log"))
    assert logs and "a bug in a slot" in logs[0].read_text(encoding="utf-8")


def test_the_processengine_launcher_opens_the_app(tmp_path) -> None:
    """`processengine studio FILE --screenshot` goes through app.launcher to the app."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    shot = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PROCESSENGINE_DATA_DIR": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "app.launcher", "studio", str(example_path("hello")), "--screenshot", str(shot), "--db", str(tmp_path / "t.db")],
        cwd=root, capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.stat().st_size > 10_000


def _studio_logged(code: str, args: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PROCESSENGINE_DATA_DIR=str(tmp_path / "data"),
               PROCESSENGINE_LOG_DIR=str(tmp_path / "logs"), XDG_CONFIG_HOME=str(tmp_path / "config"), HOME=str(tmp_path))  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    logs = sorted((tmp_path / "logs").glob("*.log"))
    return result, (logs[0].read_text(encoding="utf-8") if logs else "")


def test_the_window_is_painted_before_the_file_is_loaded(demo_file, tmp_path):
    """Start-up shows (and paints) the window first; the run tools and the file come after,
    so the window is never an unpainted black rectangle while they load."""
    code = "import sys; from app.main import main; raise SystemExit(main(sys.argv[1:]))"
    result, log_text = _studio_logged(code, [str(demo_file), "--screenshot", str(tmp_path / "s.png")], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "window shown" in log_text and f"opened {demo_file}" in log_text
    assert log_text.index("window shown") < log_text.index(f"opened {demo_file}")


def test_a_hard_crash_leaves_its_stack_in_the_app_log(demo_file, tmp_path):
    """A segfault has no Python exception: faulthandler writes the stacks into the app log."""
    code = (
        "import sys, faulthandler\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from app.main import main\n"
        "app = QApplication(sys.argv[:1])\n"
        "def crash_in_a_slot():\n"
        "    faulthandler._sigsegv()\n"
        "QTimer.singleShot(50, crash_in_a_slot)\n"
        "raise SystemExit(main(sys.argv[1:]))\n"
    )
    result, log_text = _studio_logged(code, [str(demo_file)], tmp_path)
    assert result.returncode != 0
    assert "Fatal Python error: Segmentation fault" in log_text
    assert "crash_in_a_slot" in log_text  # the Python stack of the crashing thread


def test_qt_warnings_reach_the_app_log(demo_file, tmp_path):
    """Qt's own messages (a qFatal aborts right after) are written to the log, not only stderr."""
    code = (
        "import sys\n"
        "from PySide6.QtCore import QTimer, qWarning\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from app.main import main\n"
        "app = QApplication(sys.argv[:1])\n"
        "QTimer.singleShot(30, lambda: qWarning('a warning from Qt'))\n"
        "raise SystemExit(main(sys.argv[1:]))\n"
    )
    result, log_text = _studio_logged(code, [str(demo_file), "--screenshot", str(tmp_path / "s.png")], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "WARNING app.qt: a warning from Qt" in log_text


def test_a_task_pending_at_quit_takes_its_cancellation(demo_file, tmp_path):
    """A task still waiting when the app quits (a history refresh started just before) is
    cancelled and runs its `except CancelledError` before the loop closes, as under
    asyncio.run; closed at once, it was left pending ("Task was destroyed but it is pending!")."""
    code = (
        "import asyncio, sys\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from app import main as studio\n"
        "app = QApplication(sys.argv[:1])\n"
        "screenshot = studio.Startup.take_screenshot\n"
        "async def refresh(startup):\n"
        "    try:\n"
        "        QTimer.singleShot(0, lambda: screenshot(startup))  # quits while this waits\n"
        "        await asyncio.Event().wait()\n"
        "    except asyncio.CancelledError:\n"
        "        print('REFRESH TOOK ITS CANCELLATION', flush=True)\n"
        "        raise\n"
        "def refresh_then_quit(startup):\n"
        "    startup.window.runner.controller.spawn(refresh(startup))\n"
        "studio.Startup.take_screenshot = refresh_then_quit\n"
        "raise SystemExit(studio.main(sys.argv[1:]))\n"
    )
    result, _log = _studio_logged(code, [str(demo_file), "--screenshot", str(tmp_path / "s.png"), "--db", str(tmp_path / "r.db")], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "REFRESH TOOK ITS CANCELLATION" in result.stdout
    assert "Task was destroyed but it is pending" not in result.stderr
    assert "was never awaited" not in result.stderr
