"""The trim lists cut nothing the program imports, and keep the Qt plugins it needs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import bundle_rules

ROOT = Path(__file__).resolve().parents[2]

# Imports every engine and app module (as the frozen program would on `run` and `studio`)
# with every module the bundle excludes made unimportable.
SCRIPT = r"""
import importlib, importlib.abc, json, os, pkgutil, sys
sys.path.insert(0, sys.argv[1])
excluded = json.loads(sys.argv[2])
hits = []

class Excluded(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        for ex in excluded:
            if name == ex or name.startswith(ex + "."):
                hits.append(name)
                raise ModuleNotFoundError(f"No module named {name!r} (left out of the bundle)", name=name)
        return None

sys.meta_path.insert(0, Excluded())
os.environ["QT_QPA_PLATFORM"] = "offscreen"
names = []
for top in ("engine", "app"):
    pkg = importlib.import_module(top)
    names.append(top)
    names += [m.name for m in pkgutil.walk_packages(pkg.__path__, top + ".")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": len(names), "blocked": sorted(set(hits))}))
"""


def test_engine_and_app_import_with_the_excluded_modules_missing() -> None:
    excluded = bundle_rules.excluded_modules()
    proc = subprocess.run(
        [sys.executable, "-I", "-c", SCRIPT, str(ROOT), json.dumps(excluded)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["modules"] > 40  # the walk really reached the app and the engine


def test_excluded_modules_cover_the_measured_cuts() -> None:
    excluded = bundle_rules.excluded_modules()
    for name in ("scipy", "IPython", "tkinter", "PySide6.QtNetwork", "PySide6.QtQml", "PySide6.QtTest"):
        assert name in excluded
    for kept in bundle_rules.QT_MODULES_KEPT:
        assert f"PySide6.{kept}" not in excluded
    assert "PySide6.QtWebEngineCore" not in bundle_rules.QT_MODULES_KEPT
    assert "rich" not in excluded  # `processengine run` draws its live progress with it


def test_installed_qt_modules_are_found() -> None:
    found = bundle_rules.installed_qt_modules()
    assert {"QtCore", "QtGui", "QtWidgets", "QtSvg"} <= set(found)


def test_plugins_needed_offscreen_and_on_x11_are_kept() -> None:
    keep = bundle_rules.keep_qt_plugin
    base = "PySide6/Qt/plugins"
    for plugin in (
        "platforms/libqoffscreen.so",
        "platforms/libqxcb.so",
        "imageformats/libqsvg.so",
        "iconengines/libqsvgicon.so",
        "xcbglintegrations/libqxcb-glx-integration.so",
    ):
        assert keep(f"{base}/{plugin}"), plugin
    for plugin in (
        "platforms/libqeglfs.so",
        "platforms/libqvnc.so",
        "egldeviceintegrations/libqeglfs-kms-integration.so",
        "sqldrivers/libqsqlpsql.so",
        "platformthemes/libqgtk3.so",
        "imageformats/libqpdf.so",
        "tls/libqopensslbackend.so",
    ):
        assert not keep(f"{base}/{plugin}"), plugin
    assert keep("PySide6/Qt/lib/libQt6Gui.so.6")  # not a plugin: untouched
    assert keep("numpy/plugins/whatever.so")


def test_hook_binaries_filter_by_destination() -> None:
    plugins = Path("/site-packages/PySide6/Qt/plugins")
    binaries = [
        (str(plugins / "platforms" / "libqxcb.so"), "PySide6/Qt/plugins/platforms"),
        (str(plugins / "platforms" / "libqlinuxfb.so"), "PySide6/Qt/plugins/platforms"),
        (str(plugins / "generic" / "libqevdevmouseplugin.so"), "PySide6/Qt/plugins/generic"),
    ]
    kept = bundle_rules.filter_hook_binaries(binaries)
    assert [Path(src).name for src, _ in kept] == ["libqxcb.so"]


def test_toc_filters() -> None:
    toc = [
        ("PySide6/Qt/translations/qtbase_de.qm", "/x/qtbase_de.qm", "DATA"),
        ("app/resources/examples/hello.pe.json", "/x/hello.pe.json", "DATA"),
    ]
    assert [e[0] for e in bundle_rules.keep_data(toc)] == ["app/resources/examples/hello.pe.json"]
    bins = [
        ("libstdc++.so.6", "/usr/lib/libstdc++.so.6", "BINARY"),
        ("libgcc_s.so.1", "/usr/lib/libgcc_s.so.1", "BINARY"),
        ("libsqlite3.so.0", "/usr/lib/libsqlite3.so.0", "BINARY"),
    ]
    assert [e[0] for e in bundle_rules.keep_binaries(bins)] == ["libsqlite3.so.0"]
