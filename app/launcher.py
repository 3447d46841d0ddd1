"""The `processengine` command: the headless CLI plus the desktop app.

The CLI lives in the Qt-free engine, which must not import the app; this
launcher hands it the `studio` command. Qt is imported only when the app opens,
so headless commands start as fast as `python -m engine.cli`. Without a display
the app says so in one line (Qt itself would abort the process), except for
`--screenshot`, which renders offscreen.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from engine.cli import main as cli_main

NO_DISPLAY = (
    "processengine studio: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set); "
    "headless, use `processengine run FILE`, or `studio FILE --screenshot PNG`"
)


def _has_display() -> bool:
    """Linux/BSD need an X11 or Wayland display unless Qt is told to use another platform."""
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return True
    return bool(os.environ.get("QT_QPA_PLATFORM") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _studio(argv: list[str]) -> int:
    if not _has_display():
        if "--screenshot" not in argv:
            sys.stderr.write(NO_DISPLAY + "\n")
            return 1
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a picture needs no screen
    from app.main import main as studio_main

    return studio_main(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return cli_main(argv, studio=_studio)


if __name__ == "__main__":
    sys.exit(main())
