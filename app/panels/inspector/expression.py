"""Text fields that understand `{{ }}`: highlighting, name completion and a live preview.

The preview renders the field with `engine.expressions.render` on sample names
(the inspector's sample input, the workflow variables, and the last run's
node outputs when a runner provides them), so the user sees the value the node
would get, or the error it would fail with, while typing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QSize, QStringListModel, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFocusEvent,
    QFont,
    QKeyEvent,
    QPalette,
    QResizeEvent,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCompleter,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from engine import expressions
from engine.errors import ExpressionError

# the part of an expression being typed: a dotted/bracketed name
_WORD = re.compile(r'[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]*|\["[^"\]]*"?\]?)*$|nodes\["[^"\]]*$')


class ExpressionHighlighter(QSyntaxHighlighter):
    """Tints every `{{ … }}` span; an unterminated one is marked as an error."""

    def __init__(self, document: QTextDocument, accent: QColor, error: QColor) -> None:
        super().__init__(document)
        self.set_colors(accent, error)

    def set_colors(self, accent: QColor, error: QColor) -> None:
        self.expr = QTextCharFormat()
        self.expr.setForeground(accent)
        bg = QColor(accent)
        bg.setAlphaF(0.13)
        self.expr.setBackground(bg)
        self.expr.setFontWeight(QFont.Weight.DemiBold)
        self.bad = QTextCharFormat()
        self.bad.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
        self.bad.setUnderlineColor(error)
        self.bad.setForeground(error)
        self.rehighlight()

    def highlightBlock(self, text: str) -> None:
        try:
            spans = expressions.find_expressions(text)
        except ExpressionError as exc:
            start = exc.position or text.find("{{")
            self.setFormat(start, len(text) - start, self.bad)
            return
        for start, end, _inner in spans:
            self.setFormat(start, end - start, self.expr)


def expression_context(text: str, cursor: int) -> bool:
    """True when `cursor` sits inside an open `{{` (so completion makes sense)."""
    before = text[:cursor]
    return before.rfind("{{") > before.rfind("}}")


class ExpressionEdit(QPlainTextEdit):
    """A plain-text field that grows with its content (1..max lines) and completes names."""

    edited = Signal()  # the user changed the text
    committed = Signal()  # focus left or Enter in a single-line field

    def __init__(self, *, multiline: bool = False, max_lines: int = 8, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.multiline = multiline
        self.max_lines = max_lines if multiline else 4
        self.setObjectName("expression")
        self.setTabChangesFocus(True)
        self.document().setDocumentMargin(2)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.highlighter = ExpressionHighlighter(self.document(), *self._colors())
        self.completer = QCompleter(self)
        self.completer.setWidget(self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.setModel(QStringListModel(self.completer))
        self.completer.activated.connect(self.insert_completion)
        self._setting = False
        self.textChanged.connect(self._on_text_changed)
        self._fit_height()

    def _colors(self) -> tuple[QColor, QColor]:
        accent = self.palette().color(QPalette.ColorRole.Highlight)
        error = QColor("#f87171") if self.palette().color(QPalette.ColorRole.Base).lightness() < 128 else QColor("#dc2626")
        return accent, error

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.highlighter.set_colors(*self._colors())

    def set_completions(self, words: list[str]) -> None:
        model = self.completer.model()
        assert isinstance(model, QStringListModel)
        model.setStringList(words)

    def set_text(self, text: str) -> None:
        """Set from the model (no `edited`)."""
        if text == self.toPlainText():
            return
        self._setting = True
        try:
            self.setPlainText(text)
        finally:
            self._setting = False
        self._fit_height()

    def text(self) -> str:
        return self.toPlainText()

    def _on_text_changed(self) -> None:
        self._fit_height()
        if not self._setting:
            self.edited.emit()

    def _fit_height(self) -> None:
        """Grow with the (wrapped) text, one line minimum (two for multi-line fields)."""
        lines = max(2 if self.multiline else 1, min(self.max_lines, self._wrapped_lines()))
        chrome = 2 * self.frameWidth() + 2 * self.document().documentMargin() + 2
        height = round(self.fontMetrics().lineSpacing() * lines + chrome)
        if self.height() != height:
            self.setFixedHeight(height)
        policy = Qt.ScrollBarPolicy.ScrollBarAsNeeded if self._wrapped_lines() > self.max_lines else Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        self.setVerticalScrollBarPolicy(policy)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def _wrapped_lines(self) -> int:
        layout = self.document().documentLayout()
        return max(1, round(layout.documentSize().height())) if layout is not None else 1

    def sizeHint(self) -> QSize:
        return QSize(200, self.height())

    def _popup(self) -> QAbstractItemView:
        """The completer's list (Qt makes one on first use: never None)."""
        popup = self.completer.popup()
        assert popup is not None
        return popup

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        if not self._popup().isVisible():
            self.committed.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        popup = self._popup()
        if popup.isVisible() and event.key() in (
            Qt.Key.Key_Enter, Qt.Key.Key_Return, Qt.Key.Key_Escape, Qt.Key.Key_Tab, Qt.Key.Key_Backtab
        ):
            event.ignore()  # the completer handles these
            return
        if not self.multiline and event.key() in (Qt.Key.Key_Enter, Qt.Key.Key_Return):
            self.committed.emit()
            return
        super().keyPressEvent(event)
        self.update_completion(force=event.key() == Qt.Key.Key_Space and bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier))

    def current_prefix(self) -> str | None:
        """The name being typed inside `{{ }}` left of the cursor, or None outside expressions."""
        cursor = self.textCursor()
        text = self.toPlainText()
        pos = cursor.position()
        if not expression_context(text, pos):
            return None
        match = _WORD.search(text[:pos])
        return match.group(0) if match else ""

    def update_completion(self, force: bool = False) -> None:
        prefix = self.current_prefix()
        popup = self._popup()
        if prefix is None or (not prefix and not force):
            popup.hide()
            return
        self.completer.setCompletionPrefix(prefix)
        if self.completer.completionCount() == 0 or (
            self.completer.completionCount() == 1 and self.completer.currentCompletion() == prefix
        ):
            popup.hide()
            return
        popup.setCurrentIndex(self.completer.completionModel().index(0, 0))
        rect = self.cursorRect()
        rect.setWidth(popup.sizeHintForColumn(0) + popup.verticalScrollBar().sizeHint().width() + 12)
        self.completer.complete(rect)

    def insert_completion(self, completion: str) -> None:
        prefix = self.completer.completionPrefix()
        cursor = self.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor, len(prefix))
        cursor.insertText(completion)
        self.setTextCursor(cursor)


def completion_words(variables: dict[str, Any], node_names: list[str], sample_input: Any) -> list[str]:
    """Names offered while typing an expression."""
    words = ["input", "vars", "nodes", "loop", "loop.index", "loop.item", "execution", "execution.id",
             "execution.started_at", *[f"{f}" for f in expressions.FUNCTIONS]]  # fmt: skip
    words += [f"vars.{k}" for k in variables if str(k).isidentifier()]
    words += [f'nodes["{n}"]' for n in node_names]
    if isinstance(sample_input, dict):
        words += [f"input.{k}" for k in sample_input if str(k).isidentifier()]
    return sorted(set(words), key=str.lower)


def preview_text(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 300 else text[:297] + "…"


class PreviewLabel(QLabel):
    """Shows `= value` for a field holding expressions, or the error inline (red)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setObjectName("preview")
        self.error: str | None = None
        self.hide()

    def show_value(self, value: Any) -> None:
        self.error = None
        self.setObjectName("preview")
        self.setText(f"= {preview_text(value)}")
        self._restyle()
        self.show()

    def show_error(self, message: str) -> None:
        self.error = message
        self.setObjectName("previewError")
        self.setText(f"⚠ {message}")
        self._restyle()
        self.show()

    def clear_preview(self) -> None:
        self.error = None
        self.hide()

    def _restyle(self) -> None:
        self.style().unpolish(self)
        self.style().polish(self)


class ExpressionField(QWidget):
    """An ExpressionEdit with its preview underneath; `names_provider` supplies sample names."""

    def __init__(self, names_provider: Callable[[], dict[str, Any]], *, multiline: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.names_provider = names_provider
        self.edit = ExpressionEdit(multiline=multiline)
        self.preview = PreviewLabel()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.edit)
        layout.addWidget(self.preview)
        self.edit.textChanged.connect(self.refresh_preview)

    def refresh_preview(self) -> None:
        text = self.edit.toPlainText()
        if "{{" not in text:
            self.preview.clear_preview()
            return
        try:
            expressions.check(text)
        except ExpressionError:
            # a syntax error is the validator's problem, shown once under the field (with its position)
            self.preview.clear_preview()
            return
        try:
            value = expressions.render(text, self.names_provider())
        except ExpressionError as exc:
            self.preview.show_error(exc.message)
        else:
            self.preview.show_value(value)
