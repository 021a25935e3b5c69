"""The drawing operations a paged layout records and replays onto a painter at render time.

Each is a closure over what it draws; the painter's state is saved and restored around each call
(:meth:`inspector.report.layout.PageWriter.finish`), so they set what they need.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen

__all__ = ["BlockDrawer", "DrawOp", "block_op", "fill_op", "grid_op", "text_op"]

DrawOp = Callable[[QPainter], None]
BlockDrawer = Callable[[QPainter, QRectF], None]  # draws a reserved block into its rectangle


def text_op(x: float, baseline: float, text: str, font: QFont, color: QColor) -> DrawOp:
    def op(p: QPainter) -> None:
        p.setFont(font)
        p.setPen(color)
        p.drawText(QPointF(x, baseline), text)

    return op


def block_op(rect: QRectF, draw: BlockDrawer) -> DrawOp:
    def op(p: QPainter) -> None:
        draw(p, rect)

    return op


def fill_op(rect: QRectF, color: QColor) -> DrawOp:
    def op(p: QPainter) -> None:
        p.fillRect(rect, color)

    return op


def grid_op(xs: list[float], widths: list[float], y: float, h: float, pen: QPen) -> DrawOp:
    def op(p: QPainter) -> None:
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        for x, w in zip(xs, widths, strict=True):
            p.drawRect(QRectF(x, y, w, h))

    return op
