"""SVG icons tinted to the theme, rendered once per size and colour.

Icons are stroke drawings in `currentColor`; the colour is substituted into
the SVG text before rendering, so one file serves light and dark themes and
the node cards' category colours. Rendered pixmaps are cached, so drawing a
thousand node cards never re-parses an SVG.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from app.paths import APP_ICON, ICONS, UI_ICONS

log = logging.getLogger(__name__)


@functools.cache
def _svg_text(path: Path) -> str:
    """The SVG source; an unreadable or corrupt file (e.g. a plugin's) falls back to the
    generic card icon with a warning, so one bad icon never stops the window opening."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fallback = ICONS / "node.svg"
        if path == fallback:
            raise
        log.warning("icon %s cannot be read (%s); using the generic icon", path, exc)
        return _svg_text(fallback)


def node_icon_path(icon: str | None, node_type: str | None = None) -> Path:
    """The SVG of a node type: its spec's icon name, else its type name, else a generic card."""
    for name in (icon, node_type):
        if name:
            p = ICONS / f"{name}.svg"
            if p.exists():
                return p
    return ICONS / "node.svg"


@functools.cache
def svg_pixmap(path: Path, color: str, size: int, dpr: float = 1.0) -> QPixmap:
    """Render `path` at `size` logical pixels with currentColor replaced by `color`."""
    text = _svg_text(path).replace("currentColor", color)
    renderer = QSvgRenderer(QByteArray(text.encode("utf-8")))
    px = max(1, round(size * dpr))
    pixmap = QPixmap(px, px)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, px, px))
    painter.end()
    pixmap.setDevicePixelRatio(dpr)
    return pixmap


def ui_icon(name: str, color: QColor | str) -> QIcon:
    """A toolbar/menu icon from app/resources/icons/ui, tinted (with a faded disabled state)."""
    col = QColor(color)
    path = UI_ICONS / f"{name}.svg"
    icon = QIcon()
    for size in (16, 20, 24, 32):
        normal = svg_pixmap(path, col.name(), size, 1.0)
        icon.addPixmap(normal, QIcon.Mode.Normal)
        icon.addPixmap(_faded(normal, 0.3), QIcon.Mode.Disabled)
    return icon


def _faded(pixmap: QPixmap, opacity: float) -> QPixmap:
    out = QPixmap(pixmap.size())
    out.setDevicePixelRatio(pixmap.devicePixelRatio())
    out.fill(Qt.GlobalColor.transparent)
    painter = QPainter(out)
    painter.setOpacity(opacity)
    painter.drawPixmap(0, 0, pixmap)
    painter.end()
    return out


def node_icon(icon: str | None, node_type: str | None, color: QColor | str, size: int = 20) -> QIcon:
    return QIcon(svg_pixmap(node_icon_path(icon, node_type), QColor(color).name(), size, 1.0))


def app_icon() -> QIcon:
    icon = QIcon()
    for size in (16, 32, 48, 64, 128, 256):
        renderer = QSvgRenderer(str(APP_ICON))
        pixmap = QPixmap(QSize(size, size))
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        icon.addPixmap(pixmap)
    return icon
