"""The code node's editor in the inspector: line numbers, highlighting, completion and Test.

`CodeEdit` is a QPlainTextEdit with a line-number gutter, JavaScript or Python
highlighting, indentation on Enter/Tab, completion of the code's names and of
the fields of the node's last input (from the last run, else the inspector's
sample), and a mark on the line of the last error. `CodeFieldEditor` is the form
field: the editor, a Test button that runs just this node once on that input
(`engine.nodes.code.run_once`, on a worker thread so the window never waits) and
a result pane with the output or the error and what the code logged.
"""

from __future__ import annotations

import asyncio
import json
import keyword
import re
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QRect, QSize, QStringListModel, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QKeyEvent,
    QPainter,
    QPalette,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.panels.inspector.fields import MISSING, FieldEditor, FieldModel

if TYPE_CHECKING:
    from app.panels.inspector.panel import NodeForm
    from engine.model import Node

JS_KEYWORDS = [
    "async", "await", "break", "case", "catch", "class", "const", "continue", "debugger", "default",
    "delete", "do", "else", "export", "extends", "false", "finally", "for", "function", "if", "import",
    "in", "instanceof", "let", "new", "null", "of", "return", "super", "switch", "this", "throw", "true",
    "try", "typeof", "undefined", "var", "void", "while", "with", "yield",
]
PY_BUILTINS = [
    "len", "str", "int", "float", "bool", "dict", "list", "set", "tuple", "range", "enumerate", "zip",
    "sorted", "sum", "min", "max", "abs", "round", "any", "all", "print", "isinstance", "map", "filter",
    "reversed",
]
NAMES = ("input", "vars", "nodes", "execution", "loop")
JS_NAMES = ("$json", "$input", "$node", "$vars", "$execution", "$", "items", "console")
_TOKEN = re.compile(r"[\w$.\[\]\"'()]*$")
MAX_FIELD_DEPTH = 4
MAX_WORDS = 2000


def _fmt(color: QColor, *, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    f = QTextCharFormat()
    f.setForeground(color)
    if bold:
        f.setFontWeight(QFont.Weight.DemiBold)
    f.setFontItalic(italic)
    return f


class CodeHighlighter(QSyntaxHighlighter):
    """Keywords, the code's names, strings, numbers and comments, for JavaScript or Python.

    Block states carry what is still open at a line's end: 1 a `/* */` comment,
    2 a `'''` string, 3 a `\"\"\"` string, 4 a template literal.
    """

    def __init__(self, document: Any, language: str, dark: bool) -> None:
        super().__init__(document)
        self.language = language
        self.set_theme(dark)

    def set_theme(self, dark: bool) -> None:
        self.formats = {
            "keyword": _fmt(QColor("#c792ea" if dark else "#7c3aed"), bold=True),
            "name": _fmt(QColor("#82aaff" if dark else "#1d4ed8"), bold=True),
            "builtin": _fmt(QColor("#89ddff" if dark else "#0e7490")),
            "string": _fmt(QColor("#c3e88d" if dark else "#15803d")),
            "number": _fmt(QColor("#f78c6c" if dark else "#c2410c")),
            "comment": _fmt(QColor("#7f8c98" if dark else "#6b7280"), italic=True),
        }
        self.rehighlight()

    def set_language(self, language: str) -> None:
        if language != self.language:
            self.language = language
            self.rehighlight()

    def _rules(self) -> list[tuple[re.Pattern[str], str]]:
        words: Sequence[str]
        builtins: Sequence[str]
        names: Sequence[str]
        if self.language == "python":
            words = keyword.kwlist
            builtins = PY_BUILTINS
            names = NAMES
        else:
            words, builtins, names = JS_KEYWORDS, ["console", "JSON", "Math", "Object", "Array", "Date"], NAMES + JS_NAMES
        return [
            (re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b"), "keyword"),
            (re.compile(r"\b(?:" + "|".join(map(re.escape, builtins)) + r")\b"), "builtin"),
            (re.compile(r"(?<![\w$])(?:" + "|".join(map(re.escape, names)) + r")(?![\w$])"), "name"),
            (re.compile(r"\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b"), "number"),
        ]

    def highlightBlock(self, text: str) -> None:
        for pattern, kind in self._rules():
            for m in pattern.finditer(text):
                self.setFormat(m.start(), m.end() - m.start(), self.formats[kind])
        self.setCurrentBlockState(0)
        self._strings_and_comments(text)

    def _strings_and_comments(self, text: str) -> None:
        """One left-to-right pass, so a `#` in a string is not a comment (and the reverse)."""
        python = self.language == "python"
        i, n = 0, len(text)
        state = self.previousBlockState()
        if state > 0:
            i = self._close(text, 0, state)
        while i < n:
            ch = text[i]
            if (python and ch == "#") or (not python and text.startswith("//", i)):
                self.setFormat(i, n - i, self.formats["comment"])
                return
            if not python and text.startswith("/*", i):
                i = self._close(text, i, 1, skip=2)
            elif python and text.startswith(("'''", '"""'), i):
                i = self._close(text, i, 2 if ch == "'" else 3, skip=3)
            elif not python and ch == "`":
                i = self._close(text, i, 4, skip=1)
            elif ch in "'\"":
                end = i + 1
                while end < n and text[end] != ch:
                    end += 2 if text[end] == "\\" else 1
                self.setFormat(i, min(end + 1, n) - i, self.formats["string"])
                i = end + 1
            else:
                i += 1

    def _close(self, text: str, start: int, state: int, skip: int = 0) -> int:
        closer = {1: "*/", 2: "'''", 3: '"""', 4: "`"}[state]
        end = text.find(closer, start + skip)
        kind = "comment" if state == 1 else "string"
        if end < 0:
            self.setFormat(start, len(text) - start, self.formats[kind])
            self.setCurrentBlockState(state)
            return len(text)
        end += len(closer)
        self.setFormat(start, end - start, self.formats[kind])
        return end


def field_paths(value: Any, prefix: str, style: str, depth: int = 0) -> list[str]:
    """`input.a.b` (JavaScript) or `input["a"]["b"]` (Python) for the fields of a sample."""
    if depth >= MAX_FIELD_DEPTH:
        return []
    out: list[str] = []
    if isinstance(value, list) and value:
        out += field_paths(value[0], f"{prefix}[0]", style, depth + 1)
    elif isinstance(value, dict):
        for key in list(value)[:200]:
            key_text = str(key)
            if style == "python":
                path = f'{prefix}["{key_text}"]'
            else:
                path = f"{prefix}.{key_text}" if key_text.isidentifier() else f'{prefix}["{key_text}"]'
            out.append(path)
            out += field_paths(value[key], path, style, depth + 1)
    return out


def completion_words(language: str, names: dict[str, Any], node_names: list[str]) -> list[str]:
    """What the completer offers: the names, the sample input's fields, variables, nodes."""
    sample = names.get("input")
    words = list(NAMES)
    words += field_paths(sample, "input", language)
    words += field_paths(names.get("vars") or {}, "vars", language)
    if language == "python":
        words += [f'nodes["{n}"]' for n in node_names] + PY_BUILTINS
    else:
        words += [*JS_NAMES, "$input.all()", "$input.first().json", "$input.item.json", "console.log"]
        words += [f"$('{n}').item.json" for n in node_names] + [f'$node["{n}"].json' for n in node_names]
        json_sample = sample[0] if isinstance(sample, list) and sample else sample
        words += field_paths(json_sample, "$json", language)
    return sorted(dict.fromkeys(words), key=str.lower)[:MAX_WORDS]


class _Gutter(QWidget):
    def __init__(self, editor: CodeEdit) -> None:
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self) -> QSize:
        return QSize(self.editor.gutter_width(), 0)

    def paintEvent(self, event: Any) -> None:
        self.editor.paint_gutter(event)


class CodeEdit(QPlainTextEdit):
    """A code editor: line numbers, highlighting, indentation, completion, error line mark."""

    def __init__(self, language: str = "javascript", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("codeEdit")
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.setFont(font)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabChangesFocus(False)
        self.error_line: int | None = None
        self.gutter = _Gutter(self)
        self.highlighter = CodeHighlighter(self.document(), language, self._dark())
        self.completer = QCompleter(self)
        self.completer.setWidget(self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.setModel(QStringListModel(self.completer))
        self.completer.activated.connect(self.insert_completion)
        self.blockCountChanged.connect(self._update_margins)
        self.updateRequest.connect(self._scroll_gutter)
        self._update_margins()
        self.setMinimumHeight(self.fontMetrics().lineSpacing() * 14)

    @property
    def language(self) -> str:
        return self.highlighter.language

    def _dark(self) -> bool:
        return self.palette().color(QPalette.ColorRole.Base).lightness() < 128

    def set_language(self, language: str) -> None:
        self.highlighter.set_language(language)

    def set_completions(self, words: list[str]) -> None:
        model = self.completer.model()
        assert isinstance(model, QStringListModel)
        model.setStringList(words)

    def completion_popup(self) -> QAbstractItemView:
        """The completion list (QCompleter makes it on first ask, so it is never None)."""
        popup = self.completer.popup()
        assert popup is not None
        return popup

    def completions(self) -> list[str]:
        model = self.completer.model()
        assert isinstance(model, QStringListModel)
        return model.stringList()

    # -- gutter -------------------------------------------------------------------
    def gutter_width(self) -> int:
        digits = len(str(max(1, self.blockCount())))
        return 10 + self.fontMetrics().horizontalAdvance("9") * max(2, digits)

    def _update_margins(self, *_: Any) -> None:
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)

    def _scroll_gutter(self, rect: QRect, dy: int) -> None:
        if dy:
            self.gutter.scroll(0, dy)
        else:
            self.gutter.update(0, rect.y(), self.gutter.width(), rect.height())

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        cr = self.contentsRect()
        self.gutter.setGeometry(QRect(cr.left(), cr.top(), self.gutter_width(), cr.height()))

    def paint_gutter(self, event: Any) -> None:
        painter = QPainter(self.gutter)
        try:
            self._paint_gutter(painter, event)
        finally:  # a failed paint's traceback may outlive it and keep the painter: end it here
            painter.end()

    def _paint_gutter(self, painter: QPainter, event: Any) -> None:
        pal = self.palette()
        painter.fillRect(event.rect(), pal.color(QPalette.ColorRole.AlternateBase))
        block = self.firstVisibleBlock()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        height = self.fontMetrics().height()
        while block.isValid() and top <= event.rect().bottom():
            number = block.blockNumber() + 1
            if block.isVisible():
                is_error = number == self.error_line
                color = QColor("#ef4444") if is_error else pal.color(QPalette.ColorRole.PlaceholderText)
                painter.setPen(color)
                painter.drawText(0, top, self.gutter.width() - 5, height, Qt.AlignmentFlag.AlignRight, str(number))
            top += round(self.blockBoundingRect(block).height())
            block = block.next()

    # -- error line -----------------------------------------------------------------
    def mark_error_line(self, line: int | None) -> None:
        """Tint the line the last Test failed on (None clears it)."""
        self.error_line = line
        selections = []
        if line is not None and 1 <= line <= self.blockCount():
            sel = QTextEdit.ExtraSelection()
            color = QColor("#ef4444")
            color.setAlpha(50)
            sel.format.setBackground(color)
            sel.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
            sel.cursor = QTextCursor(self.document().findBlockByNumber(line - 1))
            selections.append(sel)
        self.setExtraSelections(selections)
        self.gutter.update()

    # -- typing ---------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        popup = self.completion_popup()
        if popup.isVisible() and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab,
                                                 Qt.Key.Key_Escape):
            event.ignore()  # the popup takes them
            return
        if event.key() == Qt.Key.Key_Tab and not event.modifiers():
            self.insertPlainText("    " if self.language == "python" else "  ")
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._newline_with_indent()
            return
        if event.key() == Qt.Key.Key_Space and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.show_completions(force=True)
            return
        super().keyPressEvent(event)
        text = event.text()
        if text and (text.isalnum() or text in "._$[\"'"):
            self.show_completions()
        elif popup.isVisible():
            popup.hide()

    def _newline_with_indent(self) -> None:
        line = self.textCursor().block().text()
        indent = line[: len(line) - len(line.lstrip())]
        stripped = line.rstrip()
        if stripped.endswith(("{", "[", "(")) or (self.language == "python" and stripped.endswith(":")):
            indent += "    " if self.language == "python" else "  "
        self.insertPlainText("\n" + indent)

    def current_token(self) -> str:
        cursor = self.textCursor()
        before = cursor.block().text()[: cursor.positionInBlock()]
        match = _TOKEN.search(before)
        return match.group(0) if match else ""

    def show_completions(self, *, force: bool = False) -> None:
        token = self.current_token()
        if not token and not force:
            self.completion_popup().hide()
            return
        self.completer.setCompletionPrefix(token)
        if self.completer.completionCount() == 0 or (
            self.completer.completionCount() == 1 and self.completer.currentCompletion() == token
        ):
            self.completion_popup().hide()
            return
        rect = self.cursorRect()
        rect.setWidth(max(220, self.completion_popup().sizeHintForColumn(0) + 24))
        self.completer.complete(rect)

    def insert_completion(self, word: str) -> None:
        cursor = self.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor,
                            len(self.completer.completionPrefix()))
        cursor.insertText(word)
        self.setTextCursor(cursor)


class CodeFieldEditor(FieldEditor):
    """The `code` field of a code node: the editor, Test, and the result of the last Test."""

    test_finished = Signal(object)  # engine.nodes.code.CodeRun (emitted from the worker thread)

    def __init__(self, fm: FieldModel, form: NodeForm, parent: QWidget | None = None) -> None:
        super().__init__(fm, parent)
        self.form = form
        node = form.controller.wf.node(form.node_id)
        self.edit = CodeEdit(_language_of(node))
        self._setting = False
        self.test_button = QPushButton("▶ Test")
        self.test_button.setToolTip("Run just this node once on its last input (the last run's, "
                                    "else the sample below) and show the output")
        self.source_label = QLabel()
        self.source_label.setObjectName("fieldHelp")
        self.source_label.setWordWrap(True)
        self.source_label.setMinimumWidth(40)  # wraps inside a narrow dock instead of widening it
        self.result = QPlainTextEdit()
        self.result.setObjectName("codeResult")
        self.result.setReadOnly(True)
        self.result.setFont(self.edit.font())
        self.result.setMaximumHeight(self.fontMetrics().lineSpacing() * 9)
        self.result.hide()
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.test_button)
        bar.addWidget(self.source_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.edit)
        layout.addLayout(bar)
        layout.addWidget(self.result)
        self.edit.textChanged.connect(self._text_changed)
        self.test_button.clicked.connect(self.run_test)
        self.test_finished.connect(self._show_result)
        self.testing = False
        self.last_run: Any = None

    # -- FieldEditor ------------------------------------------------------------------
    def value(self) -> Any:
        text = self.edit.toPlainText()
        return text if text else MISSING

    def set_value(self, value: Any) -> None:
        text = "" if value is MISSING or value is None else str(value)
        if text != self.edit.toPlainText():
            self._setting = True
            try:
                self.edit.setPlainText(text)
            finally:
                self._setting = False

    def _text_changed(self) -> None:
        if self.edit.error_line is not None:
            self.edit.mark_error_line(None)
        if not self._setting:
            self.changed.emit()

    def node_changed(self, node: Node) -> None:
        """The form saw the node's config change (e.g. its language, also by undo)."""
        self.edit.set_language(_language_of(node))
        self.update_completions()

    def update_completions(self) -> None:
        wf = self.form.controller.wf
        others = [n.name for n in wf.nodes if n.id != self.form.node_id]
        names = self.form.inspector.sample_names()
        self.edit.set_completions(completion_words(self.edit.language, names, others))

    # -- Test -------------------------------------------------------------------------
    def test_names(self) -> tuple[dict[str, Any], str]:
        """The names for Test and where the input came from."""
        inspector = self.form.inspector
        provider = inspector.sample_provider
        data = provider(self.form.node_id) if provider else None
        names = inspector.sample_names()
        names["loop"] = None  # the preview's made-up loop item would not be this node's
        names["execution"] = {"id": "test", "started_at": names["execution"].get("started_at")}
        source = "last run's input" if data and "input" in data else "sample input"
        return names, source

    def run_test(self) -> None:
        if self.testing:
            return
        node = self.form.controller.wf.node(self.form.node_id)
        config = {**(node.config if isinstance(node.config, dict) else {}), "code": self.edit.toPlainText()}
        trusted = False
        if config.get("language") == "python":
            trusted = self._confirm_trust()
            if not trusted:
                self._show_text("Not run: Python code runs outside the sandbox and the workflow is not trusted.")
                return
        names, source = self.test_names()
        self.source_label.setText(f"running on the {source}…")
        self.result.hide()
        self.testing = True
        self.test_button.setEnabled(False)
        worker = threading.Thread(target=self._work, args=(config, names, trusted, source),
                                  name="code-test", daemon=True)
        worker.start()

    def _confirm_trust(self) -> bool:
        from app.trust_dialog import TrustDialog, is_trusted, on_dialog, remember

        wf = self.form.controller.wf
        path = self.form.controller.document.path
        path_text = str(path) if path else None
        if is_trusted(wf, path_text):
            return True
        dialog = TrustDialog(wf, path_text, self.window())
        for hook in list(on_dialog):
            hook(dialog)
        accepted = dialog.exec() == TrustDialog.DialogCode.Accepted.value
        if accepted and path_text:
            remember(wf, path_text)
        return accepted

    def _work(self, config: dict[str, Any], names: dict[str, Any], trusted: bool, source: str) -> None:
        from engine import trust
        from engine.nodes.code import CodeRun, run_once

        try:
            with trust.granted(trusted):
                run = asyncio.run(run_once(config, json.loads(json.dumps(names, default=str))))
        except Exception as exc:  # never lose the button: show what went wrong
            run = CodeRun(error=f"{type(exc).__name__}: {exc}")
        run.logs.insert(0, source)
        self.test_finished.emit(run)

    def _show_result(self, run: Any) -> None:
        self.testing = False
        self.test_button.setEnabled(True)
        self.last_run = run
        source = run.logs.pop(0) if run.logs else ""
        self.source_label.setText(f"ran on the {source}")
        self.edit.mark_error_line(run.line)
        if run.error is not None:
            lines = [f"✗ {run.error}"]
            self.result.setProperty("failed", True)
        else:
            lines = ["✓ output:", json.dumps(run.value, indent=2, ensure_ascii=False)]
            self.result.setProperty("failed", False)
        if run.logs:
            lines += ["", *run.logs]
        self._show_text("\n".join(lines))

    def _show_text(self, text: str) -> None:
        self.result.setPlainText(text)
        self.result.show()


def _language_of(node: Node) -> str:
    config = node.config if isinstance(node.config, dict) else {}
    return "python" if config.get("language") == "python" else "javascript"


def editor_for(fm: FieldModel, form: NodeForm) -> FieldEditor | None:
    """The inspector's hook: the code node's `code` field gets the code editor, and
    execute_command's `command` a JSON list (a comma-separated list would split an
    argument that holds a comma)."""
    node_type = form.spec.type if form.spec is not None else None
    if node_type == "code" and fm.key == "code":
        editor = CodeFieldEditor(fm, form)
        editor.update_completions()
        return editor
    if node_type == "execute_command" and fm.key == "command":
        from app.panels.inspector.fields import JsonEditor

        return JsonEditor(replace(fm, kind="json", multiline=False), form.inspector.sample_names)
    return None
