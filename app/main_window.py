"""The main window: canvas in the centre, palette / inspector / problems docks,
toolbar, menus, status bar, files, clipboard, autosave and settings.

Extension points for the run tools (app/runner, added later):
- `toolbar` and `menus["run"]` (an empty Run menu, hidden until it has actions);
  `add_run_actions(actions)` appends actions to both.
- `add_panel(dock, area)` adds a dock (History, Log, Timeline, Data) whose
  state is saved with the others.
- `document_changed(WorkflowDocument)` fires whenever New/Open/Revert swaps
  the document; `scene.node_item(id)` / `scene.edge_item(conn)` give the
  items whose `set_run_state` / `set_flow_label` show a run.
- `inspector.set_sample_provider(fn)` feeds last-run data to expression previews.
- `start_run()` is what `--run` calls; the runner overrides/replaces it.
- `close_guard()`, when set, is asked first on close; True keeps the window open (a run
  is active and its question is shown).
- `set_read_only(bool)` while a past run is shown: no edit by any gesture.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QPoint, QPointF, QRectF, QSizeF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QToolBar,
    QWidget,
)

from app import settings
from app.canvas.nodeitem import HEADER as NODE_HEADER
from app.canvas.nodeitem import WIDTH as NODE_WIDTH
from app.canvas.scene import WorkflowScene
from app.canvas.view import CanvasView
from app.crash_guard import guarded
from app.dialogs import Dialogs
from app.dock_tabs import DockTabGuard
from app.document import clipboard
from app.document.controller import EditController
from app.document.document import WorkflowDocument
from app.document.recovery import Autosaver, discard_recovery, pending_recoveries
from app.document.validation import Validator
from app.help import about_text, shortcuts_html
from app.icons import app_icon, ui_icon
from app.panels.inspector import Inspector
from app.panels.palette import Palette
from app.panels.problems import ProblemsPanel
from app.panels.quick_add import QuickAddPopup
from app.theme import THEMES, Theme, apply_theme
from app.wheel_guard import WheelGuard
from engine import fileformat
from engine.errors import Problem, WorkflowInvalid
from engine.model import Note, Workflow

log = logging.getLogger(__name__)
APP_TITLE = "ProcessEngine Studio"
Shortcut = QKeySequence | QKeySequence.StandardKey | list[QKeySequence]
# actions that change the document: all off while the window is read-only
EDIT_ACTIONS = ("undo", "redo", "cut", "paste", "duplicate", "delete", "disable", "add_note", "quick_add")


class MainWindow(QMainWindow):
    document_changed = Signal(object)  # WorkflowDocument
    read_only_changed = Signal(bool)

    def __init__(self, *, autosave_interval_s: float | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.dialogs = Dialogs(self)
        self.theme: Theme = THEMES.get(settings.get_str("view/theme", "light"), THEMES["light"])
        self.document = WorkflowDocument(parent=self)
        self.controller = EditController(self.document, self)
        self.read_only = False
        self._bound = False
        self.scene = WorkflowScene(self)
        self.scene.snap = settings.get_bool("view/snap", True)
        self.view = CanvasView(self.scene)
        self.setCentralWidget(self.view)
        self.validator = Validator(self)
        self.autosaver = Autosaver(autosave_interval_s or 30.0, self)
        self.import_summary: QWidget | None = None  # the last n8n import summary (non-modal)
        self.quick_add = QuickAddPopup(self)
        self._quick_add_pos = QPointF()
        self._pending_link: tuple[str, str, bool] | None = None  # a link dropped on empty canvas
        self._icon_actions: list[tuple[QAction, str]] = []
        self.actions_by_name: dict[str, QAction] = {}
        self.menus: dict[str, QMenu] = {}
        self.node_menu_actions: list[QAction] = []  # extra node actions for the canvas context menu (the debugger's)

        self.node_palette = Palette()
        self.inspector = Inspector(self.controller)
        self.problems = ProblemsPanel()
        self.palette_dock = self._dock("Nodes", "palette", self.node_palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector_dock = self._dock("Inspector", "inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        self.problems_dock = self._dock("Problems", "problems", self.problems, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.resizeDocks([self.palette_dock, self.inspector_dock], [220, 340], Qt.Orientation.Horizontal)
        self.resizeDocks([self.problems_dock], [130], Qt.Orientation.Vertical)

        self.status = QLabel()
        self.zoom_label = QLabel("100 %")
        self.problem_label = QLabel()
        self.statusBar().addPermanentWidget(self.problem_label)
        self.statusBar().addPermanentWidget(self.zoom_label)

        self._make_actions()
        self._make_menus()
        self._make_toolbar()
        self._wire()
        self._restore_settings()
        self.apply_theme(self.theme)
        self.set_document(self.document)
        self.dock_tabs = DockTabGuard(self)  # Qt 6.11 leaves a stray copy of a tab group's bar
        self.close_guard: Callable[[], bool] | None = None  # the run tools: True when they took the close
        self.wheel_guard = WheelGuard(self)
        self.wheel_guard.watch(self)  # docks and forms added later are guarded too

    # -- construction ----------------------------------------------------------------
    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{name}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, name: str, text: str, slot: Callable[..., object], shortcut: Shortcut | None = None, icon: str | None = None, checkable: bool = False, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, list):
                action.setShortcuts(shortcut)
            else:
                action.setShortcut(shortcut)
        action.setCheckable(checkable)
        if tip:
            action.setStatusTip(tip)
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{text.replace('&', '').rstrip('.…')}" + (f"  ({keys})" if keys else ""))
        action.triggered.connect(slot if checkable else _without_checked(slot))
        if icon:
            self._icon_actions.append((action, icon))
        self.actions_by_name[name] = action
        self.addAction(action)
        return action

    def _undo(self) -> None:
        if not self.read_only:
            self.document.undo_stack.undo()

    def _redo(self) -> None:
        if not self.read_only:
            self.document.undo_stack.redo()

    def _make_actions(self) -> None:
        S = QKeySequence.StandardKey
        a = self._action
        a("new", "&New", self.new_document, S.New, "new")
        a("open", "&Open…", self.open_dialog, S.Open, "open")
        a("save", "&Save", self.save, S.Save, "save")
        a("save_as", "Save &As…", self.save_as, S.SaveAs)
        a("revert", "&Revert to Saved", self.revert)
        a("import_n8n", "&Import n8n Workflow…", self.import_n8n_dialog)
        a("quit", "&Quit", self.close, S.Quit)
        a("credentials", "C&redentials…", self.show_credentials, None, "key")
        a("undo", "&Undo", self._undo, S.Undo, "undo")
        a("redo", "&Redo", self._redo, S.Redo, "redo")
        a("cut", "Cu&t", self.cut, S.Cut, "cut")
        a("copy", "&Copy", self.copy, S.Copy, "copy")
        a("paste", "&Paste", self.paste, S.Paste, "paste")
        a("duplicate", "D&uplicate", self.duplicate, QKeySequence("Ctrl+D"), "duplicate")
        a("delete", "&Delete", self.delete_selection, [QKeySequence(S.Delete), QKeySequence(Qt.Key.Key_Backspace)], "delete")
        a("select_all", "Select &All", self.select_all, S.SelectAll)
        a("disable", "Disable / Enable", self.toggle_disabled, QKeySequence("Ctrl+E"))
        a("add_note", "Add Sticky &Note", self.add_note_at_center, QKeySequence("Ctrl+Shift+N"), "note")
        a("quick_add", "Add &Node…", self.quick_add_at_center, QKeySequence("Ctrl+K"))
        a("zoom_in", "Zoom &In", self.view.zoom_in, [QKeySequence(S.ZoomIn), QKeySequence("Ctrl+=")], "zoom-in")
        a("zoom_out", "Zoom &Out", self.view.zoom_out, S.ZoomOut, "zoom-out")
        a("fit", "&Fit Workflow", self.view.fit_all, QKeySequence("Ctrl+0"), "fit")
        a("zoom_reset", "Actual Size (100 %)", self.view.zoom_reset, QKeySequence("Ctrl+1"), "zoom-reset")
        a("minimap", "&Minimap", self.set_minimap_visible, QKeySequence("Ctrl+M"), "minimap", checkable=True)
        a("snap", "Snap to &Grid", self.set_snap, None, "grid", checkable=True)
        a("dark", "&Dark Theme", lambda on: self.apply_theme(THEMES["dark" if on else "light"]), QKeySequence("Ctrl+Shift+T"), "theme", checkable=True)
        a("about", "&About ProcessEngine Studio", self.show_about, None, "info")
        a("shortcuts", "&Keyboard Shortcuts", self.show_shortcuts, QKeySequence(S.HelpContents), "keyboard")
        for name in ("delete", "duplicate", "disable"):
            # the canvas owns these keys; text fields keep Backspace/Ctrl+D for themselves
            self.actions_by_name[name].setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.removeAction(self.actions_by_name[name])
            self.view.addAction(self.actions_by_name[name])

    def _make_menus(self) -> None:
        bar = self.menuBar()
        acts = self.actions_by_name
        file = self.menus["file"] = bar.addMenu("&File")
        file.addActions([acts["new"], acts["open"]])
        self.recent_menu = file.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file.addAction(acts["import_n8n"])
        file.addSeparator()
        file.addActions([acts["save"], acts["save_as"], acts["revert"]])
        file.addSeparator()
        file.addAction(acts["credentials"])
        file.addSeparator()
        file.addAction(acts["quit"])
        edit = self.menus["edit"] = bar.addMenu("&Edit")
        edit.addActions([acts["undo"], acts["redo"]])
        edit.addSeparator()
        edit.addActions([acts["cut"], acts["copy"], acts["paste"], acts["duplicate"], acts["delete"]])
        edit.addSeparator()
        edit.addActions([acts["select_all"], acts["disable"], acts["quick_add"], acts["add_note"]])
        view = self.menus["view"] = bar.addMenu("&View")
        view.addActions([acts["zoom_in"], acts["zoom_out"], acts["fit"], acts["zoom_reset"]])
        view.addSeparator()
        view.addActions([acts["minimap"], acts["snap"], acts["dark"]])
        view.addSeparator()
        panels = view.addMenu("&Panels")
        for dock in (self.palette_dock, self.inspector_dock, self.problems_dock):
            panels.addAction(dock.toggleViewAction())
        self.panels_menu = panels
        run = self.menus["run"] = bar.addMenu("&Run")
        run.menuAction().setVisible(False)
        help_menu = self.menus["help"] = bar.addMenu("&Help")
        help_menu.addActions([acts["shortcuts"], acts["about"]])

    def _make_toolbar(self) -> None:
        tb = self.toolbar = QToolBar("Main", self)
        tb.setObjectName("toolbar_main")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        acts = self.actions_by_name
        for names in (("new", "open", "save"), ("undo", "redo"), ("cut", "copy", "paste", "delete"), ("add_note",), ("zoom_out", "zoom_in", "zoom_reset", "fit", "minimap")):
            tb.addActions([acts[n] for n in names])
            tb.addSeparator()
        self.run_separator = tb.addSeparator()

    def add_run_actions(self, actions: list[QAction]) -> None:
        """For the runner: put Run/Pause/Resume/Cancel on the toolbar and in the Run menu."""
        self.toolbar.addActions(actions)
        self.menus["run"].addActions(actions)
        self.menus["run"].menuAction().setVisible(True)

    def add_panel(self, dock: QDockWidget, area: Qt.DockWidgetArea = Qt.DockWidgetArea.BottomDockWidgetArea) -> None:
        """For the runner: add a dock (give it an objectName so its layout is saved)."""
        self.addDockWidget(area, dock)
        if hasattr(self, "wheel_guard"):
            self.wheel_guard.watch(dock)
        self.panels_menu.addAction(dock.toggleViewAction())

    def start_run(self) -> bool:
        """Run the current workflow. The run tools (app/runner) provide this; until
        they are installed it only says so and returns False."""
        self.statusBar().showMessage("Running from the designer is not available in this build yet.", 8000)
        return False

    def _wire(self) -> None:
        sc, view = self.scene, self.view
        # edit intents (links, moves, notes) go to the edit controller: `EditController.attach`
        sc.status_message.connect(self._show_reason)
        sc.node_activated.connect(self.focus_inspector)
        sc.selectionChanged.connect(self._selection_changed)
        view.node_type_dropped.connect(self.add_node_at)
        view.quick_add_requested.connect(self.open_quick_add)
        view.context_menu_requested.connect(self.show_context_menu)
        view.files_dropped.connect(self._files_dropped)
        view.zoom_changed.connect(self._zoom_changed)
        self.quick_add.chosen.connect(self._quick_add_chosen)
        sc.link_dropped.connect(self._link_dropped)
        self.node_palette.add_requested.connect(self.add_node_at_center)
        self.problems.problem_activated.connect(self.reveal_node)
        self.validator.problems_changed.connect(self._problems_changed)
        QGuiApplication.clipboard().dataChanged.connect(self._update_actions)

    # -- document ------------------------------------------------------------------------
    def set_document(self, document: WorkflowDocument) -> None:
        """Show and edit `document` (the previous one is dropped)."""
        old = self.document if self._bound else None
        if old is not None:
            old.dirty_changed.disconnect(self._update_title)
            old.path_changed.disconnect(self._update_title)
            old.undo_stack.indexChanged.disconnect(self._update_actions)
            self.controller.refused.disconnect(self._show_reason)
            self.controller.detach()
            self.controller.deleteLater()
            if old is not document:
                old.deleteLater()
        self._bound = True
        document.setParent(self)
        self.document = document
        self.controller = EditController(document, self)
        self.controller.read_only = self.read_only
        self.controller.refused.connect(self._show_reason)
        self.controller.attach(self.scene)
        self.scene.bind(document.workflow)
        self.inspector.set_controller(self.controller)
        self.validator.set_document(document)
        self.autosaver.set_document(document)
        document.dirty_changed.connect(self._update_title)
        document.path_changed.connect(self._update_title)
        document.undo_stack.indexChanged.connect(self._update_actions)
        self._update_title()
        self._update_actions()
        QTimer.singleShot(0, self.view.fit_all)
        self.document_changed.emit(document)

    def _show_reason(self, reason: str) -> None:
        """Why a gesture or an edit was refused, in the status bar."""
        self.statusBar().showMessage(reason, 6000)

    def _zoom_changed(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom * 100:.0f} %")

    def _update_title(self, *_args: object) -> None:
        self.setWindowTitle(f"{self.document.display_name}[*] — {APP_TITLE}")
        self.setWindowModified(self.document.is_dirty)
        self.actions_by_name["revert"].setEnabled(self.document.path is not None and self.document.is_dirty)

    def _update_actions(self, *_args: object) -> None:
        stack = self.document.undo_stack
        acts = self.actions_by_name
        acts["undo"].setEnabled(stack.canUndo())
        acts["redo"].setEnabled(stack.canRedo())
        acts["undo"].setText(f"&Undo {stack.undoText()}".rstrip())
        acts["redo"].setText(f"&Redo {stack.redoText()}".rstrip())
        has_selection = bool(self.scene.selectedItems())
        has_nodes = bool(self.scene.selected_node_ids() or self.scene.selected_note_ids())
        for name in ("cut", "copy", "duplicate"):
            acts[name].setEnabled(has_nodes)
        acts["delete"].setEnabled(has_selection)
        acts["disable"].setEnabled(bool(self.scene.selected_node_ids()))
        acts["paste"].setEnabled(clipboard.from_mime(QGuiApplication.clipboard().mimeData()) is not None)
        if self.read_only:
            for name in EDIT_ACTIONS:
                acts[name].setEnabled(False)
        self._update_title()

    def set_read_only(self, read_only: bool) -> None:
        """While a past run is shown nothing may change the document: edit actions, palette
        drags, the inspector and every editing gesture on the canvas are off (and the
        controller refuses any command that still comes). Selecting, copying, zooming and
        panning keep working."""
        if read_only == self.read_only:
            return
        self.read_only = read_only
        self.controller.read_only = read_only
        self.view.set_read_only(read_only)
        self.node_palette.setEnabled(not read_only)
        self.inspector.set_read_only(read_only)
        if read_only:
            self.quick_add.hide()
            self._pending_link = None
        self._update_actions()
        self.read_only_changed.emit(read_only)

    def _selection_changed(self) -> None:
        node_ids = self.scene.selected_node_ids()
        others = len(self.scene.selected_note_ids()) + len(self.scene.selected_connections())
        self.inspector.show_selection(node_ids, others)
        self._update_actions()

    def _problems_changed(self, problems: list[Problem]) -> None:
        by_node: dict[str, list[str]] = {}
        for p in problems:
            if p.node_id:
                text = f"{p.field}: {p.message}" if p.field else p.message
                by_node.setdefault(p.node_id, []).append(text if p.is_error else f"{p.severity}: {text}")
        self.scene.set_problems(by_node)
        self.problems.set_problems(problems, self.document.workflow)
        self.inspector.set_problems(problems)
        n = sum(1 for p in problems if p.is_error)
        self.problem_label.setText(f"⚠ {n} problem{'s' if n != 1 else ''}" if n else "✓ ready to run")

    # -- files ----------------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """Ask about unsaved changes; True when it is fine to drop the document."""
        if not self.document.is_dirty:
            return True
        answer = self.dialogs.question(
            self,
            "Unsaved changes",
            f"Save the changes to “{self.document.display_name}”?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
            "Your changes will be lost if you don't save them.",
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_document(self) -> None:
        if self.maybe_save():
            self.autosaver.discard()
            self.set_document(WorkflowDocument(Workflow(name="Untitled"), parent=self))

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        start = str(self.document.path.parent) if self.document.path else str(Path.cwd())
        path = self.dialogs.open_file(self, start)
        if path:
            self.open_path(path, ask=False)

    def open_path(self, path: str | Path, *, ask: bool = True) -> bool:
        """Open a workflow file; a broken file is reported and the current document stays."""
        if ask and not self.maybe_save():
            return False
        from app.dialogs_import import import_n8n, is_n8n_file

        if str(path).endswith(".json") and not str(path).endswith(".pe.json") and is_n8n_file(path):
            return import_n8n(self, path) is not None  # an n8n export opens as an import
        try:
            document = WorkflowDocument.open(path, parent=self)
        except WorkflowInvalid as exc:
            self.report_invalid(path, exc)
            return False
        self.autosaver.discard()
        self.set_document(document)
        settings.add_recent(path)
        self.statusBar().showMessage(f"Opened {path}", 4000)
        return True

    def report_invalid(self, path: str | Path, exc: WorkflowInvalid) -> None:
        problems = [_problem_line(p) for p in exc.problems]
        self.dialogs.error(
            self,
            "Cannot open workflow",
            f"“{Path(path).name}” could not be opened: it has {len(problems)} problem{'s' if len(problems) != 1 else ''}.",
            problems,
        )

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self.save_to(self.document.path)

    def save_as(self) -> bool:
        suggested = str(self.document.path or Path.cwd() / f"{self.document.workflow.name or 'workflow'}.pe.json")
        path = self.dialogs.save_file(self, suggested)
        return self.save_to(path) if path else False

    def save_to(self, path: str | Path) -> bool:
        try:
            self.document.save(path)
        except OSError as exc:
            self.dialogs.error(self, "Cannot save workflow", f"Saving to “{path}” failed: {exc.strerror or exc}")
            return False
        self.autosaver.discard()
        settings.add_recent(path)
        self.statusBar().showMessage(f"Saved {path}", 4000)
        self._update_title()
        return True

    def revert(self) -> None:
        path = self.document.path
        if path is None:
            return
        if self.document.is_dirty:
            answer = self.dialogs.question(
                self, "Revert", f"Discard all changes since “{path.name}” was saved?",
                QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel,
            )  # fmt: skip
            if answer != QMessageBox.StandardButton.Discard:
                return
        self.document.undo_stack.setClean()  # no second question from open_path
        self.open_path(path, ask=False)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        files = settings.recent_files()
        for f in files:
            action = self.recent_menu.addAction(f)
            action.triggered.connect(lambda _checked=False, f=f: self._open_recent(f))
        if not files:
            self.recent_menu.addAction("(none)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", lambda: settings.set_value(settings.RECENT_KEY, []))

    def _open_recent(self, path: str) -> None:
        if not Path(path).exists():
            settings.remove_recent(path)
            self.dialogs.error(self, "Cannot open workflow", f"“{path}” no longer exists; it was removed from the list.")
            return
        self.open_path(path)

    def _files_dropped(self, paths: list[str]) -> None:
        if paths:
            self.open_path(paths[0])  # an n8n export is imported there

    def import_n8n_dialog(self) -> None:
        from app.dialogs_import import choose_and_import

        choose_and_import(self)

    @guarded
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    @guarded
    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self._files_dropped(paths)

    def offer_recovery(self) -> bool:
        """After a crash: offer the newest autosaved document. True if one was recovered."""
        pending = pending_recoveries()
        if not pending:
            return False
        rec = pending[0]
        where = rec.original or "a workflow that was never saved"
        answer = self.dialogs.question(
            self, "Recover unsaved work?",
            f"ProcessEngine Studio closed without saving “{rec.name}” ({where}).",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Yes,
            f"An automatic copy from {rec.saved_at} is available. Recover it?",
        )  # fmt: skip
        if answer == QMessageBox.StandardButton.Discard:
            discard_recovery(rec)
            return False
        if answer != QMessageBox.StandardButton.Yes:
            return False
        try:
            wf = fileformat.load(rec.file, check_configs=False)
        except WorkflowInvalid as exc:
            self.report_invalid(rec.file, exc)
            return False
        document = WorkflowDocument(wf, rec.original, parent=self)
        self.set_document(document)
        document.mark_dirty()
        discard_recovery(rec)
        self.autosaver.autosave()
        return True

    # -- editing ----------------------------------------------------------------------------
    def add_node_at(self, node_type: str, scene_pos: QPointF) -> str:
        pos = self.scene.snap_point(scene_pos)
        node_id = self.controller.add_node(node_type, (pos.x(), pos.y()))
        self.scene.select_nodes([node_id])
        self.view.setFocus()
        return node_id

    def add_node_at_center(self, node_type: str) -> str:
        center = self.view.mapToScene(self.view.viewport().rect().center())
        pos = self.scene.snap_point(center)
        while any(abs(n.position[0] - pos.x()) < 30 and abs(n.position[1] - pos.y()) < 30 for n in self.document.workflow.nodes):
            pos += QPointF(40, 40)
        return self.add_node_at(node_type, pos)

    def open_quick_add(self, scene_pos: QPointF, global_pos: QPoint, link: tuple[str, str, bool] | None = None) -> None:
        if self.read_only:
            return
        self._quick_add_pos = scene_pos
        self._pending_link = link
        self.quick_add.popup(global_pos, None if link is None else ("input" if link[2] else "output"))

    def _link_dropped(self, node_id: str, port: str, is_output: bool, scene_pos: QPointF, global_pos: QPoint) -> None:
        self.open_quick_add(scene_pos, global_pos, (node_id, port, is_output))

    def _quick_add_chosen(self, node_type: str) -> None:
        link, self._pending_link = self._pending_link, None
        if link is None:
            self.add_node_at(node_type, self._quick_add_pos)
            return
        # put the new card's port where the link was dropped
        offset = QPointF(0 if link[2] else NODE_WIDTH, NODE_HEADER / 2)
        pos = self.scene.snap_point(self._quick_add_pos - offset)
        node_id, _reason = self.controller.add_node_linked(node_type, (pos.x(), pos.y()), *link)
        self.scene.select_nodes([node_id])
        self.view.setFocus()

    def quick_add_at_center(self) -> None:
        center = self.view.viewport().rect().center()
        self.open_quick_add(self.view.mapToScene(center), self.view.viewport().mapToGlobal(center))

    def free_note_spot(self, pos: QPointF) -> QPointF:
        """Where a new sticky note at `pos` is not hidden: notes are drawn under the cards,
        so it moves below any card it would overlap."""
        size = Note(id="").size
        spot = self.scene.snap_point(pos)
        for _ in range(100):
            rect = QRectF(spot, QSizeF(*size))
            hit = [i.sceneBoundingRect() for i in self.scene.node_items() if i.sceneBoundingRect().intersects(rect)]
            if not hit:
                break
            spot = self.scene.snap_point(QPointF(spot.x(), max(r.bottom() for r in hit) + 20))
        return spot

    def add_note_at_center(self) -> None:
        center = self.free_note_spot(self.view.mapToScene(self.view.viewport().rect().center()))
        note_id = self.controller.add_note((center.x(), center.y()), "")
        self.scene.select_nodes([], [note_id])
        item = self.scene.note_item(note_id)
        if item is not None:
            self.view.ensureVisible(item.sceneBoundingRect(), 20, 20)  # it may have moved below a card
            item.start_editing()

    def copy(self) -> bool:
        nodes, notes = self.scene.selected_node_ids(), self.scene.selected_note_ids()
        if not nodes and not notes:
            return False
        text = self.controller.copy_text(nodes, notes)
        QGuiApplication.clipboard().setMimeData(clipboard.to_mime(text))
        self.statusBar().showMessage(f"Copied {len(nodes) + len(notes)} item(s)", 3000)
        return True

    def cut(self) -> None:
        if self.copy():
            self.controller.delete(self.scene.selected_node_ids(), [], self.scene.selected_note_ids())

    def paste(self) -> None:
        if self.read_only:
            return
        text = clipboard.from_mime(QGuiApplication.clipboard().mimeData())
        if text is None:
            self.statusBar().showMessage("The clipboard holds no workflow nodes", 4000)
            return
        try:
            nodes, notes = self.controller.paste_text(text)
        except WorkflowInvalid as exc:
            self.dialogs.error(self, "Cannot paste", "The clipboard text is not a valid workflow.", [_problem_line(p) for p in exc.problems])
            return
        self.scene.select_nodes(nodes, notes)

    def duplicate(self) -> None:
        nodes, notes = self.scene.selected_node_ids(), self.scene.selected_note_ids()
        if nodes or notes:
            new_nodes, new_notes = self.controller.duplicate(nodes, notes)
            self.scene.select_nodes(new_nodes, new_notes)

    def delete_selection(self) -> None:
        self.controller.delete(self.scene.selected_node_ids(), self.scene.selected_connections(), self.scene.selected_note_ids())

    def select_all(self) -> None:
        for item in (*self.scene.node_items(), *(self.scene.note_item(n.id) for n in self.document.workflow.notes)):
            if item is not None:
                item.setSelected(True)

    def toggle_disabled(self) -> None:
        ids = self.scene.selected_node_ids()
        if ids:
            disable = not all(self.document.workflow.node(i).disabled for i in ids)
            self.controller.set_disabled(ids, disable)

    def reveal_node(self, node_id: str) -> None:
        """Select a node and scroll it into the middle of the canvas."""
        self.scene.select_nodes([node_id])
        self.view.center_on_node(node_id)

    def focus_inspector(self, node_id: str) -> None:
        self.scene.select_nodes([node_id])
        self.inspector_dock.show()
        self.inspector_dock.raise_()
        form = self.inspector.node_form
        if form is not None:
            form.name.setFocus()
            form.name.selectAll()

    def show_context_menu(self, scene_pos: QPointF, global_pos: QPoint) -> None:
        menu = QMenu(self)
        acts = self.actions_by_name
        if self.scene.selectedItems():
            menu.addActions([acts["cut"], acts["copy"], acts["duplicate"], acts["delete"]])
            if self.scene.selected_node_ids():
                menu.addAction(acts["disable"])
                if self.node_menu_actions:
                    menu.addSeparator()
                    menu.addActions(self.node_menu_actions)
            menu.addSeparator()
        add = menu.addAction("Add node here…")
        add.triggered.connect(lambda: self.open_quick_add(scene_pos, global_pos))
        note = menu.addAction("Add sticky note here")
        spot = self.free_note_spot(scene_pos)
        note.triggered.connect(lambda: self.controller.add_note((spot.x(), spot.y())))
        add.setEnabled(not self.read_only)
        note.setEnabled(not self.read_only)
        menu.addAction(acts["paste"])
        menu.addSeparator()
        menu.addActions([acts["fit"], acts["select_all"]])
        menu.popup(global_pos)

    # -- view ---------------------------------------------------------------------------------
    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)
        self.scene.set_theme(theme)
        self.node_palette.apply_theme(theme)
        self.problems.apply_theme(theme)
        for action, icon in self._icon_actions:
            action.setIcon(ui_icon(icon, theme.text))
        dark = self.actions_by_name["dark"]
        dark.blockSignals(True)
        dark.setChecked(theme.dark)
        dark.blockSignals(False)
        settings.set_value("view/theme", theme.name)
        self.view.minimap.refresh()

    def set_minimap_visible(self, visible: bool) -> None:
        self.view.set_minimap_visible(visible)
        self.actions_by_name["minimap"].setChecked(visible)
        settings.set_value("view/minimap", visible)

    def set_snap(self, on: bool) -> None:
        self.scene.snap = on
        settings.set_value("view/snap", on)

    def show_about(self) -> None:
        self.dialogs.information(self, "About ProcessEngine Studio", about_text())

    def show_shortcuts(self) -> None:
        # every action in the window, also those other tools added (Run: F5, F6, Shift+F5)
        self.dialogs.information(self, "Keyboard shortcuts", shortcuts_html(self.findChildren(QAction)))

    def show_credentials(self) -> None:
        """File → Credentials…: named secrets in the OS keyring (workflows only hold names)."""
        from app.credentials_dialog import CredentialsDialog

        dialog = CredentialsDialog(self, self.dialogs)
        self.dialogs.about_to_show.emit(dialog)
        dialog.exec()

    # -- settings and closing --------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = settings.settings()
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 860)
        state = s.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        self.set_minimap_visible(settings.get_bool("view/minimap", True))
        self.actions_by_name["snap"].setChecked(self.scene.snap)

    def save_settings(self) -> None:
        s = settings.settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.close_guard is not None and self.close_guard():  # a run is active: its question is open
            event.ignore()
            return
        if not self.maybe_save():
            event.ignore()
            return
        self.autosaver.discard()
        self.save_settings()
        event.accept()


def _without_checked(slot: Callable[[], object]) -> Callable[[bool], None]:
    """`triggered` passes Qt's `checked` flag to any slot that takes an argument, so a
    slot with a defaulted parameter (`fit_all(max_zoom=1.0)`) would get `False` in it;
    a plain action's slot is called with no arguments."""

    def call(_checked: bool = False) -> None:
        slot()

    return call


def _problem_line(p: Problem) -> str:
    where = []
    if p.node_id:
        where.append(f"node {p.node_id!r}")
    if p.field:
        where.append(f"field {p.field!r}")
    return f"{', '.join(where)}: {p.message}" if where else p.message
