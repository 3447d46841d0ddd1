"""Render the app icon's PNG sizes from its SVG with Qt's own SVG renderer.

Desktops that do not scale SVG icons (and some panels and docks) want fixed
PNG sizes in the hicolor theme. PySide6 is already a dependency, so this needs
no image tool; it runs offscreen.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtGui import QImage

log = logging.getLogger("packaging.icons")

PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render_pngs(svg: Path, sizes: tuple[int, ...] = PNG_SIZES) -> dict[int, bytes]:
    """PNG bytes of `svg` at each size (square, transparent background)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a valid SVG (Qt's renderer cannot read it)")
    out: dict[int, bytes] = {}
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        if _opaque_pixels(image) == 0:
            raise ValueError(f"{svg}: renders as a fully transparent {size}x{size} image")
        data = QByteArray()
        buf = QBuffer(data)
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        if not image.save(buf, "PNG"):  # type: ignore[call-overload]  # the stub says bytes; the binding takes str only
            raise ValueError(f"{svg}: Qt could not encode the {size}x{size} PNG")
        buf.close()
        out[size] = bytes(data.data())
        log.info("rendered %s at %dx%d (%d bytes)", svg.name, size, size, len(out[size]))
    return out


def _opaque_pixels(image: QImage) -> int:
    """How many pixels are not fully transparent (a blank render means a broken SVG)."""
    count = 0
    step = max(1, image.width() // 32)
    for y in range(0, image.height(), step):
        for x in range(0, image.width(), step):
            if image.pixelColor(x, y).alpha() > 0:
                count += 1
    return count
