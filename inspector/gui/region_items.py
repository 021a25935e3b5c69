"""Scene items for the numbered regions drawn over the evidence image.

Rendering only: no zoom, animation or selection policy lives here (see ``image_view.py``).

Coordinates: a :class:`RegionItem` is placed in *original-image pixels*; the view's pixmap item
sits at scene (0, 0) at 1:1, so a box ``(x1, y1, x2, y2)`` is the scene rect with those corners.
Strokes use cosmetic pens (constant width on screen at any zoom) and the number/label tag is a
child item that ignores the view's scale, so it stays the same size on screen. Because the stroke
and tag sizes are fixed in screen pixels, the view tells each item its current scale through
:meth:`RegionItem.set_view_scale`, which keeps the bounding rect honest (no repaint trails) and
keeps the tag inside the image.

Mouse buttons are not accepted by the items, so dragging anywhere (including over a box) pans the
view; the view turns a press-release without movement into :meth:`RegionItem.click`.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QStyleOptionGraphicsItem, QWidget

from inspector.core.palette import region_colour, region_text_colour
from inspector.core.wording import region_text

__all__ = ["RegionItem", "RegionTag", "box_to_rect"]

PEN_PX = 2.0  # stroke width on screen, logical pixels
HIGHLIGHT_PEN_PX = 3.5
HALO_PX = 2.0  # extra width of the dark halo under the stroke (visible on light images)
HALO_COLOUR = QColor(0, 0, 0, 150)
HIGHLIGHT_FILL_ALPHA = 56  # tint inside a highlighted box (0-255)
DASH_PATTERN = [3.0, 2.0]  # in pen widths: unexamined boxes are dashed
TAG_MAX_LABEL_PX = 220.0
TAG_PAD_X = 5.0
TAG_PAD_Y = 2.0


def box_to_rect(box: Sequence[float]) -> QRectF:
    """``(x1, y1, x2, y2)`` in image pixels → a normalized :class:`QRectF` (corners ordered)."""
    if len(box) != 4:
        raise ValueError(f"a box needs 4 numbers (x1, y1, x2, y2), got {len(box)}")
    x1, y1, x2, y2 = (float(v) for v in box)
    return QRectF(QPointF(min(x1, x2), min(y1, y2)), QPointF(max(x1, x2), max(y1, y2)))


class RegionTag(QGraphicsItem):
    """The "n label" tag at a box's top-left corner, drawn at constant screen size."""

    def __init__(self, region: RegionItem) -> None:
        super().__init__(region)
        self._region = region
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._font = QFont()
        self._bold = QFont()
        self._offset = QPointF()  # top-left of the tag, screen pixels from the anchor
        self._number_text = ""
        self._label_text = ""
        self._size = (0.0, 0.0, 0.0)  # (width, height, width of the number part)
        self.relayout()

    @property
    def region(self) -> RegionItem:
        return self._region

    def set_font(self, font: QFont) -> None:
        self._font = QFont(font)
        self._bold = QFont(font)
        self._bold.setBold(True)
        self.relayout()

    def size(self) -> tuple[float, float]:
        return self._size[0], self._size[1]

    def relayout(self) -> None:
        """Recompute the text and size (number, label or font changed)."""
        self.prepareGeometryChange()
        region = self._region
        fm, fm_bold = QFontMetricsF(self._font), QFontMetricsF(self._bold)
        self._number_text = str(region.number)
        self._label_text = fm.elidedText(region.label, Qt.TextElideMode.ElideRight,
                                         TAG_MAX_LABEL_PX) if region.label else ""
        number_w = fm_bold.horizontalAdvance(self._number_text) + 2 * TAG_PAD_X
        label_w = fm.horizontalAdvance(self._label_text) + 2 * TAG_PAD_X if self._label_text else 0
        height = max(fm.height(), fm_bold.height()) + 2 * TAG_PAD_Y
        self._size = (number_w + label_w, height, number_w)
        self.update()

    def set_offset(self, offset: QPointF) -> None:
        if offset != self._offset:
            self.prepareGeometryChange()
            self._offset = QPointF(offset)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        w, h, _ = self._size
        return QRectF(self._offset.x() - 1.5, self._offset.y() - 1.5, w + 3.0, h + 3.0)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        region = self._region
        w, h, number_w = self._size
        rect = QRectF(self._offset, self._offset + QPointF(w, h))
        colour, text_colour = region.colour, region.text_colour
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        # Number on the region colour; label on a dark translucent plate that reads on any image.
        painter.setBrush(QColor(20, 20, 20, 200))
        painter.drawRoundedRect(rect, 3, 3)
        number_rect = QRectF(rect.topLeft(), QPointF(rect.left() + number_w, rect.bottom()))
        painter.setBrush(colour)
        painter.drawRoundedRect(number_rect, 3, 3)
        if self._label_text:  # square off the number plate where it meets the label
            painter.drawRect(number_rect.adjusted(number_w / 2, 0, 0, 0))
        painter.setPen(text_colour)
        painter.setFont(self._bold)
        painter.drawText(number_rect, int(Qt.AlignmentFlag.AlignCenter), self._number_text)
        if self._label_text:
            painter.setPen(QColor("#FFFFFF"))
            painter.setFont(self._font)
            label_rect = rect.adjusted(number_w + TAG_PAD_X, 0, -TAG_PAD_X, 0)
            painter.drawText(label_rect, int(Qt.AlignmentFlag.AlignVCenter
                                             | Qt.AlignmentFlag.AlignLeft), self._label_text)
        if region.highlighted:
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(colour.lighter(135), 2.0))
            painter.drawRoundedRect(rect.adjusted(-0.5, -0.5, 0.5, 0.5), 3, 3)
        painter.restore()


class RegionItem(QGraphicsObject):
    """A numbered box over the image, in original-image pixel coordinates.

    States: *examined* (solid stroke; dashed while the region has not been examined yet) and
    *highlighted* (thicker stroke, tinted fill, raised above the other boxes). ``clicked(number)``
    is emitted by :meth:`click`, which the view calls on a click (not a drag) on the box.
    """

    clicked = Signal(int)

    Z_NORMAL = 10.0
    Z_HIGHLIGHTED = 20.0

    def __init__(self, number: int, box: Sequence[float], label: str = "",
                 examined: bool = False, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self._number = int(number)
        self._rect = box_to_rect(box)
        self._label = str(label or "")
        self._confidence: float | None = None  # how surely the model wrote it, when known
        self._examined = bool(examined)
        self._highlighted = False
        self._scale = 1.0  # logical screen pixels per image pixel
        self._bounds = QRectF()  # the image rect, to keep the tag inside it
        self._colour = QColor(region_colour(self._number))
        self._text_colour = QColor(region_text_colour(self._number))
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setZValue(self.Z_NORMAL)
        self._update_tooltip()
        self._tag = RegionTag(self)
        self._place_tag()

    # -- state ----------------------------------------------------------------------------------

    @property
    def number(self) -> int:
        return self._number

    @property
    def label(self) -> str:
        return self._label

    @property
    def colour(self) -> QColor:
        return QColor(self._colour)

    @property
    def text_colour(self) -> QColor:
        return QColor(self._text_colour)

    @property
    def examined(self) -> bool:
        return self._examined

    @property
    def highlighted(self) -> bool:
        return self._highlighted

    @property
    def tag(self) -> RegionTag:
        return self._tag

    def rect(self) -> QRectF:
        """The box in image pixels (= scene coordinates)."""
        return QRectF(self._rect)

    def set_box(self, box: Sequence[float]) -> None:
        self.prepareGeometryChange()
        self._rect = box_to_rect(box)
        self._place_tag()
        self.update()

    def set_confidence(self, confidence: float | None) -> None:
        self._confidence = confidence
        self._update_tooltip()

    def set_label(self, label: str) -> None:
        self._label = str(label or "")
        self._update_tooltip()
        self._tag.relayout()
        self._place_tag()

    def set_examined(self, examined: bool) -> None:
        if bool(examined) != self._examined:
            self._examined = bool(examined)
            self.update()

    def set_highlighted(self, highlighted: bool) -> None:
        if bool(highlighted) != self._highlighted:
            self.prepareGeometryChange()  # the stroke gets thicker
            self._highlighted = bool(highlighted)
            self.setZValue(self.Z_HIGHLIGHTED if highlighted else self.Z_NORMAL)
            self.update()
            self._tag.update()

    def set_font(self, font: QFont) -> None:
        self._tag.set_font(font)
        self._place_tag()

    def set_view_scale(self, scale: float, bounds: QRectF | None = None) -> None:
        """The view's current scale (logical screen px per image px) and the image rect."""
        scale = max(float(scale), 1e-6)
        bounds = QRectF(bounds) if bounds is not None else self._bounds
        if scale != self._scale or bounds != self._bounds:
            self.prepareGeometryChange()
            self._scale, self._bounds = scale, bounds
            self._place_tag()

    def click(self) -> None:
        self.clicked.emit(self._number)

    # -- geometry and painting -------------------------------------------------------------------

    def _pen_px(self) -> float:
        return HIGHLIGHT_PEN_PX if self._highlighted else PEN_PX

    def _margin(self) -> float:
        """Half the widest stroke, in image pixels at the current scale, plus a pixel."""
        return ((self._pen_px() + HALO_PX) / 2.0 + 1.0) / self._scale

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        m = self._margin()
        return self._rect.adjusted(-m, -m, m, m)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        pen_px = self._pen_px()
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if self._highlighted:
            tint = QColor(self._colour)
            tint.setAlpha(HIGHLIGHT_FILL_ALPHA)
            painter.fillRect(self._rect, tint)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        halo = QPen(HALO_COLOUR, pen_px + HALO_PX)
        halo.setCosmetic(True)
        halo.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
        painter.setPen(halo)
        painter.drawRect(self._rect)
        pen = QPen(self._colour, pen_px)
        pen.setCosmetic(True)
        pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
        if not self._examined:
            pen.setDashPattern(DASH_PATTERN)
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
        painter.setPen(pen)
        painter.drawRect(self._rect)
        painter.restore()

    def _place_tag(self) -> None:
        """Anchor the tag at the box's top-left: above the box if there is room, else inside."""
        tag_w, tag_h = self._tag.size()
        half = (PEN_PX + HALO_PX) / 2.0
        r, s = self._rect, self._scale
        self._tag.setPos(r.topLeft())
        x = -half
        y = -tag_h - half + 1.0  # sits on the stroke
        if self._bounds.isValid():
            if (r.top() - self._bounds.top()) * s < tag_h + half:
                y = half  # no room above: inside the box
            room_right = (self._bounds.right() - r.left()) * s
            if tag_w - half > room_right:
                x = room_right - tag_w
            x = max(x, (self._bounds.left() - r.left()) * s)
        self._tag.set_offset(QPointF(x, y))

    def _update_tooltip(self) -> None:
        text = region_text(self._label, self._confidence) if self._label else ""
        self.setToolTip(f"{self._number}. {text}" if text else str(self._number))
