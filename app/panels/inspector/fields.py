"""Form fields generated from a node type's pydantic config model.

`describe_fields(model)` reads each field's annotation, default, alias and
description; `make_editor` picks the widget: text, number, bool, enum
(Literal), key/value (dict), list, or JSON for anything else. An editor shows
a config value and reports edits; it returns `MISSING` when the key should be
left out of the config (empty, or equal to the default).
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic_core import PydanticUndefined
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.panels.inspector.expression import ExpressionField


def narrow_combo(combo: QComboBox) -> None:
    """Let a combo box shrink with the dock instead of forcing it as wide as its longest item."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(8)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
MULTILINE_KEYS = {"text", "body", "json", "inputs", "condition"}
Names = Callable[[], dict[str, Any]]


@dataclass
class FieldModel:
    key: str  # the config key (the alias when there is one, e.g. `from`, `json`)
    kind: str  # text | number | bool | enum | dict | list | json
    required: bool
    default: Any  # MISSING when there is none
    description: str
    choices: tuple[Any, ...] = ()
    number_type: type = float
    text_values: bool = False  # dict values are plain text (headers)
    multiline: bool = False


def _unwrap_optional(ann: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(ann)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return ann, False


def describe_fields(model: type[BaseModel]) -> list[FieldModel]:
    out = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        ann, _optional = _unwrap_optional(info.annotation)
        origin = typing.get_origin(ann)
        if info.default is not PydanticUndefined:
            default = info.default
        elif info.default_factory is not None:
            default = info.default_factory()  # type: ignore[call-arg]
        else:
            default = MISSING
        fm = FieldModel(key=key, kind="json", required=info.is_required(), default=default, description=info.description or "")
        if origin is Literal:
            fm.kind, fm.choices = "enum", typing.get_args(ann)
        elif ann is bool:
            fm.kind = "bool"
        elif ann in (int, float):
            fm.kind, fm.number_type = "number", ann
        elif ann is str:
            fm.kind = "text"
        elif origin is dict:
            fm.kind = "dict"
            args = typing.get_args(ann)
            fm.text_values = len(args) == 2 and args[1] is str
        elif origin is list and typing.get_args(ann) in ((str,),):
            fm.kind = "list"
        fm.multiline = key in MULTILINE_KEYS or (fm.kind == "json" and key not in ("value", "items"))
        out.append(fm)
    return out


def parse_loose(text: str) -> Any:
    """Text typed in a JSON-or-text field: JSON when it parses, else the text itself."""
    stripped = text.strip()
    if not stripped:
        return MISSING
    if "{{" in stripped and not stripped.startswith(("{", "[")):  # a template, not a JSON object or list
        return text
    try:
        return json.loads(stripped)
    except ValueError:
        return text


def show_loose(value: Any) -> str:
    if value is MISSING or value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


class FieldEditor(QWidget):
    """Base editor: `value()` is what goes into the config (or MISSING), `set_value` shows one."""

    changed = Signal()

    def __init__(self, fm: FieldModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fm = fm
        self.error = ""

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def normalized(self) -> Any:
        """`value()`, with the default turned into MISSING (keeps files minimal)."""
        v = self.value()
        if v is not MISSING and not self.fm.required and self.fm.default is not MISSING and v == self.fm.default and type(v) is type(self.fm.default):
            return MISSING
        return v


class TextEditor(FieldEditor):
    def __init__(self, fm: FieldModel, names: Names, parent: QWidget | None = None) -> None:
        super().__init__(fm, parent)
        self.field = ExpressionField(names, multiline=fm.multiline)
        self.edit = self.field.edit
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.field)
        if fm.default not in (MISSING, None, ""):
            self.edit.setPlaceholderText(str(fm.default))
        self.edit.edited.connect(self.changed)

    def value(self) -> Any:
        text = self.edit.text()
        return text if text else MISSING

    def set_value(self, value: Any) -> None:
        self.edit.set_text(show_loose(value))
        self.field.refresh_preview()


class NumberEditor(TextEditor):
    """A number, or an expression that renders to one."""

    def value(self) -> Any:
        text = self.edit.text().strip()
        self.error = ""
        if not text:
            return MISSING
        if "{{" in text:
            return text
        try:
            number = float(text)
        except ValueError:
            self.error = f"not a number: {text!r}"
            return text
        if self.fm.number_type is int and number.is_integer():
            return int(number)
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


class JsonEditor(TextEditor):
    """Any JSON value; text that is not JSON is kept as text (so expressions work)."""

    def value(self) -> Any:
        return parse_loose(self.edit.text())


class ListEditor(TextEditor):
    """A comma-separated list (an expression is kept whole)."""

    def value(self) -> Any:
        text = self.edit.text().strip()
        if not text:
            return MISSING
        if "{{" in text:
            return text
        return [part.strip() for part in text.split(",") if part.strip()]

    def set_value(self, value: Any) -> None:
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        super().set_value(value)


class BoolEditor(FieldEditor):
    def __init__(self, fm: FieldModel, parent: QWidget | None = None) -> None:
        super().__init__(fm, parent)
        self.box = QCheckBox("on")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.box)
        self.box.toggled.connect(self.changed)

    def value(self) -> Any:
        return self.box.isChecked()

    def set_value(self, value: Any) -> None:
        if value is MISSING:
            value = self.fm.default if self.fm.default is not MISSING else False
        self.box.blockSignals(True)
        self.box.setChecked(bool(value))
        self.box.blockSignals(False)


class EnumEditor(FieldEditor):
    def __init__(self, fm: FieldModel, parent: QWidget | None = None) -> None:
        super().__init__(fm, parent)
        self.combo = QComboBox()
        narrow_combo(self.combo)
        for choice in fm.choices:
            self.combo.addItem(str(choice), choice)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        self.combo.currentIndexChanged.connect(lambda _i: self.changed.emit())

    def value(self) -> Any:
        return self.combo.currentData()

    def set_value(self, value: Any) -> None:
        if value is MISSING:
            value = self.fm.default if self.fm.default is not MISSING else (self.fm.choices[0] if self.fm.choices else None)
        self.combo.blockSignals(True)
        index = self.combo.findData(value)
        if index < 0:  # an unexpected value (e.g. from a hand-edited file) stays visible
            self.combo.addItem(str(value), value)
            index = self.combo.count() - 1
        self.combo.setCurrentIndex(index)
        self.combo.blockSignals(False)


class KeyValueEditor(FieldEditor):
    """A two-column table; values are JSON-or-text unless the schema says text."""

    def __init__(self, fm: FieldModel, parent: QWidget | None = None) -> None:
        super().__init__(fm, parent)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["key", "value"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
            | QAbstractItemView.EditTrigger.SelectedClicked
        )
        self.add_button = QPushButton("+ Add")
        self.remove_button = QPushButton("Remove")
        self.add_button.setFlat(True)
        self.remove_button.setFlat(True)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.add_button.clicked.connect(lambda: self.add_row())  # not add_row(checked)
        self.remove_button.clicked.connect(self.remove_selected)
        self.table.itemChanged.connect(lambda _item: self._edited())
        self._fit()

    def _fit(self) -> None:
        rows = max(1, self.table.rowCount())
        header = self.table.horizontalHeader().sizeHint().height()
        self.table.setFixedHeight(header + rows * (self.table.verticalHeader().defaultSectionSize()) + 4)

    def add_row(self, key: str = "", value: str = "") -> None:
        self.table.blockSignals(True)
        row = self.table.rowCount()
        self.table.insertRow(row)
        key_item = QTableWidgetItem(key)
        self.table.setItem(row, 0, key_item)
        self.table.setItem(row, 1, QTableWidgetItem(value))
        self.table.blockSignals(False)
        self._fit()
        if not key:
            self.table.setCurrentCell(row, 0)
            self.table.editItem(key_item)

    def remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True)
        if not rows and self.table.currentRow() >= 0:
            rows = [self.table.currentRow()]
        for row in rows:
            self.table.removeRow(row)
        self._fit()
        if rows:
            self._edited()

    def _edited(self) -> None:
        self.changed.emit()

    def rows(self) -> list[tuple[str, str]]:
        out = []
        for row in range(self.table.rowCount()):
            k, v = self.table.item(row, 0), self.table.item(row, 1)
            out.append((k.text() if k else "", v.text() if v else ""))
        return out

    def value(self) -> Any:
        data: dict[str, Any] = {}
        self.error = ""
        for key, text in self.rows():
            key = key.strip()
            if not key:
                continue
            if key in data:
                self.error = f"duplicate key {key!r}"
            if self.fm.text_values:
                data[key] = text
            else:
                parsed = parse_loose(text)
                data[key] = "" if parsed is MISSING else parsed
        return data if data else MISSING

    def set_value(self, value: Any) -> None:
        if not isinstance(value, dict):
            value = {}
        current = self.value()
        if (current if current is not MISSING else {}) == value and len(self.rows()) >= len(value):
            return  # the model echo of our own edit: keep half-typed rows
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        for k, v in value.items():
            row = self.table.rowCount()
            self.table.insertRow(row)
            self.table.setItem(row, 0, QTableWidgetItem(str(k)))
            self.table.setItem(row, 1, QTableWidgetItem(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)))
        self.table.blockSignals(False)
        self._fit()


def make_editor(fm: FieldModel, names: Names) -> FieldEditor:
    if fm.kind == "bool":
        return BoolEditor(fm)
    if fm.kind == "enum":
        return EnumEditor(fm)
    if fm.kind == "dict":
        return KeyValueEditor(fm)
    if fm.kind == "number":
        return NumberEditor(fm, names)
    if fm.kind == "list":
        return ListEditor(fm, names)
    if fm.kind == "text":
        return TextEditor(fm, names)
    return JsonEditor(fm, names)


class FieldRow(QWidget):
    """Label + editor + help text + inline problem."""

    def __init__(self, editor: FieldEditor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        fm = editor.fm
        self.label = QLabel(f"{fm.key}{' *' if fm.required else ''}")
        self.label.setObjectName("fieldLabel")
        self.help = QLabel(fm.description)
        self.help.setObjectName("fieldHelp")
        self.help.setWordWrap(True)
        self.help.setVisible(bool(fm.description))
        self.problem = QLabel()
        self.problem.setObjectName("previewError")
        self.problem.setWordWrap(True)
        self.problem.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.setSpacing(3)
        layout.addWidget(self.label)
        layout.addWidget(editor)
        layout.addWidget(self.problem)
        layout.addWidget(self.help)
        font = self.help.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        self.help.setFont(font)
        self.label.setAlignment(Qt.AlignmentFlag.AlignLeft)

    def set_problems(self, messages: list[str]) -> None:
        own = [self.editor.error] if self.editor.error else []
        text = "\n".join(f"⚠ {m}" for m in [*own, *messages])
        self.problem.setText(text)
        self.problem.setVisible(bool(text))
