"""A horizontal, scrollable strip of labelled close-up thumbnails (the examine step's crops).

Each thumbnail carries the region's number on a tag in the region's colour (the same colour as its
box in the image view and in the PDF report) and the label under the picture. Clicking a
thumbnail (or Enter/Space when it has focus) emits ``closeup_clicked(number)``.

A forensic layer shown over the image is shown over each close-up too (``set_layer``): the part
of the map under the close-up's crop, at the layer's opacity.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QStyleOptionFocusRect,
    QVBoxLayout,
    QWidget,
)

from inspector.core.palette import region_colour, region_text_colour
from inspector.gui.image_view import to_qimage

__all__ = ["CloseupStrip", "CloseupThumb"]

PAD = 6
LABEL_GAP = 4


class CloseupThumb(QWidget):
    """One close-up: the picture in a frame of the region colour, the number tag and the label."""

    clicked = Signal(int)

    def __init__(self, number: int, label: str, image: Any, size: int = 112,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._number = int(number)
        self._label = ""
        self._size = int(size)
        self._highlighted = False
        self._pixmap = QPixmap()
        self._scaled: QPixmap | None = None  # cached at the current device pixel ratio
        self._pressed = False
        self._overlay: QPixmap | None = None  # a forensic layer's crop over the picture
        self._overlay_opacity = 0.6
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.set_content(label, image)

    @property
    def number(self) -> int:
        return self._number

    @property
    def label(self) -> str:
        return self._label

    @property
    def highlighted(self) -> bool:
        return self._highlighted

    def pixmap(self) -> QPixmap:
        return self._pixmap

    def set_content(self, label: str, image: Any) -> None:
        self._label = str(label or "")
        self._pixmap = image if isinstance(image, QPixmap) else QPixmap.fromImage(to_qimage(image))
        self._scaled = None
        text = f"{self._number}. {self._label}" if self._label else f"Region {self._number}"
        self.setToolTip(f"{text} — close-up {self._pixmap.width()}×{self._pixmap.height()} px")
        self.setAccessibleName(f"Close-up {text}")
        self.updateGeometry()
        self.update()

    def set_overlay(self, image: Any | None, opacity: float = 0.6) -> None:
        """Lay ``image`` (QImage/QPixmap, stretched to the picture) over it; None removes it."""
        if image is None:
            self._overlay = None
        else:
            self._overlay = image if isinstance(image, QPixmap) else QPixmap.fromImage(image)
        self._overlay_opacity = float(opacity)
        self.update()

    def overlay(self) -> QPixmap | None:
        return self._overlay

    def overlay_opacity(self) -> float:
        return self._overlay_opacity

    def set_highlighted(self, highlighted: bool) -> None:
        if bool(highlighted) != self._highlighted:
            self._highlighted = bool(highlighted)
            self.update()

    def _label_height(self) -> float:
        return QFontMetricsF(self.font()).height() + 2

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        h = PAD + self._size + LABEL_GAP + self._label_height() + PAD
        return QSize(self._size + 2 * PAD, int(h + 0.999))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return self.sizeHint()

    def _picture_rect(self) -> QRectF:
        return QRectF(PAD, PAD, self._size, self._size)

    def _scaled_pixmap(self) -> QPixmap:
        dpr = self.devicePixelRatioF()
        if self._scaled is None or self._scaled.devicePixelRatio() != dpr:
            side = int(self._size * dpr)
            self._scaled = self._pixmap.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                               Qt.TransformationMode.SmoothTransformation)
            self._scaled.setDevicePixelRatio(dpr)
        return self._scaled

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        pal = self.palette()
        colour = QColor(region_colour(self._number))
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if self._highlighted:
            back = QColor(pal.color(QPalette.ColorRole.Highlight))
            back.setAlpha(70)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(back)
            p.drawRoundedRect(QRectF(self.rect()).adjusted(1, 1, -1, -1), 5, 5)

        frame = self._picture_rect()
        p.fillRect(frame, pal.color(QPalette.ColorRole.Dark))
        if not self._pixmap.isNull():
            pm = self._scaled_pixmap()
            w = pm.width() / pm.devicePixelRatio()
            h = pm.height() / pm.devicePixelRatio()
            target = QRectF(frame.center().x() - w / 2, frame.center().y() - h / 2, w, h)
            p.drawPixmap(target, pm, QRectF(pm.rect()))
            if self._overlay is not None and not self._overlay.isNull():
                p.save()
                p.setOpacity(self._overlay_opacity)
                p.drawPixmap(target, self._overlay, QRectF(self._overlay.rect()))
                p.restore()
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(colour, 4.0 if self._highlighted else 2.0))
        p.drawRect(frame.adjusted(0.5, 0.5, -0.5, -0.5))

        # The number tag: top-left corner of the picture, like the box tag in the image view.
        bold = QFont(self.font())
        bold.setBold(True)
        fm = QFontMetricsF(bold)
        tag_w = max(fm.horizontalAdvance(str(self._number)) + 10, fm.height() + 2)
        tag = QRectF(frame.left(), frame.top(), tag_w, fm.height() + 2)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(colour)
        p.drawRect(tag)
        p.setPen(QColor(region_text_colour(self._number)))
        p.setFont(bold)
        p.drawText(tag, int(Qt.AlignmentFlag.AlignCenter), str(self._number))

        # The label under the picture.
        p.setFont(self.font())
        p.setPen(pal.color(QPalette.ColorRole.WindowText))
        label_rect = QRectF(PAD, frame.bottom() + LABEL_GAP, self._size, self._label_height())
        text = QFontMetricsF(self.font()).elidedText(
            self._label or f"Region {self._number}", Qt.TextElideMode.ElideRight, self._size)
        p.drawText(label_rect, int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop),
                   text)

        if self.hasFocus():
            opt = QStyleOptionFocusRect()
            opt.initFrom(self)
            opt.rect = self.rect().adjusted(1, 1, -1, -1)
            self.style().drawPrimitive(QStyle.PrimitiveElement.PE_FrameFocusRect, opt, p, self)
        p.end()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self.updateGeometry()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.button() == Qt.MouseButton.LeftButton:
            self._pressed = True
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.button() == Qt.MouseButton.LeftButton and self._pressed:
            self._pressed = False
            if self.rect().contains(event.position().toPoint()):
                self.clicked.emit(self._number)
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.clicked.emit(self._number)
            event.accept()
        else:
            super().keyPressEvent(event)


class _WheelToHorizontal(QObject):
    """Vertical wheel turns over the strip scroll it sideways."""

    def __init__(self, area: QScrollArea) -> None:
        super().__init__(area)
        self._area = area

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.Wheel and isinstance(event, QWheelEvent):
            delta = event.angleDelta()
            if delta.x() == 0 and delta.y() != 0:
                bar = self._area.horizontalScrollBar()
                bar.setValue(bar.value() - int(delta.y() / 120 * bar.singleStep() * 3))
                return True
        return False


class CloseupStrip(QWidget):
    """Labelled close-up thumbnails in a row, in arrival order; scrolls sideways."""

    closeup_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None, thumb_size: int = 112) -> None:
        super().__init__(parent)
        self._thumb_size = int(thumb_size)
        self._thumbs: dict[int, CloseupThumb] = {}
        self._highlighted: int | None = None
        self._layer: Callable[[int], Any] | None = None  # region number -> layer crop image
        self._layer_opacity = 0.6

        self._area = QScrollArea(self)
        self._area.setWidgetResizable(True)
        self._area.setFrameShape(QFrame.Shape.NoFrame)
        self._area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self._area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._area.viewport().installEventFilter(_WheelToHorizontal(self._area))
        self._content = QWidget()
        self._row = QHBoxLayout(self._content)
        self._row.setContentsMargins(4, 2, 4, 2)
        self._row.setSpacing(4)
        self._placeholder = QLabel("Close-ups appear here when the regions are examined.")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setEnabled(False)  # the palette's disabled (muted) text colour
        self._row.addWidget(self._placeholder, 1)
        self._row.addStretch(0)
        self._area.setWidget(self._content)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._area)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Close-ups")

    def add_closeup(self, number: int, label: str, image: Any) -> CloseupThumb:
        """Add (or replace) the close-up of region ``number``; scrolls it into view."""
        number = int(number)
        thumb = self._thumbs.get(number)
        if thumb is None:
            thumb = CloseupThumb(number, label, image, self._thumb_size)
            thumb.clicked.connect(self._thumb_clicked)
            self._thumbs[number] = thumb
            self._row.insertWidget(self._row.count() - 1, thumb)
        else:
            thumb.set_content(label, image)
        thumb.set_highlighted(number == self._highlighted)
        thumb.set_overlay(self._layer(number) if self._layer else None, self._layer_opacity)
        self._placeholder.hide()
        self._area.ensureWidgetVisible(thumb, 0, 0)
        return thumb

    def clear(self) -> None:
        for thumb in self._thumbs.values():
            self._row.removeWidget(thumb)
            thumb.hide()  # gone from the screen now, not only when the deletion is processed
            thumb.deleteLater()
        self._thumbs.clear()
        self._highlighted = None
        self._placeholder.show()

    def set_layer(self, crop: Callable[[int], Any] | None, opacity: float = 0.6) -> None:
        """Show a forensic layer over every close-up, present and to come: ``crop(number)`` is
        the layer's picture for region ``number``'s close-up (None: nothing for it)."""
        self._layer, self._layer_opacity = crop, float(opacity)
        for number, thumb in self._thumbs.items():
            thumb.set_overlay(crop(number) if crop else None, self._layer_opacity)

    def set_layer_opacity(self, opacity: float) -> None:
        self._layer_opacity = float(opacity)
        for thumb in self._thumbs.values():
            thumb.set_overlay(thumb.overlay(), self._layer_opacity)

    def highlight(self, number: int | None) -> None:
        """Highlight one thumbnail (None: none) and scroll it into view. Does not emit."""
        self._highlighted = None if number is None else int(number)
        for n, thumb in self._thumbs.items():
            thumb.set_highlighted(n == self._highlighted)
        thumb = self._thumbs.get(self._highlighted) if self._highlighted is not None else None
        if thumb is not None:
            self._area.ensureWidgetVisible(thumb, 0, 0)

    def highlighted(self) -> int | None:
        return self._highlighted

    def count(self) -> int:
        return len(self._thumbs)

    def numbers(self) -> list[int]:
        """Region numbers in display order."""
        return [t.number for t in self.thumbs()]

    def thumb(self, number: int) -> CloseupThumb | None:
        return self._thumbs.get(int(number))

    def thumbs(self) -> list[CloseupThumb]:
        found = (self._row.itemAt(i).widget() for i in range(self._row.count()))
        return [w for w in found if isinstance(w, CloseupThumb)]

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        probe_h = PAD + self._thumb_size + LABEL_GAP + QFontMetricsF(self.font()).height() + 2 + PAD
        bar = self._area.horizontalScrollBar().sizeHint().height()
        m = self._row.contentsMargins()
        return QSize(4 * (self._thumb_size + 2 * PAD), int(probe_h + 0.999) + m.top()
                     + m.bottom() + bar)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(self._thumb_size + 2 * PAD, self.sizeHint().height())

    def _thumb_clicked(self, number: int) -> None:
        self.highlight(number)
        self.closeup_clicked.emit(number)
