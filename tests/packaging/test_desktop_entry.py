"""The desktop entry, MIME type and icon rendering that the .deb installs."""

from __future__ import annotations

import configparser
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "packaging" / "processengine.desktop"
MIME_XML = ROOT / "packaging" / "processengine-mime.xml"
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"
MIME_TYPE = "application/x-processengine-workflow"
SYSTEM_MIME_DB = Path("/usr/share/mime/packages/freedesktop.org.xml")


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_entry_opens_workflows_in_the_app() -> None:
    entry = desktop_entry()
    assert entry["Exec"] == "processengine studio %f"
    assert entry["Icon"] == "processengine"
    assert MIME_TYPE in entry["MimeType"].split(";")
    # the CLI accepts exactly what the desktop passes
    from engine.cli import build_parser

    args = build_parser().parse_args(["studio", "/home/u/My Flow.pe.json"])
    assert args.command == "studio" and args.file == "/home/u/My Flow.pe.json"


def test_mime_xml_declares_the_workflow_type() -> None:
    root = ET.parse(MIME_XML).getroot()
    assert root.tag == f"{MIME_NS}mime-info"
    (mtype,) = root.findall(f"{MIME_NS}mime-type")
    assert mtype.get("type") == MIME_TYPE
    assert [g.get("pattern") for g in mtype.findall(f"{MIME_NS}glob")] == ["*.pe.json"]
    assert mtype.find(f"{MIME_NS}sub-class-of").get("type") == "application/json"
    assert mtype.find(f"{MIME_NS}icon").get("name") == MIME_TYPE.replace("/", "-")


def test_shared_mime_database_maps_pe_json_to_the_workflow_type(tmp_path: Path) -> None:
    """update-mime-database (as dpkg's trigger runs it) accepts the file; *.pe.json beats *.json."""
    assert SYSTEM_MIME_DB.is_file(), "shared-mime-info is not installed"
    packages = tmp_path / "packages"
    packages.mkdir()
    shutil.copy(SYSTEM_MIME_DB, packages / SYSTEM_MIME_DB.name)
    shutil.copy(MIME_XML, packages / "processengine.xml")
    proc = subprocess.run(["update-mime-database", "-V", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "processengine.xml" not in proc.stderr, proc.stderr  # no complaint about our file
    globs: dict[str, set[tuple[int, str]]] = {}
    for line in (tmp_path / "globs2").read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            weight, mime, pattern = line.split(":")[:3]
            globs.setdefault(pattern, set()).add((int(weight), mime))
    assert globs["*.pe.json"] == {(50, MIME_TYPE)}
    assert (50, "application/json") in globs["*.json"]
    # same weight as *.json: the spec then picks the longest matching glob, ours
    subclasses = (tmp_path / "subclasses").read_text(encoding="utf-8").split("\n")
    assert f"{MIME_TYPE} application/json" in subclasses


RENDER = r"""
import sys
sys.path.insert(0, sys.argv[1])
import icons
from pathlib import Path
for size, png in icons.render_pngs(Path(sys.argv[2]), (16, 48, 256)).items():
    Path(sys.argv[3], f"{size}.png").write_bytes(png)
"""


def test_app_icon_renders_to_png_sizes(tmp_path: Path) -> None:
    svg = ROOT / "app" / "resources" / "icons" / "processengine.svg"
    proc = subprocess.run(
        [sys.executable, "-c", RENDER, str(ROOT / "packaging"), str(svg), str(tmp_path)],
        capture_output=True, text=True, timeout=60, env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    for size in (16, 48, 256):
        data = (tmp_path / f"{size}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", data[16:24]) == (size, size)


def test_blank_svg_is_refused(tmp_path: Path) -> None:
    blank = tmp_path / "blank.svg"
    blank.write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"></svg>', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", RENDER, str(ROOT / "packaging"), str(blank), str(tmp_path)],
        capture_output=True, text=True, timeout=60, env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode != 0
    assert "fully transparent" in proc.stderr
