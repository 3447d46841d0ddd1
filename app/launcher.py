"""The `processengine` command: the headless CLI plus the desktop app.

The CLI lives in the Qt-free engine, which must not import the app; this
launcher hands it the `studio` command. Qt is imported only when the app opens,
so headless commands start as fast as `python -m engine.cli`. Without a display
the app says so in one line (Qt itself would abort the process), except for
`--screenshot`, which renders offscreen.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from collections.abc import Sequence

from engine.cli import finish
from engine.cli import main as cli_main

NO_DISPLAY = (
    "processengine studio: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set); "
    "headless, use `processengine run FILE`, or `studio FILE --screenshot PNG`"
)


def _x11_reachable(display: str) -> bool:
    """A local X server (DISPLAY=:N) listens on /tmp/.X11-unix/XN (or its abstract twin);
    Qt aborts the whole process when it cannot connect, so look first."""
    m = re.fullmatch(r"(unix)?:(\d+)(\.\d+)?", display)
    if m is None:
        return True  # a remote or unusual display: let Qt try
    for address in (f"\0/tmp/.X11-unix/X{m.group(2)}", f"/tmp/.X11-unix/X{m.group(2)}"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(address)
                return True
            except OSError:
                continue
    return False


def _display_problem() -> str | None:
    """Why the window cannot open here, or None. Linux/BSD need an X11 or Wayland display
    unless Qt is told to use another platform."""
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")) or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("WAYLAND_DISPLAY"):
        return None
    display = os.environ.get("DISPLAY")
    if not display:
        return NO_DISPLAY
    if not _x11_reachable(display):
        return f"processengine studio: no X server answers on DISPLAY={display}; headless, use `processengine run FILE`, or `studio FILE --screenshot PNG`"
    return None


def _studio(argv: list[str]) -> int:
    problem = _display_problem()
    if problem is not None:
        if "--screenshot" not in argv:
            sys.stderr.write(problem + "\n")
            return 1
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a picture needs no screen
    from app.main import main as studio_main

    return studio_main(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """The `processengine` script's entry (argv None: the command line). A finished
    `run` or `resume` ends the process there (`engine.cli.finish`); called with `argv`,
    e.g. from a test, it returns the exit code."""
    code = cli_main(argv, studio=_studio)
    return code if argv is not None else finish(code, sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
