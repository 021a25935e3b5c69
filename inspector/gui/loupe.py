"""The loupe: a small square inside the image view showing the pixels under the cursor at 4×.

Each image pixel becomes a 4×4 block of screen pixels (no smoothing: the examiner sees the
pixels, JPEG blocks included). The view may show a screen-sized *preview* of a large photograph;
the loupe then shows the preview's pixels at once, marked "preview", and asks for the file's
full-resolution pixels (``request_full(box, done)``, decoded off the GUI thread by the window),
which replace them as soon as they arrive. The square sits beside the cursor, never under it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QGraphicsView, QWidget

__all__ = ["Loupe"]

MAGNIFICATION = 4
SIDE = 176  # logical pixels: 44 × 44 image pixels at 4×
OFFSET = 24  # from the cursor to the loupe's nearest corner

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 inclusive, original pixels
FullRequest = Callable[[Box, Callable[[QImage | None], None]], None]


class Loupe(QWidget):
    """A magnifier over ``view``'s viewport; off until ``set_active(True)``."""

    def __init__(self, view: QGraphicsView, request_full: FullRequest | None = None) -> None:
        super().__init__(view.viewport())
        self._view = view
        self._request_full = request_full
        self._active = False
        self._box: Box | None = None  # the image pixels shown now
        self._pixels = QImage()  # n × n image pixels (unscaled)
        self._full = False  # True: full-resolution pixels, False: the preview's
        self._in_flight: Box | None = None
        self._source: tuple[int, QImage] | None = None  # the view's pixmap as an image, by key
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        self.setFixedSize(SIDE, SIDE)
        self.setAccessibleName("Loupe")
        self.hide()
        view.viewport().installEventFilter(self)

    # -- state ----------------------------------------------------------------------------------

    @property
    def span(self) -> int:
        """Image pixels across the loupe."""
        return SIDE // MAGNIFICATION

    def is_active(self) -> bool:
        return self._active

    def set_active(self, on: bool) -> None:
        self._active = bool(on)
        if not self._active:
            self.hide()
            return
        pos = self._view.viewport().mapFromGlobal(self.cursor().pos())
        if self._view.viewport().rect().contains(pos):
            self.follow(QPointF(pos))

    def box(self) -> Box | None:
        return self._box

    def is_full_resolution(self) -> bool:
        return self._full

    def pixels(self) -> QImage:
        """The image pixels shown (span × span, before magnification)."""
        return self._pixels

    def magnified(self) -> QImage:
        """What the loupe draws: every image pixel a MAGNIFICATION-sized square."""
        return self._pixels.scaled(self._pixels.width() * MAGNIFICATION,
                                   self._pixels.height() * MAGNIFICATION,
                                   Qt.AspectRatioMode.IgnoreAspectRatio,
                                   Qt.TransformationMode.FastTransformation)

    # -- following the cursor ------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if self._active:
            if event.type() == QEvent.Type.MouseMove:
                self.follow(event.position())
            elif event.type() == QEvent.Type.Leave:
                self.hide()
        return False

    def follow(self, pos: QPointF) -> None:
        """Show the pixels under viewport position ``pos`` (hidden off the image)."""
        view = self._view
        item = view.pixmap_item() if hasattr(view, "pixmap_item") else None
        pixel = view.pixel_at(pos) if hasattr(view, "pixel_at") else None
        if not self._active or item is None or pixel is None:
            self.hide()
            return
        n = self.span
        box = (pixel[0] - n // 2, pixel[1] - n // 2, pixel[0] - n // 2 + n - 1,
               pixel[1] - n // 2 + n - 1)
        self._place(pos)
        if box != self._box:
            self._box = box
            self._show_preview(self._source_image(item.pixmap()), view.preview_scale())
            if not self._full and self._request_full is not None and self._in_flight is None:
                self._ask(box)
        self.show()
        self.raise_()
        self.update()

    def _source_image(self, pixmap) -> QImage:
        """The view's pixmap as a QImage, converted once per pixmap (not per mouse move)."""
        if self._source is None or self._source[0] != pixmap.cacheKey():
            self._source = (pixmap.cacheKey(), pixmap.toImage())
        return self._source[1]

    def _place(self, pos: QPointF) -> None:
        area = self._view.viewport().rect()
        right, below = pos.x() + OFFSET, pos.y() + OFFSET
        x = right if right + SIDE <= area.right() else pos.x() - OFFSET - SIDE
        y = below if below + SIDE <= area.bottom() else pos.y() - OFFSET - SIDE
        self.move(QPoint(int(max(0, x)), int(max(0, y))))

    def _show_preview(self, source: QImage, scale: float) -> None:
        """The box from the view's own pixmap: exact when it is the full image."""
        x1, y1, x2, y2 = self._box
        n = x2 - x1 + 1
        pixels = QImage(n, n, QImage.Format.Format_RGB32)
        pixels.fill(QColor(40, 40, 40))
        painter = QPainter(pixels)
        if scale >= 1.0:  # the pixmap is the original: copy the pixels as they are
            painter.drawImage(QPoint(0, 0), source, QRect(x1, y1, n, n))
        else:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(QRectF(0, 0, n, n), source,
                              QRectF(x1 * scale, y1 * scale, n * scale, n * scale))
        painter.end()
        self._pixels, self._full = pixels, scale >= 1.0

    def _ask(self, box: Box) -> None:
        self._in_flight = box
        self._request_full(box, lambda image, b=box: self._full_arrived(b, image))

    def _full_arrived(self, box: Box, image: QImage | None) -> None:
        self._in_flight = None
        if not self._active or self._box is None:
            return
        if box != self._box:  # the cursor moved on: fetch where it is now
            if not self._full:
                self._ask(self._box)
            return
        if image is None or image.isNull():
            return
        x1, y1, x2, _ = box
        n = x2 - x1 + 1
        pixels = QImage(n, n, QImage.Format.Format_RGB32)
        pixels.fill(QColor(40, 40, 40))
        painter = QPainter(pixels)
        painter.drawImage(QPoint(max(0, -x1), max(0, -y1)), image)  # clipped at the image edge
        painter.end()
        self._pixels, self._full = pixels, True
        self.update()

    # -- drawing ------------------------------------------------------------------------------

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        if not self._pixels.isNull():
            p.drawImage(QRectF(self.rect()), self._pixels, QRectF(self._pixels.rect()))
        # the pixel under the cursor, framed
        n = self.span
        centre = QRectF((n // 2) * MAGNIFICATION, (n // 2) * MAGNIFICATION, MAGNIFICATION,
                        MAGNIFICATION)
        p.setPen(QPen(QColor(0, 0, 0), 1))
        p.drawRect(centre.adjusted(-1, -1, 0, 0))
        p.setPen(QPen(QColor(255, 255, 255), 1))
        p.drawRect(centre.adjusted(-2, -2, 1, 1))
        caption = f"{MAGNIFICATION}× " + ("full resolution" if self._full else "preview…")
        band = QRectF(0, self.height() - 16, self.width(), 16)
        p.fillRect(band, QColor(0, 0, 0, 170))
        p.setPen(QColor(255, 255, 255))
        font = p.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.8))
        p.setFont(font)
        p.drawText(band, int(Qt.AlignmentFlag.AlignCenter), caption)
        p.setPen(QPen(QColor(255, 255, 255), 2))
        p.drawRect(QRectF(self.rect()).adjusted(1, 1, -1, -1))
        p.end()
