"""The node card and its ports.

A card is painted in one `paint` call (no child text items) and cached as a
device-coordinate pixmap, so panning a thousand nodes costs no Python per
frame. Zoomed out, it draws a plain coloured block (level of detail). Ports
are small child items so the mouse can grab them; the card lays them out:
inputs on the left edge, outputs on the right, one labelled row per output
when there is more than the plain `out`. The card's bounds are Qt's own (it is a
`QGraphicsRectItem` with no pen whose rect is the bounds): the scene asks an item's
`boundingRect` at every update, and a Python one is a call into Python on the GUI thread
that waits for the interpreter lock while a run holds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsSceneHoverEvent,
    QStyle,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.crash_guard import guarded
from app.icons import node_icon_path, svg_pixmap
from app.theme import LIGHT, RUN_STATE_COLORS, Theme, category_color
from engine.model import Node
from engine.nodes.base import NodeSpec

if TYPE_CHECKING:
    from app.canvas.edgeitem import EdgeItem

WIDTH = 200.0
HEADER = 56.0
ROW = 22.0
RADIUS = 10.0
PORT_RADIUS = 5.5
LOD_BLOCK = 0.3  # below: a coloured block
LOD_TEXT = 0.55  # below: name only
RUN_STATES = ("pending", "running", "succeeded", "failed", "retrying", "skipped", "paused", "cancelled", "pinned", "reused", "replayed")
_STATE_GLYPH = {
    "pending": "…",
    "running": "▶",
    "succeeded": "✓",
    "failed": "✕",
    "retrying": "↻",
    "skipped": "\u2013",
    "paused": "❚❚",
    "cancelled": "■",
    "pinned": "◆",
    "reused": "↺",
    "replayed": "⟲",
}
RETRY_BUTTONS = (("retry_now", "Retry now"), ("give_up", "Give up"))


class _Fonts:
    """Fonts are made once, after the QApplication exists."""

    _made = False
    name: QFont
    sub: QFont
    port: QFont
    badge: QFont

    @classmethod
    def get(cls) -> type[_Fonts]:
        if not cls._made:
            cls.name = QFont()
            cls.name.setPixelSize(13)
            cls.name.setWeight(QFont.Weight.DemiBold)
            cls.sub = QFont()
            cls.sub.setPixelSize(11)
            cls.port = QFont()
            cls.port.setPixelSize(11)
            cls.badge = QFont()
            cls.badge.setPixelSize(10)
            cls.badge.setWeight(QFont.Weight.DemiBold)
            cls._made = True
        return cls


def _theme_of(item: QGraphicsItem) -> Theme:
    scene = item.scene()
    return getattr(scene, "theme", LIGHT) if scene is not None else LIGHT


_PORT_RECT = QRectF(-10, -10, 20, 20)


class PortItem(QGraphicsItem):
    """A named input or output; the mouse grabs it to draw a connection.

    It paints nothing itself: the node card draws its ports into its cached
    pixmap, so ports cost no Python per frame. The item exists for hit-testing,
    hover and highlight state (changes repaint the card).
    """

    NORMAL, VALID, INVALID = 0, 1, 2

    def __init__(self, node_item: NodeItem, name: str, is_output: bool) -> None:
        super().__init__(node_item)
        self.node_item = node_item
        self.name = name
        self.is_output = is_output
        self.highlight = PortItem.NORMAL
        self.hover = False
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
        self.setAcceptHoverEvents(True)
        self.setZValue(2)
        self.setCursor(Qt.CursorShape.CrossCursor)

    @property
    def node_id(self) -> str:
        return self.node_item.node_id

    def boundingRect(self) -> QRectF:
        return _PORT_RECT

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(QPointF(0, 0), 10, 10)
        return path

    def set_highlight(self, state: int) -> None:
        if state != self.highlight:
            self.highlight = state
            self.node_item.update()

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.hover = True
        self.node_item.update()

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.hover = False
        self.node_item.update()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        pass  # drawn by NodeItem._paint_port

    def paint_on(self, painter: QPainter, theme: Theme) -> None:
        """Draw this port in the node's coordinates."""
        if self.is_output:
            color = QColor(theme.error) if self.name == "error" else QColor(self.node_item.color)
        else:
            color = QColor(theme.port_in)
        r = PORT_RADIUS + (1.5 if self.hover else 0)
        center = self.pos()
        if self.highlight == PortItem.VALID:
            glow = QColor(theme.success)
            glow.setAlphaF(0.25)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(glow)
            painter.drawEllipse(center, r + 5, r + 5)
            color = QColor(theme.success)
            r += 1
        elif self.highlight == PortItem.INVALID:
            color.setAlphaF(0.25)
        painter.setPen(QPen(color, 2))
        painter.setBrush(QBrush(color if self.is_output else QColor(theme.card)))
        painter.drawEllipse(center, r, r)


class NodeItem(QGraphicsRectItem):
    """One node on the canvas. The scene keeps it in step with the model's `Node`. Its rect
    is its bounds (see `_update_bounds`), never drawn as such: `paint` draws the card."""

    def __init__(self, node: Node, spec: NodeSpec | None, inputs: list[str], outputs: list[str]) -> None:
        super().__init__()
        self.node_id = node.id
        self.edges: set[EdgeItem] = set()
        self.inputs: dict[str, PortItem] = {}
        self.outputs: dict[str, PortItem] = {}
        self.run_state: str | None = None
        self.run_badge: str | None = None
        self.run_tooltip: str | None = None
        self.problems: list[str] = []
        self.disabled = node.disabled
        self.on_error = node.on_error
        self.pinned = node.pin is not None
        self.replay = node.replay  # debug re-runs answer it from the recording (shown unless pinned)
        self.breakpoint: str | None = None  # None | "on" | "conditional" | "disabled" (the debugger's dot)
        self.paused_here = False  # the run is paused before this node
        self._hover = False
        self._height = HEADER
        self._badge_width = 0.0
        self.setPen(QPen(Qt.PenStyle.NoPen))  # the rect's bounds are the rect itself (no half pen width around it)
        self._update_bounds()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self.placeholder: str | None = None  # the original type of an imported node with no counterpart
        self.set_spec(spec, node.type)
        if node.type == "unsupported" and isinstance(node.config, dict):
            self.mark_placeholder(str(node.config.get("original_type", "?")))
        self.set_name(node.name)
        self.set_ports(inputs, outputs)
        self.setPos(QPointF(*node.position))

    # -- model -> item -------------------------------------------------------
    def set_spec(self, spec: NodeSpec | None, node_type: str) -> None:
        self.spec = spec
        self.node_type = node_type
        self.title = spec.title if spec else f"Unknown type “{node_type}”"
        self.category = spec.category if spec else None
        self.color = category_color(self.category)
        self.icon_path = node_icon_path(spec.icon if spec else None, node_type)
        self.description = spec.description if spec else "This node type is not installed."
        self._update_tooltip()
        self.update()

    def mark_placeholder(self, original_type: str) -> None:
        """Show an imported node that has no counterpart: hatched card, dashed border, its original type."""
        self.placeholder = original_type
        short = original_type.rpartition(".")[2] or original_type
        self.title = f"unsupported: {short}"
        self.description = f"Imported {original_type}: no counterpart here. Replace it or remove it; its settings are kept read-only."
        self._update_tooltip()
        self.update()

    def set_name(self, name: str) -> None:
        self.name = name
        fonts = _Fonts.get()
        self._name_elided = QFontMetricsF(fonts.name).elidedText(name, Qt.TextElideMode.ElideRight, WIDTH - 64)
        self._title_elided = QFontMetricsF(fonts.sub).elidedText(self.title, Qt.TextElideMode.ElideRight, WIDTH - 64)
        self._update_tooltip()
        self.update()

    def set_ports(self, inputs: list[str], outputs: list[str]) -> None:
        """Lay out ports; existing port items are kept (edges stay attached) and extra ones removed."""
        simple = outputs == ["out"] or not outputs
        rows = 0 if simple else len(outputs)
        height = HEADER if simple else HEADER + 6 + rows * ROW + 6
        if height != self._height:
            self._height = height
            self._update_bounds()
        self._simple = simple
        for mapping, names, is_output in ((self.inputs, inputs, False), (self.outputs, outputs, True)):
            for gone in [n for n in mapping if n not in names]:
                old = mapping.pop(gone)
                old.setParentItem(None)  # type: ignore[arg-type]  # None (no parent) is valid; the stub says otherwise
                if old.scene() is not None:
                    old.scene().removeItem(old)
            for i, name in enumerate(names):
                port = mapping.get(name)
                if port is None:
                    port = mapping[name] = PortItem(self, name, is_output)
                port.setPos(self._port_pos(i, len(names), is_output))
        # dict order follows the port order (labels are painted in this order)
        self.inputs = {n: self.inputs[n] for n in inputs}
        self.outputs = {n: self.outputs[n] for n in outputs}
        self.update()
        self.update_edges()

    def _port_pos(self, index: int, count: int, is_output: bool) -> QPointF:
        if not is_output:
            if count <= 1:
                return QPointF(0, HEADER / 2)
            return QPointF(0, HEADER / 2 + index * ROW)
        if self._simple:
            return QPointF(WIDTH, HEADER / 2)
        return QPointF(WIDTH, HEADER + 6 + ROW / 2 + index * ROW)

    def set_disabled(self, disabled: bool) -> None:
        self.disabled = disabled
        self.update()

    def set_debug_marks(
        self, *, breakpoint: str | None = None, pinned: bool | None = None, paused_here: bool | None = None, replay: bool | None = None
    ) -> None:
        """The debugger's marks: a breakpoint dot, a pin or replay tag, the "paused here" arrow (None: unchanged)."""
        if breakpoint is not None:
            self.breakpoint = breakpoint or None
        if pinned is not None:
            self.pinned = pinned
        if replay is not None:
            self.replay = replay
        if paused_here is not None:
            self.paused_here = paused_here
        self._update_bounds()
        self.update()

    def retry_button_at(self, pos: QPointF) -> str | None:
        """Which retry button ("retry_now" | "give_up") is under `pos`, while retrying."""
        if self.run_state != "retrying":
            return None
        for action, rect in self._retry_rects():
            if rect.contains(pos):
                return action
        return None

    def _retry_rects(self) -> list[tuple[str, QRectF]]:
        """Under the card's right edge, while the node waits to retry."""
        x = WIDTH - 150
        return [(action, QRectF(x + i * 76, self._height + 5, 72, 18)) for i, (action, _text) in enumerate(RETRY_BUTTONS)]

    def port(self, name: str, is_output: bool) -> PortItem | None:
        return (self.outputs if is_output else self.inputs).get(name)

    def port_scene_pos(self, name: str, is_output: bool) -> QPointF:
        """Where an edge attaches; a missing port (dangling connection) attaches at the edge middle."""
        port = self.port(name, is_output)
        if port is not None:
            return self.mapToScene(port.pos())
        return self.mapToScene(QPointF(WIDTH if is_output else 0, self._height / 2))

    @property
    def height(self) -> float:
        return self._height

    # -- public API for the runner -------------------------------------------
    def set_run_state(self, state: str | None, badge: str | None = None, tooltip: str | None = None) -> None:
        """Show a run state (pending, running, succeeded, failed, retrying, skipped, paused,
        cancelled) with an optional badge text such as "retry 2/5 in 3.2 s"; None clears it."""
        if state is not None and state not in RUN_STATES:
            raise ValueError(f"unknown run state {state!r} (one of {', '.join(RUN_STATES)})")
        self.run_state = state
        self.run_badge = badge if state is not None else None
        self.run_tooltip = tooltip if state is not None else None
        text = self._badge_text()
        width = badge_width(text) + 16 if text else 0.0
        if width != self._badge_width:  # else the bounds cannot have moved
            self._badge_width = width
            self._update_bounds()
        self._update_tooltip()
        self.update()
        scene = self.scene()
        if scene is not None and hasattr(scene, "run_state_touched"):
            scene.run_state_touched(self)  # the minimap recolours, throttled

    def set_problems(self, messages: list[str]) -> None:
        """Problems from validation: a red badge with the count, listed in the tooltip."""
        if messages != self.problems:
            self.problems = list(messages)
            self._update_tooltip()
            self.update()

    def _badge_text(self) -> str:
        if self.run_state is None:
            return ""
        glyph = _STATE_GLYPH[self.run_state]
        return f"{glyph} {self.run_badge}" if self.run_badge else f"{glyph} {self.run_state}"

    def _update_tooltip(self) -> None:
        lines = [*self._tooltip_head()]
        if self.run_state:
            lines.append(f"<b>{self.run_state}</b>" + (f": {_esc(self.run_tooltip)}" if self.run_tooltip else ""))
        for p in self.problems:
            lines.append(f"<span style='color:#dc2626'>⚠ {_esc(p)}</span>")
        self.setToolTip("<br>".join(lines))

    def _tooltip_head(self) -> tuple[str, str]:
        """The name/title and description lines, escaped once per text: run states rewrite
        the tooltip of every node several times a run, and these lines rarely change."""
        key = (getattr(self, "name", ""), self.title, self.description)
        cached: tuple[tuple[str, str, str], tuple[str, str]] | None = getattr(self, "_tip_head", None)
        if cached is None or cached[0] != key:
            cached = (key, (f"<b>{_esc(key[0])}</b> — {_esc(key[1])}", _esc(key[2])))
            self._tip_head = cached
        return cached[1]

    # -- geometry --------------------------------------------------------------
    def card_rect(self) -> QRectF:
        return QRectF(0, 0, WIDTH, self._height)

    def _update_bounds(self) -> None:
        """Set the bounds (the rect Qt answers `boundingRect` with) only when they really
        move: `setRect` announces a geometry change, which dirties the scene's index, and a
        run re-badging 5,000 nodes would otherwise rebuild it on every frame."""
        left = -34.0 if self.paused_here else -12.0
        if self._badge_width:
            left = min(left, WIDTH + 6 - self._badge_width - 2)
        # room for the retry buttons under the card, always: a state change never moves the bounds
        bounds = QRectF(left, -14, WIDTH + 12 - left, self._height + 48)
        if bounds != self.rect():
            self.setRect(bounds)  # prepareGeometryChange, then the new bounds

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(self.card_rect(), RADIUS, RADIUS)
        if self.run_state == "retrying":  # the buttons under the card take clicks too
            for _action, rect in self._retry_rects():
                path.addRect(rect)
        return path

    def setPos(self, *pos: Any) -> None:
        """Move the card and its edges (nothing else moves nodes: they are not ItemIsMovable,
        which spares Python an itemChange call for every flag, tooltip and cursor change)."""
        super().setPos(*pos)
        self.update_edges()

    def update_edges(self) -> None:
        for edge in self.edges:
            edge.update_path()

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self._hover = False
        self.update()

    # -- drawing ---------------------------------------------------------------
    @guarded
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        theme = _theme_of(self)
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        rect = self.card_rect()
        if self.disabled:
            painter.setOpacity(0.45)
        if lod < LOD_BLOCK:
            self._paint_block(painter, theme, rect, selected)
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._paint_card(painter, theme, rect, selected)
        fonts = _Fonts.get()
        for port in (*self.inputs.values(), *self.outputs.values()):
            port.paint_on(painter, theme)
        if lod < LOD_TEXT:
            painter.setFont(fonts.name)
            painter.setPen(QColor(theme.text))
            painter.drawText(QRectF(16, 0, WIDTH - 24, HEADER), Qt.AlignmentFlag.AlignVCenter, self._name_elided)
            return
        # icon badge
        badge = QRectF(14, 12, 32, 32)
        tint = QColor(self.color)
        tint.setAlphaF(0.16 if not theme.dark else 0.28)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(tint)
        painter.drawRoundedRect(badge, 8, 8)
        icon_color = self.color.lighter(135) if theme.dark else self.color
        dpr = max(1.0, min(4.0, lod * (widget.devicePixelRatioF() if widget else 1.0)))
        pix = svg_pixmap(self.icon_path, icon_color.name(), 20, round(dpr * 2) / 2)
        painter.drawPixmap(QPointF(badge.x() + 6, badge.y() + 6), pix)
        # name and type
        painter.setFont(fonts.name)
        painter.setPen(QColor(theme.text))
        painter.drawText(QPointF(56, 26), self._name_elided)
        painter.setFont(fonts.sub)
        painter.setPen(QColor(theme.muted))
        painter.drawText(QPointF(56, 42), "disabled" if self.disabled else self._title_elided)
        # output rows
        if not self._simple:
            painter.setPen(QPen(QColor(theme.card_border), 1))
            painter.drawLine(QPointF(1, HEADER + 0.5), QPointF(WIDTH - 1, HEADER + 0.5))
            painter.setFont(fonts.port)
            for name, port in self.outputs.items():
                y = port.pos().y()
                painter.setPen(QColor(theme.error) if name == "error" else QColor(theme.muted))
                painter.drawText(
                    QRectF(16, y - ROW / 2, WIDTH - 32, ROW),
                    Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                    name,
                )
        self._paint_badges(painter, theme, fonts)
        self._paint_debug_marks(painter, theme, fonts)

    def _paint_debug_marks(self, painter: QPainter, theme: Theme, fonts: type[_Fonts]) -> None:
        """Breakpoint dot (left of the name), pin or replay tag (top right), paused-here arrow, retry buttons."""
        if self.breakpoint:
            color = QColor("#dc2626")
            painter.setPen(QPen(QColor(theme.card), 1.5))
            painter.setBrush(color if self.breakpoint != "disabled" else Qt.BrushStyle.NoBrush)
            if self.breakpoint == "disabled":
                painter.setPen(QPen(color, 1.5))
            painter.drawEllipse(QPointF(9, 9), 6, 6)
            if self.breakpoint == "conditional":
                painter.setPen(QPen(QColor("#ffffff"), 1.5))
                painter.drawLine(QPointF(6, 8), QPointF(12, 8))
                painter.drawLine(QPointF(6, 11), QPointF(12, 11))
        if self.pinned or self.replay:  # a pin stands in even for a node set to Replay
            text = "PIN" if self.pinned else "REPLAY"
            width = max(24.0, QFontMetricsF(fonts.badge).horizontalAdvance(text) + 10)
            tag = QRectF(WIDTH - 6 - width, HEADER - 22, width, 16)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(RUN_STATE_COLORS["pinned" if self.pinned else "replayed"]))
            painter.drawRoundedRect(tag, 4, 4)
            painter.setPen(QColor("#ffffff"))
            painter.setFont(fonts.badge)
            painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, text)
        if self.paused_here:
            arrow = QPainterPath()
            mid = HEADER / 2
            arrow.moveTo(-30, mid - 7)
            arrow.lineTo(-16, mid - 7)
            arrow.lineTo(-16, mid - 12)
            arrow.lineTo(-6, mid)
            arrow.lineTo(-16, mid + 12)
            arrow.lineTo(-16, mid + 7)
            arrow.lineTo(-30, mid + 7)
            arrow.closeSubpath()
            painter.setPen(Qt.PenStyle.NoPen)
            painter.fillPath(arrow, QColor("#f59e0b"))
            painter.setPen(QPen(QColor("#f59e0b"), 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(self.card_rect().adjusted(-2, -2, 2, 2), RADIUS + 2, RADIUS + 2)
        if self.run_state == "retrying":
            painter.setFont(fonts.badge)
            for (_action, rect), (_a, text) in zip(self._retry_rects(), RETRY_BUTTONS, strict=True):
                painter.setPen(QPen(QColor(RUN_STATE_COLORS["retrying"]), 1))
                painter.setBrush(QColor(theme.card))
                painter.drawRoundedRect(rect, 9, 9)
                painter.setPen(QColor(theme.text))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_block(self, painter: QPainter, theme: Theme, rect: QRectF, selected: bool) -> None:
        fill = QColor(self.color)
        if self.run_state:
            fill = QColor(RUN_STATE_COLORS[self.run_state])
        painter.setPen(QPen(QColor(theme.selection), 6) if selected else Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRect(rect)
        if self.problems:
            painter.setBrush(QColor(theme.error))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawRect(QRectF(0, 0, 40, 40))

    def _paint_card(self, painter: QPainter, theme: Theme, rect: QRectF, selected: bool) -> None:
        # soft shadow: two offset layers are far cheaper than a blur effect
        shadow = QColor(theme.card_shadow)
        painter.setPen(Qt.PenStyle.NoPen)
        for grow, alpha in ((3.0, 0.04 if not theme.dark else 0.18), (1.0, 0.07 if not theme.dark else 0.25)):
            shadow.setAlphaF(alpha)
            painter.setBrush(shadow)
            painter.drawRoundedRect(rect.adjusted(-grow, -grow + 2, grow, grow + 2), RADIUS + grow, RADIUS + grow)
        path = QPainterPath()
        path.addRoundedRect(rect, RADIUS, RADIUS)
        painter.fillPath(path, QColor(theme.card))
        # category colour strip along the left edge, clipped to the rounded card
        strip = QPainterPath()
        strip.addRect(QRectF(0, 0, 5, rect.height()))
        painter.fillPath(path.intersected(strip), self.color)
        border = QColor(theme.card_border)
        width = 1.0
        style = Qt.PenStyle.SolidLine
        if self.placeholder is not None:  # hatched, with a dashed warning border: not runnable
            hatch = QColor(theme.warning)
            hatch.setAlphaF(0.18)
            painter.fillPath(path, QBrush(hatch, Qt.BrushStyle.BDiagPattern))
            border, width, style = QColor(theme.warning), 1.5, Qt.PenStyle.DashLine
        if self.run_state:
            border = QColor(RUN_STATE_COLORS[self.run_state])
            width = 2.5
        elif self._hover:
            border = QColor(theme.muted)
        painter.setPen(QPen(border, width, style))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect.adjusted(width / 2, width / 2, -width / 2, -width / 2), RADIUS, RADIUS)
        if selected:
            painter.setPen(QPen(QColor(theme.selection), 2))
            painter.drawRoundedRect(rect.adjusted(-4, -4, 4, 4), RADIUS + 4, RADIUS + 4)

    def _paint_badges(self, painter: QPainter, theme: Theme, fonts: type[_Fonts]) -> None:
        painter.setFont(fonts.badge)
        if self.problems:
            only_warnings = all(m.startswith("warning: ") for m in self.problems)  # e.g. unreachable
            painter.setPen(QPen(QColor(theme.card), 2))
            painter.setBrush(QColor(theme.warning if only_warnings else theme.error))
            painter.drawEllipse(QPointF(0, 0), 9, 9)
            painter.setPen(QColor("#ffffff"))
            count = str(len(self.problems)) if len(self.problems) < 10 else "9+"
            painter.drawText(QRectF(-9, -9, 18, 18), Qt.AlignmentFlag.AlignCenter, count)
        text = self._badge_text()
        if text:
            color = QColor(RUN_STATE_COLORS[self.run_state or "pending"])
            pill = QRectF(WIDTH + 6 - self._badge_width, -10, self._badge_width, 20)
            painter.setPen(QPen(QColor(theme.card), 2))
            painter.setBrush(color)
            painter.drawRoundedRect(pill, 10, 10)
            painter.setPen(QColor("#ffffff"))
            painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)


_BADGE_WIDTHS: dict[str, float] = {}  # badge text -> pixel width (durations repeat within a run)
_BADGE_WIDTHS_MAX = 4096  # forget them all past this


def badge_width(text: str) -> float:
    """The badge font's width of `text`, remembered: measuring through Qt on every run-state
    change was a large part of re-badging 5,000 nodes."""
    width = _BADGE_WIDTHS.get(text)
    if width is None:
        if len(_BADGE_WIDTHS) >= _BADGE_WIDTHS_MAX:
            _BADGE_WIDTHS.clear()
        width = _BADGE_WIDTHS[text] = QFontMetricsF(_Fonts.get().badge).horizontalAdvance(text)
    return width


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
