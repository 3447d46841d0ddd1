"""Frozen entry point: the bundle's `processengine` executable is the CLI and the app.

PyInstaller needs a script, not a console-script entry point; this one hands
over to `app.launcher.main`, which opens the desktop app for `studio` (or no
command) and runs the headless CLI otherwise.
"""

from __future__ import annotations

import multiprocessing
import sys

from app.launcher import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a no-op unless a child process is spawned frozen
    if sys.argv[1:2] == ["--code-node-child"]:  # a Python code node's child (engine/nodes/py_runner.py)
        from engine.nodes import py_child

        py_child.main()
        sys.exit(0)
    sys.exit(main())
