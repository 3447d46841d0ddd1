"""Texts for Help > About and Help > Keyboard Shortcuts."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtGui import QAction, QKeySequence

import engine

CANVAS_GESTURES = [
    ("Wheel", "zoom at the cursor"),
    ("Middle drag / Space + drag", "pan"),
    ("Drag on empty canvas", "select with a rectangle (Ctrl/Shift adds)"),
    ("Drag from a port to a port", "connect (valid targets light up)"),
    ("Tab / double-click on empty canvas", "quick-add a node there"),
    ("Double-click a node", "rename it in the inspector"),
    ("Double-click a sticky note", "edit its text"),
    ("Arrow keys (Shift: 5 steps)", "nudge the selection"),
    ("Escape", "cancel the gesture / clear the selection"),
]


def about_text() -> str:
    return (
        f"<h3>ProcessEngine Studio {engine.__version__}</h3>"
        "<p>Design workflows as node graphs, run them locally, watch every node and retry live, "
        "and read back every past execution.</p>"
        "<p>The same engine runs headless: <code>processengine run FILE</code>.</p>"
    )


HELP_KEYS = "help_keys"  # QAction property: keys to list when the action's shortcut moves (F6)


def shortcuts_html(actions: Iterable[QAction]) -> str:
    """Every action with keys (the window's and the run tools'), then the canvas gestures."""
    rows: list[tuple[str, str]] = []
    for action in actions:
        keys = [s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts() if not s.isEmpty()]
        shown = " / ".join(keys) or str(action.property(HELP_KEYS) or "")
        row = (shown, action.text().replace("&", ""))
        if shown and row not in rows:
            rows.append(row)
    rows.extend(CANVAS_GESTURES)
    body = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"
