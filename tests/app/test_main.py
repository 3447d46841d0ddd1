"""`processengine studio FILE --screenshot PNG` in a real process (as the CLI runs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

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
