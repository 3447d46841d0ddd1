"""Light and dark themes: one set of colours for widgets (palette + a small style sheet) and canvas.

Canvas items read their colours from the scene's current `Theme`, so
switching themes is a palette swap plus one scene repaint.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

CATEGORY_COLORS = {
    "Triggers": "#16a34a",
    "Flow": "#8b5cf6",
    "Data": "#2563eb",
    "Files": "#ca8a04",
    "Database": "#0d9488",
    "Code": "#db2777",
    "Network": "#0891b2",
    "Actions": "#ea580c",
}
UNKNOWN_COLOR = "#6b7280"

# run states (NodeItem.set_run_state) -> colour
RUN_STATE_COLORS = {
    "pending": "#9ca3af",
    "running": "#3b82f6",
    "succeeded": "#16a34a",
    "failed": "#dc2626",
    "retrying": "#f59e0b",
    "skipped": "#a8a29e",
    "paused": "#8b5cf6",
    "cancelled": "#6b7280",
    "pinned": "#0891b2",  # the debugger: a pin stood in for the node
    "reused": "#0d9488",  # the debugger: a re-run kept the source run's output
}


def category_color(category: str | None) -> QColor:
    return QColor(CATEGORY_COLORS.get(category or "", UNKNOWN_COLOR))


@dataclass(frozen=True)
class Theme:
    name: str
    dark: bool
    window: str
    base: str
    alt_base: str
    text: str
    muted: str
    border: str
    accent: str
    canvas: str
    grid: str
    card: str
    card_border: str
    card_shadow: str
    edge: str
    port_in: str
    note: str
    note_border: str
    note_text: str
    error: str
    warning: str
    success: str
    selection: str


LIGHT = Theme(
    name="light",
    dark=False,
    window="#f3f4f6",
    base="#ffffff",
    alt_base="#f9fafb",
    text="#111827",
    muted="#6b7280",
    border="#d1d5db",
    accent="#4f46e5",
    canvas="#f5f6f8",
    grid="#d4d7dd",
    card="#ffffff",
    card_border="#d6d9df",
    card_shadow="#1f2937",
    edge="#8b93a1",
    port_in="#9ca3af",
    note="#fff4b8",
    note_border="#e9d66b",
    note_text="#3f3a1a",
    error="#dc2626",
    warning="#d97706",
    success="#16a34a",
    selection="#4f46e5",
)

DARK = Theme(
    name="dark",
    dark=True,
    window="#1e1f24",
    base="#17181c",
    alt_base="#22242a",
    text="#e5e7eb",
    muted="#9ca3af",
    border="#33363e",
    accent="#818cf8",
    canvas="#141519",
    grid="#2c2f37",
    card="#262830",
    card_border="#3a3d47",
    card_shadow="#000000",
    edge="#6b7280",
    port_in="#6b7280",
    note="#4a4420",
    note_border="#6b6230",
    note_text="#f3eec4",
    error="#f87171",
    warning="#fbbf24",
    success="#4ade80",
    selection="#818cf8",
)

THEMES = {"light": LIGHT, "dark": DARK}


def palette_for(theme: Theme) -> QPalette:
    p = QPalette()
    c = QColor
    role = QPalette.ColorRole
    p.setColor(role.Window, c(theme.window))
    p.setColor(role.WindowText, c(theme.text))
    p.setColor(role.Base, c(theme.base))
    p.setColor(role.AlternateBase, c(theme.alt_base))
    p.setColor(role.Text, c(theme.text))
    p.setColor(role.Button, c(theme.window))
    p.setColor(role.ButtonText, c(theme.text))
    p.setColor(role.ToolTipBase, c(theme.base))
    p.setColor(role.ToolTipText, c(theme.text))
    p.setColor(role.PlaceholderText, c(theme.muted))
    p.setColor(role.Highlight, c(theme.accent))
    p.setColor(role.HighlightedText, c("#ffffff"))
    p.setColor(role.Link, c(theme.accent))
    p.setColor(role.Mid, c(theme.border))
    p.setColor(role.Midlight, c(theme.border))
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, r, c(theme.muted))
    return p


def style_sheet(theme: Theme) -> str:
    """A light touch over Fusion: flat toolbars, quiet dock titles, rounded inputs."""
    t = theme
    return f"""
QMainWindow::separator {{ background: {t.border}; width: 1px; height: 1px; }}
QDockWidget {{ titlebar-close-icon: none; }}
QDockWidget::title {{ background: {t.window}; padding: 6px 8px; font-weight: 600; color: {t.muted}; }}
QToolBar {{ background: {t.base}; border: none; border-bottom: 1px solid {t.border}; spacing: 2px; padding: 3px 6px; }}
QToolButton {{ border: 1px solid transparent; border-radius: 6px; padding: 4px; }}
QToolButton:hover {{ background: {t.alt_base}; border-color: {t.border}; }}
QToolButton:checked {{ background: {t.alt_base}; border-color: {t.accent}; }}
QStatusBar {{ background: {t.base}; border-top: 1px solid {t.border}; color: {t.muted}; }}
QLineEdit, QPlainTextEdit, QTextEdit, QSpinBox, QDoubleSpinBox, QComboBox {{
    border: 1px solid {t.border}; border-radius: 6px; padding: 3px 6px; background: {t.base};
    selection-background-color: {t.accent};
}}
QLineEdit:focus, QPlainTextEdit:focus, QTextEdit:focus, QSpinBox:focus, QDoubleSpinBox:focus, QComboBox:focus {{
    border-color: {t.accent};
}}
QPlainTextEdit#expression {{ padding: 1px 4px; }}
QTreeView, QListView, QTableView {{ border: none; background: {t.base}; }}
QTreeView::item, QListView::item {{ padding: 3px 2px; }}
QHeaderView::section {{ background: {t.window}; border: none; border-bottom: 1px solid {t.border}; padding: 4px; color: {t.muted}; }}
QLabel#sectionTitle {{ color: {t.muted}; font-weight: 600; padding-top: 8px; }}
QLabel#fieldHelp {{ color: {t.muted}; }}
QLabel#preview {{ color: {t.muted}; font-family: monospace; }}
QLabel#previewError {{ color: {t.error}; font-family: monospace; }}
QFrame#quickAdd {{ background: {t.base}; border: 1px solid {t.border}; border-radius: 10px; }}
"""


def apply_theme(app: QApplication, theme: Theme) -> None:
    app.setStyle("Fusion")
    app.setPalette(palette_for(theme))
    app.setStyleSheet(style_sheet(theme))
