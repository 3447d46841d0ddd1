"""What the frozen bundle leaves out, and which Qt plugins it keeps.

Shared by the PyInstaller spec, its Qt hooks and the packaging tests (which
check that nothing in engine/ or app/ imports a module cut here). Every cut is
measured in docs/packaging.md; the smoke test (packaging/smoke.sh) proves the
trimmed bundle still runs headless, serves webhooks and opens the app.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

# Qt modules the app uses; every other PySide6 module is excluded. pyqtgraph imports
# QtOpenGL and QtOpenGLWidgets unconditionally (pyqtgraph/Qt/OpenGLHelpers.py).
QT_MODULES_KEPT = ("QtCore", "QtGui", "QtWidgets", "QtSvg", "QtSvgWidgets", "QtOpenGL", "QtOpenGLWidgets")

# Qt plugins kept, by plugin type -> file stems (None keeps the whole type). offscreen is
# for tests, CI and --screenshot; xcb for X11; wayland (with its shell/decoration plugins)
# for Wayland sessions, where Qt falls back to xcb (XWayland) if it cannot load.
QT_PLUGINS_KEPT: dict[str, tuple[str, ...] | None] = {
    "platforms": ("libqoffscreen", "libqminimal", "libqxcb", "libqwayland"),
    "imageformats": ("libqsvg", "libqjpeg", "libqgif", "libqico"),
    "iconengines": ("libqsvgicon",),
    "platforminputcontexts": ("libcomposeplatforminputcontextplugin", "libibusplatforminputcontextplugin"),
    "platformthemes": ("libqxdgdesktopportal",),  # portal file dialogs; GTK3 theme left out (it would drag in GTK's stack)
    "xcbglintegrations": None,
    "wayland-shell-integration": ("libxdg-shell",),
    "wayland-decoration-client": None,
    "wayland-graphics-integration-client": ("libqt-plugin-wayland-egl", "libshm-emulation-server"),
}

# Python packages reached only through optional imports the app never takes:
# networkx's scipy/pandas/matplotlib/sympy/PIL back ends, httpx's command line (click,
# pygments; rich stays: `processengine run` draws its progress with it), trio's IPython hook, numpy's yaml/f2py/testing extras, test runners,
# tkinter and packaging tools pulled in by their PyInstaller runtime hooks.
EXCLUDED_PACKAGES = (
    "scipy",
    "pandas",
    "matplotlib",
    "matplotlib_inline",
    "sympy",
    "mpmath",
    "PIL",
    "pygraphviz",
    "pydot",
    "lxml",
    "IPython",
    "jedi",
    "parso",
    "traitlets",
    "prompt_toolkit",
    "trio",
    "click",
    "pygments",
    "yaml",
    "numba",
    "cupy",
    "h5py",
    "OpenGL",
    "tkinter",
    "_tkinter",
    "unittest",
    "doctest",
    "pytest",
    "_pytest",
    "hypothesis",
    "setuptools",
    "pkg_resources",
    "distutils",
    "pip",
    "lib2to3",
    "idlelib",
    "pydoc_data",
    "numpy.f2py",
    "numpy.testing",
    "numpy.distutils",
    "pyqtgraph.examples",
    "pyqtgraph.opengl",
    "pyqtgraph.jupyter",
    "sqlalchemy.testing",
)

# Shared libraries left to the system (the .deb depends on them): GL drivers loaded from the
# system need the system's C++ runtime, which on any supported distribution is at least as new.
SYSTEM_BINARIES = ("libstdc++.so.6", "libgcc_s.so.1")

# Data files not needed: Qt translations (the app is English only).
EXCLUDED_DATA_PREFIXES = ("PySide6/Qt/translations/",)


def installed_qt_modules() -> list[str]:
    """Names of the PySide6 extension modules in the installed wheel."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(next(iter(spec.submodule_search_locations)))
    return sorted({p.name.split(".")[0] for p in folder.glob("Qt*.so")} | {p.name.split(".")[0] for p in folder.glob("Qt*.pyd")})


def excluded_modules() -> list[str]:
    """Everything passed to PyInstaller's `excludes`."""
    qt = [f"PySide6.{name}" for name in installed_qt_modules() if name not in QT_MODULES_KEPT]
    return [*EXCLUDED_PACKAGES, *qt]


def keep_qt_plugin(dest: str) -> bool:
    """True unless `dest` is a Qt plugin outside QT_PLUGINS_KEPT."""
    parts = PurePosixPath(dest.replace("\\", "/")).parts
    try:
        i = parts.index("plugins")
    except ValueError:
        return True
    if parts[: i] != ("PySide6", "Qt") or len(parts) < i + 3:
        return True
    kept = QT_PLUGINS_KEPT.get(parts[i + 1], ())
    return kept is None or parts[-1].split(".")[0] in kept


def filter_hook_binaries(binaries: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Drop unkept plugins from a Qt hook's (source, dest folder) binaries."""
    return [(src, dest) for src, dest in binaries if keep_qt_plugin(f"{dest}/{Path(src).name}")]


def keep_binaries(toc: Iterable[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Drop SYSTEM_BINARIES from an Analysis TOC of (dest, source, typecode)."""
    return [e for e in toc if PurePosixPath(e[0].replace("\\", "/")).name not in SYSTEM_BINARIES]


def keep_data(toc: Iterable[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Drop excluded data files from an Analysis TOC of (dest, source, typecode)."""
    return [e for e in toc if not e[0].replace("\\", "/").startswith(EXCLUDED_DATA_PREFIXES)]
