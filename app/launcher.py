"""The `processengine` command: the headless CLI plus the desktop app.

The CLI lives in the Qt-free engine, which must not import the app; this
launcher hands it the `studio` command. Qt is imported only when the app opens,
so headless commands start as fast as `python -m engine.cli`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from engine.cli import main as cli_main


def _studio(argv: list[str]) -> int:
    from app.main import main as studio_main

    return studio_main(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return cli_main(argv, studio=_studio)


if __name__ == "__main__":
    sys.exit(main())
