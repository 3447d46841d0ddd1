"""A connection drawn as a bezier curve from an output port to an input port.

Its bounds are Qt's own (a `QGraphicsRectItem` with no pen whose rect is the bounds): the
scene asks an item's `boundingRect` at every update, and a Python one is a call into Python
on the GUI thread that waits for the interpreter lock while a run holds it.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsSceneHoverEvent,
    QStyle,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.canvas.nodeitem import NodeItem, _theme_of
from app.crash_guard import guarded
from app.theme import Theme
from engine.model import Connection

_LABEL_FONT: QFont | None = None
_LABEL_METRICS: QFontMetricsF | None = None
_LABEL_WIDTHS: dict[str, float] = {}  # label text -> pixel width; a run repeats few texts
_LABEL_WIDTHS_MAX = 4096  # forget them all past this (previews of item data vary)


def bezier(p1: QPointF, p2: QPointF, back: bool = False) -> QPainterPath:
    """An S-curve leaving p1 to the right and entering p2 from the left.

    A backwards edge (a loop body returning to its loop, or `back`: the
    connection that closes a cycle, e.g. a polling loop's way back to its wait)
    swings below both ends instead of cutting through the cards between them.
    """
    dx = p2.x() - p1.x()
    path = QPainterPath(p1)
    if dx >= 0 and not back:
        reach = max(50.0, dx * 0.5)
        path.cubicTo(QPointF(p1.x() + reach, p1.y()), QPointF(p2.x() - reach, p2.y()), p2)
    else:
        reach = 90.0
        low = max(p1.y(), p2.y()) + 90.0
        path.cubicTo(QPointF(p1.x() + reach, p1.y()), QPointF(p1.x() + reach, low), QPointF((p1.x() + p2.x()) / 2, low))
        path.cubicTo(QPointF(p2.x() - reach, low), QPointF(p2.x() - reach, p2.y()), p2)
    return path


def _label_font() -> QFont:
    global _LABEL_FONT
    if _LABEL_FONT is None:
        _LABEL_FONT = QFont()
        _LABEL_FONT.setPixelSize(11)
        _LABEL_FONT.setWeight(QFont.Weight.DemiBold)
    return _LABEL_FONT


def label_width(text: str) -> float:
    """The label font's width of `text`, remembered: measuring text through Qt is most of
    what relabelling thousands of edges during a run costs."""
    global _LABEL_METRICS
    width = _LABEL_WIDTHS.get(text)
    if width is None:
        if _LABEL_METRICS is None:
            _LABEL_METRICS = QFontMetricsF(_label_font())
        if len(_LABEL_WIDTHS) >= _LABEL_WIDTHS_MAX:
            _LABEL_WIDTHS.clear()
        width = _LABEL_WIDTHS[text] = _LABEL_METRICS.horizontalAdvance(text)
    return width


LABEL_SPOTS = (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8)  # along the curve, middle first
ABOVE = -1.0  # no spot on the curve is clear of the cards: above them


class EdgeItem(QGraphicsRectItem):
    """Draws `conn`; the scene keeps one per connection in the model. Its rect is its
    bounds (set where the path or its label moves), never drawn as such: `paint` draws the curve."""

    def __init__(self, conn: Connection, source: NodeItem, target: NodeItem) -> None:
        super().__init__()
        self.conn = conn
        self.source = source
        self.target = target
        self.flow_label: str | None = None
        self.flow_taken: bool | None = None
        self.back_edge = False  # closes a cycle: drawn below the cards, with a cycle mark
        self._path = QPainterPath()
        self._shape = QPainterPath()
        self._label_rect = QRectF()
        self._label_spot: float | None = None  # where along the curve the label sits
        self._path_bounds = QRectF()  # the curve's bounds (computed once per path)
        self._spot_points: dict[float, QPointF] = {}  # point on the curve per label spot, per path
        self._hover = False
        self.setPen(QPen(Qt.PenStyle.NoPen))  # the rect's bounds are the rect itself (no half pen width around it)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(0)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        source.edges.add(self)
        target.edges.add(self)
        self.update_path()

    def detach(self) -> None:
        self.source.edges.discard(self)
        self.target.edges.discard(self)

    @property
    def dangling(self) -> bool:
        """True when a port it names does not exist (e.g. a removed switch case)."""
        return self.source.port(self.conn.from_port, True) is None or self.target.port(self.conn.to_port, False) is None

    def update_path(self) -> None:
        p1 = self.source.port_scene_pos(self.conn.from_port, True)
        p2 = self.target.port_scene_pos(self.conn.to_port, False)
        self.prepareGeometryChange()
        self._path = bezier(p1, p2, self.back_edge)
        stroker = QPainterPathStroker()
        stroker.setWidth(12)
        self._shape = stroker.createStroke(self._path)
        self._path_bounds = self._path.boundingRect()
        self._spot_points = {}
        self._label_spot = None  # the cards moved: look for the best spot again
        self._update_label_rect()
        self.setRect(self._wanted_bounds())  # what Qt answers `boundingRect` with (announced)

    def _wanted_bounds(self) -> QRectF:
        bounds = self._path_bounds.adjusted(-8, -8, 8, 8)
        if not self._label_rect.isEmpty():
            bounds = bounds.united(self._label_rect.adjusted(-2, -2, 2, 2))
        return bounds

    def _update_label_rect(self) -> None:
        if not self.flow_label:
            self._label_rect = QRectF()
            return
        width = label_width(self.flow_label) + 14
        self._label_rect = self._free_label_rect(width)

    def _free_label_rect(self, width: float) -> QRectF:
        """Where the label is not covered by its own cards (they are drawn over edges): the
        middle of the curve, else a point nearer either end, else just above both cards.
        A relabelled edge keeps its spot (and so its geometry) while the label fits there."""
        cards = (self.source.sceneBoundingRect(), self.target.sceneBoundingRect())
        spots = LABEL_SPOTS if self._label_spot is None else (self._label_spot, *LABEL_SPOTS)
        for t in spots:
            if t == ABOVE:
                mid = self._spot_point(0.5)
                return QRectF(mid.x() - width / 2, min(c.top() for c in cards) - 24, width, 20)
            at = self._spot_point(t)
            rect = QRectF(at.x() - width / 2, at.y() - 10, width, 20)
            if not any(rect.intersects(c) for c in cards):
                self._label_spot = t
                return rect
        self._label_spot = ABOVE
        return self._free_label_rect(width)

    def _spot_point(self, t: float) -> QPointF:
        """The point `t` along the curve; kept until the path changes (a relabel reuses it)."""
        at = self._spot_points.get(t)
        if at is None:
            at = self._spot_points[t] = self._path.pointAtPercent(t)
        return at

    def set_back_edge(self, back: bool) -> None:
        """Mark this connection as the one that closes a cycle (see engine.graph.cycle_edges)."""
        if back != self.back_edge:
            self.back_edge = back
            self.update_path()
            self.update()

    # -- public API for the runner -----------------------------------------------
    def set_flow_label(self, text: str | None, taken: bool | None) -> None:
        """Show what flowed along this edge after a run ("3 items"); `taken` False draws it
        faded (a branch that was not taken), True highlighted, None plain."""
        text = text or None
        if text != self.flow_label:
            self.flow_label = text
            self._update_label_rect()
            wanted = self._wanted_bounds()
            # grow only: a geometry change re-indexes the item in the scene's BSP tree,
            # which a run re-labelling thousands of edges would pay on every frame
            if not (bounds := self.rect()).contains(wanted):
                self.setRect(bounds.united(wanted))
        self.flow_taken = taken
        self.update()

    def path(self) -> QPainterPath:
        return QPainterPath(self._path)

    def shape(self) -> QPainterPath:
        return self._shape

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self._hover = False
        self.update()

    @guarded
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        theme = _theme_of(self)
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        color = QColor(theme.edge)
        width = 2.0
        style = Qt.PenStyle.SolidLine
        if self.conn.from_port == "error":
            color = QColor(theme.error)
            style = Qt.PenStyle.DashLine
        elif self.back_edge:
            style = Qt.PenStyle.DashDotLine
        if self.flow_taken is True:
            color = QColor(theme.success)
            width = 3.0
        elif self.flow_taken is False:
            color.setAlphaF(0.35)
            style = Qt.PenStyle.DashLine
        if self.dangling:
            color = QColor(theme.error)
            style = Qt.PenStyle.DotLine
        if self._hover:
            width += 1
        if selected:
            color = QColor(theme.selection)
            width += 1
        if lod < 0.3:
            painter.setPen(QPen(color, width / max(lod, 0.05) * 0.3))
            painter.drawLine(self._path.pointAtPercent(0), self._path.pointAtPercent(1))
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(color, width, style, Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        # arrow head into the input port
        end = self._path.pointAtPercent(1.0)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawPolygon(QPolygonF([end + QPointF(-11, -5), end + QPointF(-5, 0), end + QPointF(-11, 5)]))
        if self.back_edge and not self.flow_label and lod >= 0.45:
            self._paint_cycle_mark(painter, color, theme)
        if self.flow_label and lod >= 0.45:
            painter.setBrush(QColor(theme.card))
            painter.setPen(QPen(color, 1.5))
            painter.drawRoundedRect(self._label_rect, 10, 10)
            painter.setFont(_label_font())
            painter.setPen(QColor(theme.text))
            painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.flow_label)

    def _paint_cycle_mark(self, painter: QPainter, color: QColor, theme: Theme) -> None:
        """A small round badge with a cycle arrow at the lowest point of the back-edge."""
        mid = self._path.pointAtPercent(0.5)
        badge = QRectF(mid.x() - 10, mid.y() - 10, 20, 20)
        painter.setBrush(QColor(theme.card))
        painter.setPen(QPen(color, 1.5))
        painter.drawEllipse(badge)
        painter.setFont(_label_font())
        painter.setPen(color)
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, "\u21bb")
