"""The inspector: edits the selected node (or the workflow when nothing is selected).

Every edit goes through the EditController (an undo command); the inspector
also listens to the model so undo/redo and edits made elsewhere show up in
the form. A field only rewrites its widget when the model holds a different
value than the widget shows, so typing is never interrupted by its own echo.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.document.controller import EditController
from app.icons import node_icon
from app.panels.inspector import code_editor
from app.panels.inspector.expression import ExpressionEdit, ExpressionField, completion_words
from app.panels.inspector.fields import (
    MISSING,
    FieldModel,
    FieldRow,
    KeyValueEditor,
    describe_fields,
    make_editor,
    narrow_combo,
    parse_loose,
)
from app.panels.inspector.retry import RetryEditor
from app.panels.inspector.run_mode import PINNED, REPLAY, ReplayContext, RunModeSection
from app.theme import category_color
from engine import expressions
from engine.errors import Problem
from engine.model import Node, Workflow
from engine.nodes.registry import find_spec
from engine.replay import REPLAYABLE

ON_ERROR_HELP = {
    "fail": "the run fails (after any retries)",
    "route": "the error object goes out of an extra `error` port",
    "continue": "the node's input passes on as if it had succeeded",
}
# node id -> {"input": ..., "nodes": {name: output}} from the last run, or None
SampleProvider = Callable[[str], "dict[str, Any] | None"]


def _section(title: str) -> QLabel:
    label = QLabel(title.upper())
    label.setObjectName("sectionTitle")
    return label


class NodeForm(QWidget):
    """The form of one node; built once per selection, then kept in sync."""

    def __init__(self, inspector: Inspector, node: Node) -> None:
        super().__init__()
        self.inspector = inspector
        self.controller = inspector.controller
        self.node_id = node.id
        self.spec = find_spec(node.type)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(6)

        self._build_header(layout, node)
        self._build_node_section(layout, node)
        self._build_settings(layout, node)
        self._build_failure(layout, node)
        self._build_run_mode(layout, node)
        self._build_preview(layout, node)
        layout.addStretch(1)
        self.update_completions()

    def _build_header(self, layout: QVBoxLayout, node: Node) -> None:
        """The type's icon, title and description, and a line for general problems."""
        header = QHBoxLayout()
        icon = QLabel()
        color = category_color(self.spec.category if self.spec else None)
        icon.setPixmap(node_icon(self.spec.icon if self.spec else None, node.type, color, 28).pixmap(28, 28))
        title = QLabel(f"<b>{self.spec.title if self.spec else node.type}</b>")
        title.setTextFormat(Qt.TextFormat.RichText)
        header.addWidget(icon)
        header.addWidget(title, 1)
        layout.addLayout(header)
        desc = QLabel(self.spec.description if self.spec else f"Unknown node type {node.type!r}: it cannot run.")
        desc.setWordWrap(True)
        desc.setObjectName("fieldHelp")
        layout.addWidget(desc)
        self.general = QLabel()
        self.general.setObjectName("previewError")
        self.general.setWordWrap(True)
        self.general.hide()
        layout.addWidget(self.general)

    def _build_node_section(self, layout: QVBoxLayout, node: Node) -> None:
        """Name and the disabled switch."""
        layout.addWidget(_section("Node"))
        self.name = QLineEdit(node.name)
        self.name.setPlaceholderText("unique name (used as nodes[\"name\"] in expressions)")
        self.name_problem = QLabel()
        self.name_problem.setObjectName("previewError")
        self.name_problem.hide()
        layout.addWidget(QLabel("name"))
        layout.addWidget(self.name)
        layout.addWidget(self.name_problem)
        self.disabled = QCheckBox("disabled (skipped when the workflow runs)")
        self.disabled.setChecked(node.disabled)
        layout.addWidget(self.disabled)
        self.name.editingFinished.connect(self._rename)
        self.disabled.toggled.connect(lambda on: self.controller.set_disabled([self.node_id], on))

    def _build_settings(self, layout: QVBoxLayout, node: Node) -> None:
        """One row per config field (an imported placeholder: its settings read-only)."""
        self.rows: dict[str, FieldRow] = {}
        placeholder = node.type == "unsupported"  # an imported node: its settings are shown read-only
        fields: list[FieldModel] = describe_fields(self.spec.config_model) if self.spec and not placeholder else []
        if fields:
            layout.addWidget(_section("Settings"))
        for fm in fields:
            editor = code_editor.editor_for(fm, self) or make_editor(fm, self.inspector.sample_names)
            row = FieldRow(editor)
            self.rows[fm.key] = row
            editor.set_value(node.config.get(fm.key, MISSING))
            editor.changed.connect(lambda key=fm.key: self._field_changed(key))
            layout.addWidget(row)
        if placeholder:
            from app.dialogs_import import placeholder_view

            layout.addWidget(_section("Imported settings (read-only)"))
            layout.addWidget(placeholder_view(node.config))
        extra = [k for k in node.config if k not in self.rows] if not placeholder else []
        if extra:
            note = QLabel(f"Keys this node type does not know: {', '.join(extra)}")
            note.setObjectName("previewError")
            note.setWordWrap(True)
            layout.addWidget(note)

    def _build_failure(self, layout: QVBoxLayout, node: Node) -> None:
        """What happens when it fails: on_error and the retry policy."""
        layout.addWidget(_section("When it fails"))
        self.on_error = QComboBox()
        narrow_combo(self.on_error)
        for choice, help_text in ON_ERROR_HELP.items():
            self.on_error.addItem(f"{choice} — {help_text}", choice)
        self.on_error.setCurrentIndex(max(0, self.on_error.findData(node.on_error)))
        self.on_error.currentIndexChanged.connect(lambda _i: self.controller.set_on_error(self.node_id, self.on_error.currentData()))
        layout.addWidget(QLabel("on error"))
        layout.addWidget(self.on_error)
        self.retry = RetryEditor(self.spec.default_retry if self.spec else "none")
        self.retry.set_value(node.retry)
        self.retry.changed.connect(lambda: self.controller.set_retry(self.node_id, self.retry.value(), "retry"))
        layout.addWidget(QLabel("retry"))
        layout.addWidget(self.retry)

    def _build_run_mode(self, layout: QVBoxLayout, node: Node) -> None:
        """HTTP and email nodes: Live / Replay / Pinned in debug re-runs."""
        self.run_mode: RunModeSection | None = None
        if node.type not in REPLAYABLE:
            return
        layout.addWidget(_section("In a re-run"))
        self.run_mode = RunModeSection(node, self.inspector.strict_replay_action)
        self.run_mode.show_state(node, self.inspector.replay_context)
        self.run_mode.mode_chosen.connect(self._mode_chosen)
        layout.addWidget(self.run_mode)

    def _mode_chosen(self, mode: str) -> None:
        """Live / Replay are one undoable step; Pinned pins the node's output in the run shown
        (the runner's pin, as Run data's "Pin this output")."""
        if mode == PINNED:
            self.inspector.pin_requested.emit(self.node_id)
        else:
            self.controller.set_replay(self.node_id, mode == REPLAY)
        self.show_run_mode()  # the model says what happened (a refused edit leaves it as it was)

    def show_run_mode(self) -> None:
        node = self.controller.wf.get(self.node_id)
        if self.run_mode is not None and node is not None:
            self.run_mode.show_state(node, self.inspector.replay_context)

    def _build_preview(self, layout: QVBoxLayout, node: Node) -> None:
        """Sample input used to preview the expressions above."""
        layout.addWidget(_section("Preview data"))
        hint = QLabel("Sample input (JSON) used to preview the expressions above.")
        hint.setObjectName("fieldHelp")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.sample = ExpressionEdit(multiline=True)
        self.sample.set_text(json.dumps(self.inspector.samples.get(node.id, {}), indent=2))
        self.sample.edited.connect(self._sample_changed)
        layout.addWidget(self.sample)
        self.sample_problem = QLabel()
        self.sample_problem.setObjectName("previewError")
        self.sample_problem.hide()
        layout.addWidget(self.sample_problem)

    # -- user edits ---------------------------------------------------------------
    def _rename(self) -> None:
        reason = self.controller.rename(self.node_id, self.name.text())
        self.name_problem.setText(f"⚠ {reason}" if reason else "")
        self.name_problem.setVisible(bool(reason))
        if reason:
            self.name.setText(self.controller.wf.node(self.node_id).name)

    def _field_changed(self, key: str) -> None:
        row = self.rows[key]
        value = row.editor.normalized()
        if not row.editor.error:  # e.g. "not a number": shown inline, the model keeps its value
            self.controller.set_config_value(self.node_id, key, value, remove=value is MISSING)
        row.set_problems(self.inspector.field_problems(self.node_id, f"config.{key}"))

    def _sample_changed(self) -> None:
        text = self.sample.text()
        try:
            value = json.loads(text) if text.strip() else {}
        except ValueError as exc:
            self.sample_problem.setText(f"⚠ not valid JSON: {exc}")
            self.sample_problem.show()
            return
        self.sample_problem.hide()
        self.inspector.samples[self.node_id] = value
        self.refresh_previews()
        self.update_completions()

    # -- model -> form ------------------------------------------------------------------
    def sync(self, node: Node, attr: str) -> None:
        if attr == "name" and self.name.text() != node.name and not self.name.hasFocus():
            self.name.setText(node.name)
        elif attr == "config":
            for key, row in self.rows.items():
                model_value = node.config.get(key, MISSING)
                shown = row.editor.normalized()
                if not _same(shown, model_value):
                    row.editor.set_value(model_value)
                if isinstance(row.editor, code_editor.CodeFieldEditor):
                    row.editor.node_changed(node)
        elif attr == "on_error":
            self.on_error.blockSignals(True)
            self.on_error.setCurrentIndex(max(0, self.on_error.findData(node.on_error)))
            self.on_error.blockSignals(False)
        elif attr == "retry" and not _same(self.retry.value(), node.retry):
            self.retry.set_value(node.retry)
        elif attr == "disabled":
            self.disabled.blockSignals(True)
            self.disabled.setChecked(node.disabled)
            self.disabled.blockSignals(False)
        elif attr in ("pin", "replay"):
            self.show_run_mode()

    def refresh_previews(self) -> None:
        for row in self.rows.values():
            field = getattr(row.editor, "field", None)
            if isinstance(field, ExpressionField):
                field.refresh_preview()
            elif isinstance(row.editor, code_editor.CodeFieldEditor):
                row.editor.update_completions()  # new last-run data: new input fields

    def update_completions(self) -> None:
        wf = self.controller.wf
        words = completion_words(wf.variables, [n.name for n in wf.nodes if n.id != self.node_id], self.inspector.samples.get(self.node_id))
        for row in self.rows.values():
            edit = getattr(row.editor, "edit", None)
            if isinstance(edit, ExpressionEdit):
                edit.set_completions(words)
            elif isinstance(row.editor, code_editor.CodeFieldEditor):
                row.editor.update_completions()

    def show_problems(self, problems: list[Problem]) -> None:
        general = []
        for key, row in self.rows.items():
            row.set_problems([p.message for p in problems if p.field and (p.field == f"config.{key}" or p.field.startswith(f"config.{key}."))])
        for p in problems:
            field = p.field or ""
            if field.startswith("config.") and field.split(".")[1] in self.rows:
                continue
            general.append(p.message if not field else f"{field}: {p.message}")
        self.general.setText("\n".join(f"⚠ {m}" for m in general))
        self.general.setVisible(bool(general))


def _same(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return a is b
    return a == b and type(a) is type(b)


class WorkflowForm(QWidget):
    """Shown when nothing is selected: the workflow's name and variables."""

    def __init__(self, inspector: Inspector, wf: Workflow) -> None:
        super().__init__()
        self.inspector = inspector
        self.controller = inspector.controller
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(6)
        layout.addWidget(QLabel("<b>Workflow</b>"))
        hint = QLabel("Select a node to edit it. Nothing selected: these settings belong to the whole workflow.")
        hint.setObjectName("fieldHelp")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addWidget(_section("General"))
        layout.addWidget(QLabel("name"))
        self.name = QLineEdit(wf.name)
        self.name.editingFinished.connect(lambda: self.controller.set_workflow_name(self.name.text().strip() or "Untitled"))
        layout.addWidget(self.name)
        layout.addWidget(_section("Variables"))
        vhint = QLabel("Read in expressions as vars.name; `processengine run --var name=value` overrides them.")
        vhint.setObjectName("fieldHelp")
        vhint.setWordWrap(True)
        layout.addWidget(vhint)
        self.variables = KeyValueEditor(FieldModel(key="variables", kind="dict", required=False, default=MISSING, description=""))
        self.variables.set_value(wf.variables)
        self.variables.changed.connect(self._variables_changed)
        layout.addWidget(self.variables)
        layout.addWidget(_section("Runs"))
        layout.addWidget(QLabel("max node visits"))
        self.max_visits = QSpinBox()
        self.max_visits.setRange(1, 10_000_000)
        self.max_visits.setValue(wf.max_node_visits)
        self.max_visits.setToolTip("How often one node may run in one execution; a cycle (e.g. a polling loop) that "
                                   "runs a node more often fails the run, naming the node.")  # fmt: skip
        self.max_visits.editingFinished.connect(lambda: self.controller.set_max_node_visits(self.max_visits.value()))
        layout.addWidget(self.max_visits)
        self.summary = QLabel()
        self.summary.setObjectName("fieldHelp")
        layout.addWidget(self.summary)
        layout.addStretch(1)
        self.refresh(wf)

    def _variables_changed(self) -> None:
        value = self.variables.value()
        self.controller.set_variables({} if value is MISSING else value, "variables")

    def refresh(self, wf: Workflow) -> None:
        if self.name.text() != wf.name and not self.name.hasFocus():
            self.name.setText(wf.name)
        shown = self.variables.value()
        if (shown if shown is not MISSING else {}) != wf.variables:
            self.variables.set_value(wf.variables)
        if self.max_visits.value() != wf.max_node_visits and not self.max_visits.hasFocus():
            self.max_visits.setValue(wf.max_node_visits)
        self.summary.setText(f"{len(wf.nodes)} nodes · {len(wf.connections)} connections · {len(wf.notes)} notes")


class Inspector(QScrollArea):
    """The dock content. `show_selection(node_ids)` picks what it edits."""

    pin_requested = Signal(str)  # the run-mode switch chose Pinned: pin this node's output in the run shown

    def __init__(self, controller: EditController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.stack = QStackedWidget()
        self.setWidget(self.stack)
        self.controller = controller
        self.samples: dict[str, Any] = {}
        self.sample_provider: SampleProvider | None = None
        self.problems: list[Problem] = []
        self.form: NodeForm | WorkflowForm | QLabel | None = None
        self._selection: list[str] = []
        self._wf: Workflow | None = None
        self.read_only = False
        # the runner's: the run a re-run would replay from, and the "Strict replay" toggle
        self.replay_context: ReplayContext | None = None
        self.strict_replay_action: QAction | None = None
        self.set_controller(controller)

    # -- wiring ----------------------------------------------------------------------
    def set_controller(self, controller: EditController) -> None:
        """Follow another document (New/Open/Revert give the window a new controller)."""
        if self._wf is not None:
            ev = self._wf.events
            ev.node_changed.disconnect(self._on_node_changed)
            ev.node_removed.disconnect(self._on_structure)
            ev.node_added.disconnect(self._on_structure)
            ev.workflow_changed.disconnect(self._on_workflow_changed)
            ev.connection_added.disconnect(self._on_structure)
            ev.connection_removed.disconnect(self._on_structure)
        self.controller = controller
        self._wf = controller.wf
        ev = self._wf.events
        ev.node_changed.connect(self._on_node_changed)
        ev.node_removed.connect(self._on_structure)
        ev.node_added.connect(self._on_structure)
        ev.workflow_changed.connect(self._on_workflow_changed)
        ev.connection_added.connect(self._on_structure)
        ev.connection_removed.connect(self._on_structure)
        self.samples.clear()
        self._selection = []
        self.show_selection([], force=True)

    def set_read_only(self, read_only: bool) -> None:
        """Show the forms without letting them edit (a past run is on the canvas); the
        panel itself still scrolls."""
        self.read_only = read_only
        if self.form is not None:
            self.form.setEnabled(not read_only)

    def set_sample_provider(self, provider: SampleProvider | None) -> None:
        """For the runner: last-run data (input and node outputs) to preview expressions with."""
        self.sample_provider = provider
        if isinstance(self.form, NodeForm):
            self.form.refresh_previews()

    def set_replay_context(self, ctx: ReplayContext | None) -> None:
        """For the runner: what the run shown recorded and output (the run-mode switch's limits)."""
        self.replay_context = ctx
        if isinstance(self.form, NodeForm):
            self.form.show_run_mode()

    def set_strict_replay_action(self, action: QAction | None) -> None:
        """For the runner: the checkable "Strict replay" action, shown in the run-mode section."""
        self.strict_replay_action = action
        if isinstance(self.form, NodeForm) and self.form.run_mode is not None:
            self.show_selection(self._selection, force=True)

    def show_selection(self, node_ids: list[str], other_count: int = 0, *, force: bool = False) -> None:
        wf = self.controller.wf
        if len(node_ids) == 1 and not other_count and wf.get(node_ids[0]) is not None:
            if isinstance(self.form, NodeForm) and self.form.node_id == node_ids[0] and not force:
                return
            form: QWidget = NodeForm(self, wf.node(node_ids[0]))
        elif not node_ids and not other_count:
            if isinstance(self.form, WorkflowForm) and not force:
                self.form.refresh(wf)
                return
            form = WorkflowForm(self, wf)
        else:
            count = len(node_ids) + other_count
            form = QLabel(f"{count} items selected")
            form.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._selection = list(node_ids)
        old = self.form
        self.form = form  # type: ignore[assignment]
        form.setEnabled(not self.read_only)
        self.stack.addWidget(form)
        self.stack.setCurrentWidget(form)
        if old is not None:
            self.stack.removeWidget(old)
            old.deleteLater()
        if not (isinstance(old, NodeForm) and isinstance(form, NodeForm) and old.node_id == form.node_id):
            self.verticalScrollBar().setValue(0)  # another node's form starts at its top
        self._show_problems()

    @property
    def node_form(self) -> NodeForm | None:
        return self.form if isinstance(self.form, NodeForm) else None

    # -- sample names for previews ---------------------------------------------------
    def sample_names(self) -> dict[str, Any]:
        wf = self.controller.wf
        node_id = self.form.node_id if isinstance(self.form, NodeForm) else None
        data = self.sample_provider(node_id) if (self.sample_provider and node_id) else None
        sample_input = self.samples.get(node_id, {}) if node_id else {}
        nodes: dict[str, Any] = {}
        if data:
            sample_input = data.get("input", sample_input)
            nodes = dict(data.get("nodes") or {})
        item = sample_input[0] if isinstance(sample_input, list) and sample_input else sample_input
        names = expressions.make_names(
            input=sample_input,
            nodes=nodes,
            vars=wf.variables,
            loop={"index": 0, "item": item},
            execution={"id": "preview", "started_at": datetime.now(timezone.utc)},  # noqa: UP017
        )
        if node_id:
            names.update(self._item_names(wf.node(node_id), names, item))
        return names

    @staticmethod
    def _item_names(node: Node, names: dict[str, Any], item: Any) -> dict[str, Any]:
        """`item` and `index` for previewing a list node's per-item fields: its first item."""
        spec = find_spec(node.type)
        if spec is None or not spec.item_fields:
            return {}
        items = node.config.get("items") if isinstance(node.config, dict) else None
        if items is not None:
            try:
                items = expressions.render(items, names)
            except Exception:  # the items field shows its own error
                items = None
            item = items[0] if isinstance(items, list) and items else item
        return {"item": item, "index": 0}

    # -- problems --------------------------------------------------------------------------
    def set_problems(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        self._show_problems()

    def field_problems(self, node_id: str, field: str) -> list[str]:
        return [p.message for p in self.problems if p.node_id == node_id and p.field == field]

    def _show_problems(self) -> None:
        if isinstance(self.form, NodeForm):
            self.form.show_problems([p for p in self.problems if p.node_id == self.form.node_id])

    # -- model events ----------------------------------------------------------------------
    def _on_node_changed(self, node: Node, attr: str) -> None:
        if isinstance(self.form, NodeForm) and self.form.node_id == node.id:
            if attr == "type":
                self.show_selection([node.id], force=True)
            else:
                self.form.sync(node, attr)

    def _on_structure(self, *_args: Any) -> None:
        if isinstance(self.form, NodeForm):
            if self.controller.wf.get(self.form.node_id) is None:
                self.show_selection([])
            else:
                self.form.update_completions()
        elif isinstance(self.form, WorkflowForm):
            self.form.refresh(self.controller.wf)

    def _on_workflow_changed(self, attr: str) -> None:
        if isinstance(self.form, WorkflowForm):
            self.form.refresh(self.controller.wf)
        elif isinstance(self.form, NodeForm):
            self.form.refresh_previews()
            self.form.update_completions()


__all__ = ["Inspector", "NodeForm", "WorkflowForm", "parse_loose"]
