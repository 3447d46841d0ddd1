"""The packaging scripts are plain modules in packaging/ (deliberately not a package: an
`__init__.py` there would shadow the `packaging` library that pip and PyInstaller use)."""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"
if str(PACKAGING) not in sys.path:
    sys.path.insert(0, str(PACKAGING))
