"""Retry policy editor: a preset or custom values, with the back-off schedule previewed.

The preview comes from the engine's own `RetryPolicy.schedule()`, so it shows
exactly the waits the runtime will use (before jitter).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.panels.inspector.fields import narrow_combo
from engine.runtime.retry import PRESETS, RetryPolicy, policy_for

CUSTOM = "custom"


def format_seconds(s: float) -> str:
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 60:
        return f"{s:.3g} s"
    return f"{s / 60:.3g} min"


def schedule_text(policy: RetryPolicy) -> str:
    """E.g. 'up to 4 attempts · waits 0.5 s → 1 s → 2 s (jitter: each wait between half and all of it)'."""
    if policy.max_attempts <= 1:
        return "1 attempt · no retries"
    waits = " → ".join(format_seconds(d) for d in policy.schedule())
    text = f"up to {policy.max_attempts} attempts · waits {waits}"
    if policy.jitter:
        text += " (jitter: each wait between half and all of it)"
    if policy.on_status:
        text += f" · also retries HTTP {', '.join(str(s) for s in policy.on_status)}"
    return text


class RetryEditor(QWidget):
    """Edits a node's `retry` value: None (type default), a preset name, or an object."""

    changed = Signal()

    def __init__(self, default_preset: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.default_preset = default_preset
        self.preset = QComboBox()
        narrow_combo(self.preset)
        self.preset.addItem(f"Type default ({default_preset})", None)
        for name in PRESETS:
            self.preset.addItem(name, name)
        self.preset.addItem("Custom…", CUSTOM)
        self.attempts = QSpinBox()
        self.attempts.setRange(1, 100)
        self.initial = QDoubleSpinBox()
        self.initial.setRange(0, 3600)
        self.initial.setDecimals(2)
        self.initial.setSuffix(" s")
        self.multiplier = QDoubleSpinBox()
        self.multiplier.setRange(1, 100)
        self.multiplier.setDecimals(2)
        self.multiplier.setSingleStep(0.5)
        self.max_delay = QDoubleSpinBox()
        self.max_delay.setRange(0, 86400)
        self.max_delay.setDecimals(1)
        self.max_delay.setSuffix(" s")
        self.jitter = QCheckBox("randomise waits (jitter)")
        self.on_status = QLineEdit()
        self.on_status.setPlaceholderText("e.g. 429, 503")
        self.preview = QLabel()
        self.preview.setObjectName("preview")
        self.preview.setWordWrap(True)
        self.custom = QWidget()
        form = QFormLayout(self.custom)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("max attempts", self.attempts)
        form.addRow("first wait", self.initial)
        form.addRow("multiplier", self.multiplier)
        form.addRow("longest wait", self.max_delay)
        form.addRow("", self.jitter)
        form.addRow("retry on HTTP", self.on_status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.preset)
        layout.addWidget(self.custom)
        layout.addWidget(self.preview)
        self._loading = False
        self.preset.currentIndexChanged.connect(self._preset_changed)
        for w in (self.attempts, self.initial, self.multiplier, self.max_delay):
            w.valueChanged.connect(self._edited)
        self.jitter.toggled.connect(self._edited)
        self.on_status.editingFinished.connect(self._edited)
        self.set_value(None)

    # -- value -------------------------------------------------------------------
    def value(self) -> dict[str, Any] | str | None:
        mode: str | None = self.preset.currentData()
        if mode != CUSTOM:
            return mode
        out: dict[str, Any] = {
            "max_attempts": self.attempts.value(),
            "initial_delay_s": round(self.initial.value(), 3),
            "multiplier": round(self.multiplier.value(), 3),
            "max_delay_s": round(self.max_delay.value(), 3),
            "jitter": self.jitter.isChecked(),
        }
        statuses = self.statuses()
        if statuses:
            out["on_status"] = statuses
        return out

    def statuses(self) -> list[int]:
        out = []
        for part in self.on_status.text().replace(";", ",").split(","):
            part = part.strip()
            if part.isdigit():
                out.append(int(part))
        return out

    def policy(self) -> RetryPolicy:
        return policy_for(self.value(), self.default_preset)

    def set_value(self, retry: dict[str, Any] | str | None) -> None:
        self._loading = True
        try:
            if isinstance(retry, dict):
                self.preset.setCurrentIndex(self.preset.findData(CUSTOM))
                pol = policy_for(retry, self.default_preset)
            else:
                index = self.preset.findData(retry)
                self.preset.setCurrentIndex(max(0, index))
                pol = policy_for(retry, self.default_preset)
            self.attempts.setValue(pol.max_attempts)
            self.initial.setValue(pol.initial_delay_s)
            self.multiplier.setValue(pol.multiplier)
            self.max_delay.setValue(pol.max_delay_s)
            self.jitter.setChecked(pol.jitter)
            self.on_status.setText(", ".join(str(s) for s in pol.on_status))
            self.custom.setVisible(isinstance(retry, dict))
        finally:
            self._loading = False
        self._refresh_preview()

    def _preset_changed(self, _index: int) -> None:
        custom = self.preset.currentData() == CUSTOM
        self.custom.setVisible(custom)
        if not custom and not self._loading:
            self.set_value(self.preset.currentData())  # show that preset's numbers
        if not self._loading:
            self._edited()

    def _edited(self) -> None:
        self._refresh_preview()
        if not self._loading:
            self.changed.emit()

    def _refresh_preview(self) -> None:
        self.preview.setText(schedule_text(self.policy()))
