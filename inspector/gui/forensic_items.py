"""The forensic layer in the image view's scene: the coloured map and the analyses' regions.

Scene coordinates are original-image pixels (see ``image_view``), so a map of any size is scaled
to the image's rectangle and region boxes go in unchanged. The map sits over the picture (and its
full-resolution detail) and under the model's numbered boxes; its regions are outlined in their
own style — black and white dashes, no colour — which the numbered boxes (Okabe–Ito colours,
``core.palette``) never use, and which reads on any photograph and for every colour vision. A
copy-move pair is its two boxes joined by an arrow from the source to the target.

Nothing here accepts mouse buttons: dragging over the layer pans the view as before.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QTransform,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

from inspector.gui.region_items import box_to_rect

__all__ = ["ForensicOverlay", "TwoTonePath"]

Z_MAP = 1.0  # over the picture (0) and its detail (0.5), under the numbered boxes (10)
Z_REGIONS = 5.0
DASH = [4.0, 3.0]  # in pen widths
LIGHT, DARK = QColor(255, 255, 255), QColor(0, 0, 0)


class TwoTonePath(QGraphicsPathItem):
    """A path stroked black underneath and white dashed on top, at constant screen width."""

    def __init__(self, path: QPainterPath, parent: QGraphicsItem | None = None) -> None:
        super().__init__(path, parent)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        under = QPen(DARK, 3.5)
        under.setCosmetic(True)
        self.setPen(under)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(self.pen())
        painter.drawPath(self.path())
        top = QPen(LIGHT, 1.75)
        top.setCosmetic(True)
        top.setDashPattern(DASH)
        painter.setPen(top)
        painter.drawPath(self.path())
        painter.restore()


class _Tag(QGraphicsItem):
    """A label on a dark plate at constant screen size, hanging below a point of the scene."""

    def __init__(self, text: str, font: QFont) -> None:
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._text = text
        self._font = QFont(font)
        fm = QFontMetricsF(self._font)
        self._rect = QRectF(0, 2, fm.horizontalAdvance(text) + 8, fm.height() + 2)

    def text(self) -> str:
        return self._text

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return self._rect.adjusted(-1, -1, 1, 1)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(LIGHT, 1.0, Qt.PenStyle.DashLine))
        painter.setBrush(QColor(0, 0, 0, 210))
        painter.drawRoundedRect(self._rect, 3, 3)
        painter.setFont(self._font)
        painter.setPen(LIGHT)
        painter.drawText(self._rect, int(Qt.AlignmentFlag.AlignCenter), self._text)
        painter.restore()


def _arrow_path(start: QPointF, end: QPointF) -> QPainterPath:
    """A line from ``start`` to ``end`` with an open arrowhead at ``end`` (scene units)."""
    path = QPainterPath(start)
    path.lineTo(end)
    dx, dy = end.x() - start.x(), end.y() - start.y()
    length = math.hypot(dx, dy)
    if length < 1e-6:
        return path
    head = max(3.0, min(0.15 * length, 40.0))
    angle = math.atan2(dy, dx)
    for side in (-1, 1):
        a = angle + math.pi + side * math.radians(25)
        path.moveTo(end)
        path.lineTo(end + QPointF(math.cos(a) * head, math.sin(a) * head))
    return path


class ForensicOverlay:
    """One forensic layer shown over a view's image; ``clear()`` before the image changes."""

    def __init__(self, view: QGraphicsView) -> None:
        self._view = view
        self._map: QGraphicsPixmapItem | None = None
        self._items: list[QGraphicsItem] = []  # region outlines, links and tags
        self._opacity = 0.6
        self.name: str | None = None

    def show(self, name: str, image: QImage | None, image_rect: QRectF,
             regions: Sequence[tuple[Sequence[float], str]] = (),
             links: Sequence[tuple[Sequence[float], Sequence[float]]] = ()) -> None:
        """Lay ``image`` (a coloured map, any size) over ``image_rect``; outline ``regions``
        ((box, label) in original pixels) and join each (source box, target box) of ``links``."""
        self.clear()
        self.name = name
        scene = self._view.scene()
        if image is not None and not image.isNull() and not image_rect.isEmpty():
            item = QGraphicsPixmapItem(QPixmap.fromImage(image))
            item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
            item.setTransformationMode(Qt.TransformationMode.FastTransformation)  # honest blocks
            item.setTransform(QTransform.fromScale(image_rect.width() / image.width(),
                                                   image_rect.height() / image.height()))
            item.setPos(image_rect.topLeft())
            item.setOpacity(self._opacity)
            item.setZValue(Z_MAP)
            scene.addItem(item)
            self._map = item
        font = self._view.font()
        for box, label in regions:
            rect = box_to_rect(box)
            path = QPainterPath()
            path.addRect(rect)
            self._add(TwoTonePath(path), scene)
            if label:
                tag = _Tag(label, font)
                tag.setPos(rect.bottomLeft())
                self._add(tag, scene)
        for source, target in links:
            start, end = box_to_rect(source).center(), box_to_rect(target).center()
            self._add(TwoTonePath(_arrow_path(start, end)), scene)

    def _add(self, item: QGraphicsItem, scene) -> None:
        item.setZValue(Z_REGIONS + (0.5 if isinstance(item, _Tag) else 0.0))
        scene.addItem(item)
        self._items.append(item)

    def set_opacity(self, opacity: float) -> None:
        self._opacity = min(max(float(opacity), 0.0), 1.0)
        if self._map is not None:
            self._map.setOpacity(self._opacity)

    def opacity(self) -> float:
        return self._opacity

    def map_item(self) -> QGraphicsPixmapItem | None:
        return self._map

    def region_items(self) -> list[TwoTonePath]:
        return [item for item in self._items if isinstance(item, TwoTonePath)]

    def tags(self) -> list[str]:
        return [item.text() for item in self._items if isinstance(item, _Tag)]

    def clear(self) -> None:
        scene = self._view.scene()
        for item in ([self._map] if self._map is not None else []) + self._items:
            if item.scene() is scene:
                scene.removeItem(item)
        self._map, self._items, self.name = None, [], None
