"""The inspector's "Live / Replay / Pinned" switch of an HTTP or email node.

What a node does in the studio's debug re-runs: Live sends for real, Replay answers
from the recording of the run that is re-run (no request, no email), Pinned stands
the node's pin in for it. The mode lives in the document (`Node.replay`, `Node.pin`),
so it is undoable and saved like a pin; this section only shows it and says what
the user wants. Whether Replay and Pinned can work depends on the run shown, which
the runner describes with a `ReplayContext`.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.theme import RUN_STATE_COLORS
from engine.model import Node

LIVE, REPLAY, PINNED = "live", "replay", "pinned"
MODES = (LIVE, REPLAY, PINNED)
_LABELS = {LIVE: "● Live", REPLAY: "⟲ Replay", PINNED: "◆ Pinned"}  # the canvas's glyphs for replayed / pinned
_COLORS = {LIVE: "#16a34a", REPLAY: RUN_STATE_COLORS["replayed"], PINNED: RUN_STATE_COLORS["pinned"]}
# one segmented control: joined buttons, the chosen one filled with its mode's colour
_STYLE = "".join(
    [
        "QToolButton { border: 1px solid palette(mid); border-radius: 0; padding: 4px 12px; background: palette(base); }",
        "QToolButton:disabled { color: palette(mid); }",
        "QToolButton#runMode_live { border-top-left-radius: 6px; border-bottom-left-radius: 6px; }",
        "QToolButton#runMode_pinned { border-top-right-radius: 6px; border-bottom-right-radius: 6px; }",
        *(f"QToolButton#runMode_{m}:checked {{ background: {c}; border-color: {c}; color: #ffffff; font-weight: 600; }}" for m, c in _COLORS.items()),
    ]
)


@dataclass(frozen=True, kw_only=True)
class ReplayContext:
    """The run a re-run would start from, as the switch needs it (None: no run is shown)."""

    run: str  # how to name it, e.g. "run #3"
    recorded: frozenset[str]  # nodes with a recording there: Replay can answer them
    outputs: frozenset[str]  # nodes with an output there: Pinned can pin it
    note: str | None = None  # why nothing can be replayed from it (e.g. a run kept in memory)


def node_mode(node: Node) -> str:
    """A pin stands in even for a node set to Replay (as it does in the engine)."""
    if node.pin is not None:
        return PINNED
    return REPLAY if node.replay else LIVE


class RunModeSection(QWidget):
    """Three exclusive buttons, a line saying what the mode does (or why it cannot), strict replay."""

    mode_chosen = Signal(str)  # live | replay | pinned

    def __init__(self, node: Node, strict_action: QAction | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = "email" if node.type == "send_email" else "http"
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        row = QHBoxLayout()
        row.setSpacing(0)
        self.setStyleSheet(_STYLE)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QToolButton] = {}
        for mode in MODES:
            button = QToolButton()
            button.setText(_LABELS[mode])
            button.setCheckable(True)
            button.setObjectName(f"runMode_{mode}")
            button.setMinimumWidth(72)
            self.group.addButton(button)
            self.buttons[mode] = button
            row.addWidget(button)
            button.clicked.connect(lambda _on=False, m=mode: self._clicked(m))
        row.addStretch(1)
        layout.addLayout(row)
        self.hint = QLabel()
        self.hint.setObjectName("fieldHelp")
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)
        self.warning = QLabel()
        self.warning.setObjectName("previewError")
        self.warning.setWordWrap(True)
        self.warning.hide()
        layout.addWidget(self.warning)
        self.strict: QCheckBox | None = None
        if strict_action is not None:  # the action (Run menu) owns the state; every form shows it
            self.strict = QCheckBox("Strict replay: a request that differs from its recording fails the node")
            self.strict.setToolTip(strict_action.toolTip())
            self.strict.setChecked(strict_action.isChecked())
            self.strict.toggled.connect(strict_action.setChecked)
            strict_action.toggled.connect(self.strict.setChecked)
            layout.addWidget(self.strict)
        self.mode = LIVE

    def _clicked(self, mode: str) -> None:
        if mode != self.mode:
            self.mode_chosen.emit(mode)

    def show_state(self, node: Node, ctx: ReplayContext | None) -> None:
        """Check the node's mode; enable what the run shown allows and say why not."""
        self.mode = node_mode(node)
        self.buttons[self.mode].setChecked(True)
        self._enable_replay(node, ctx)
        self._enable_pinned(node, ctx)
        self.buttons[LIVE].setToolTip("Re-runs send " + ("the email" if self.kind == "email" else "the request") + " for real")
        missing = self.mode == REPLAY and ctx is not None and node.id not in ctx.recorded
        self.hint.setText(self._hint(ctx))
        self.hint.setVisible(not missing)  # the warning says what matters then
        self.warning.setText(f"⚠ {ctx.note or _no_recording(ctx.run)}: a re-run of it cannot replay this node. Choose Live or Pinned, or re-run a run in which it ran." if missing and ctx else "")
        self.warning.setVisible(missing)

    def _enable_replay(self, node: Node, ctx: ReplayContext | None) -> None:
        button = self.buttons[REPLAY]
        can = ctx is None or node.id in ctx.recorded
        button.setEnabled(can or self.mode == REPLAY)  # a node already on Replay can always be switched back
        if ctx is None:
            button.setToolTip("Re-runs answer this node from the recording of the run they re-run: nothing is sent")
        elif can:
            button.setToolTip(f"Re-runs of {ctx.run} answer this node from its recording: nothing is sent")
        else:
            button.setToolTip(f"{ctx.note or _no_recording(ctx.run)}: nothing to replay")

    def _enable_pinned(self, node: Node, ctx: ReplayContext | None) -> None:
        button = self.buttons[PINNED]
        has_output = ctx is not None and node.id in ctx.outputs
        button.setEnabled(self.mode == PINNED or has_output)
        if self.mode == PINNED:
            button.setToolTip("The pin stands in for this node in every debug run (edit it in Run data)")
        elif has_output and ctx is not None:
            button.setToolTip(f"Pin this node's output in {ctx.run}: debug runs use it instead of running the node")
        else:
            button.setToolTip("No output to pin: run the workflow (or open a run in which this node ran) first")

    def _hint(self, ctx: ReplayContext | None) -> str:
        what = "email" if self.kind == "email" else "request"
        if self.mode == PINNED:
            return "Pinned: every debug run uses the pin; the node does not run."
        if self.mode == REPLAY:
            source = ctx.run if ctx is not None else "the run re-run"
            return f"Replay: Re-run from here answers it from the recording of {source}; no {what} is sent. A plain Run is live."
        return f"Live: re-runs send the {what} for real."


def _no_recording(run: str) -> str:
    return f"{run[:1].upper()}{run[1:]} has no recording of this node (it did not run there)"


__all__ = ["LIVE", "MODES", "PINNED", "REPLAY", "ReplayContext", "RunModeSection", "node_mode"]
