"""PySide6.QtGui with only the Qt plugins listed in bundle_rules (replaces PyInstaller's hook).

Filtering here, before binary analysis, also keeps out the libraries that only the
dropped plugins need (eglfs, evdev, the Wayland compositor side, ...).
"""

from PyInstaller.utils.hooks.qt import add_qt6_dependencies

from bundle_rules import filter_hook_binaries

hiddenimports, binaries, datas = add_qt6_dependencies(__file__)  # type: ignore[no-untyped-call]  # untyped in types-pyinstaller
binaries = filter_hook_binaries(binaries)
