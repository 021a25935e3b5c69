"""The evidence image view: fit, zoom, pan, numbered regions and the animated examine step.

The scene holds one pixmap item at (0, 0) scaled to the original image's size, so scene
coordinates are original-image pixels and region boxes go in unchanged. The pixmap may be a
screen-sized preview of a huge photograph (``set_image(preview, full_size=...)``); when the view
is zoomed in beyond the preview's resolution it asks for a full-resolution *detail* of the
visible area (``detail_wanted``), which the window decodes off the GUI thread and lays over the
preview (``set_detail``). Without an image the view shows a message, by default the drop
target. The drawing of the boxes lives in ``region_items.py``; this
module is view logic only.

Zoom is reported in *device* pixels per image pixel, so "100 %" (key 1) shows one image pixel per
screen pixel on a high-DPI display too. Above :data:`CRISP_ZOOM` the pixmap is drawn without
smoothing so individual pixels stay sharp squares — what an examiner wants to see at that zoom.

Animations (:meth:`ImageView.zoom_to_box`, :meth:`ImageView.play_examine`) are QVariantAnimation
objects in a QSequentialAnimationGroup driven by the event loop: nothing sleeps or spins. With
``animations_enabled = False`` they complete at once (``play_examine`` still reports through its
signals, on the next turn of the event loop).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractAnimation,
    QEasingCurve,
    QEvent,
    QPoint,
    QPointF,
    QRectF,
    QSequentialAnimationGroup,
    Qt,
    QTimer,
    QVariantAnimation,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPalette,
    QPixmap,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

from inspector.gui.region_items import RegionItem, RegionTag, box_to_rect

__all__ = ["ImageView", "to_qimage", "CRISP_ZOOM", "MAX_ZOOM"]

CRISP_ZOOM = 3.0  # device px per image px at and above which pixels are drawn unsmoothed
MAX_ZOOM = 64.0
WHEEL_STEP = 1.25  # zoom factor per wheel notch (120 eighths of a degree)
KEY_STEP = 1.25
BOX_MARGIN = 0.12  # context added around a box on each side when zooming into it (fraction)
MIN_TARGET_PX = 16.0  # zoom_to_box never frames less than this many image pixels


def to_qimage(image: Any) -> QImage:
    """A PIL image, QImage or QPixmap → an independent QImage (one copy of the pixels)."""
    if isinstance(image, QImage):
        return image.copy()
    if isinstance(image, QPixmap):
        return image.toImage()
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - Pillow is a core dependency
        raise TypeError(f"cannot show {type(image).__name__}") from exc
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL image or QImage, got {type(image).__name__}")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        img, fmt, bpp = image.convert("RGBA"), QImage.Format.Format_RGBA8888, 4
    else:
        img, fmt, bpp = image.convert("RGB"), QImage.Format.Format_RGB888, 3
    data = img.tobytes()
    return QImage(data, img.width, img.height, img.width * bpp, fmt).copy()


class _ZoomAnimation(QVariantAnimation):
    """Interpolates the view from where it is when it starts to ``target`` (None = fit).

    The start is captured lazily at the first frame, so in a sequence each step starts wherever
    the previous one (or the user) left the view. The scale is interpolated geometrically and the
    centre so that the target stays put on screen as it grows (a zoom about a fixed point), which
    reads as one smooth motion instead of a slide followed by a zoom.
    """

    def __init__(self, view: ImageView, target: QRectF | None, duration_ms: int) -> None:
        super().__init__()
        self._view = view
        self._target = QRectF(target) if target is not None else None
        self._start: tuple[float, QPointF] | None = None
        self.setStartValue(0.0)
        self.setEndValue(1.0)
        self.setDuration(max(0, int(duration_ms)))
        self.setEasingCurve(QEasingCurve.Type.InOutCubic)
        self.valueChanged.connect(self._step)
        self.stateChanged.connect(self._state_changed)

    def _state_changed(self, new: QAbstractAnimation.State, old: QAbstractAnimation.State) -> None:
        if new == QAbstractAnimation.State.Stopped:
            self._start = None

    def _step(self, value: float) -> None:
        view = self._view
        if self._start is None:
            self._start = view._current_state()
        s0, c0 = self._start
        s1, c1 = view._state_for_rect(self._target)
        view._apply_state(*interpolate_view(s0, c0, s1, c1, float(value)))


def interpolate_view(s0: float, c0: QPointF, s1: float, c1: QPointF,
                     t: float) -> tuple[float, QPointF]:
    """The view scale and centre at ``t`` in [0, 1] between two (scale, centre) states."""
    t = min(max(t, 0.0), 1.0)
    s = s0 * (s1 / s0) ** t if s0 > 0 and s1 > 0 else s0 + (s1 - s0) * t
    inv0, inv1 = 1.0 / s0, 1.0 / s1
    w = (inv0 - 1.0 / s) / (inv0 - inv1) if abs(inv0 - inv1) > 1e-9 * inv0 else t
    return s, c0 + (c1 - c0) * w


class ImageView(QGraphicsView):
    """Shows one image with numbered regions; fit, zoom, pan; animated examine sequence."""

    region_clicked = Signal(int)
    examining = Signal(int)  # play_examine reached box `index` (0-based, in the order given)
    examine_finished = Signal()  # once per play_examine, whether it completed or was stopped
    zoom_changed = Signal(float)  # zoom_factor(), e.g. for a status bar
    cursor_moved = Signal(object)  # (x, y) original-image pixel under the cursor, or None
    detail_wanted = Signal(QRectF, float)  # visible scene rect, device px per image px
    touched = Signal()  # the user zoomed, panned or clicked (the window stops auto-following)

    DROP_MESSAGE = "Drop images or folders here\n(or File › Open images…)"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self._pixmap_item: QGraphicsPixmapItem | None = None
        self._regions: dict[int, RegionItem] = {}
        self._highlighted: int | None = None
        self._fit_mode = True
        self._animations_enabled = True
        self._last_zoom = 0.0
        self._zoom_anim: _ZoomAnimation | None = None
        self._group: QSequentialAnimationGroup | None = None
        self._group_steps: list[QAbstractAnimation] = []  # keep the Python wrappers alive
        self._examine_pending = False
        self._examine_count = 0
        self._examine_next = 0
        self._instant = QTimer(self)  # animations off: report on the next turn of the loop
        self._instant.setSingleShot(True)
        self._instant.setInterval(0)
        self._instant.timeout.connect(self._finish_instant)
        self._press_pos: QPointF | None = None
        self._full_size: tuple[int, int] | None = None  # original pixels of a preview
        self._detail_item: QGraphicsPixmapItem | None = None
        self._message = self.DROP_MESSAGE
        self._alert = ""
        self._detail_timer = QTimer(self)  # ask for a detail once zooming and panning settle
        self._detail_timer.setSingleShot(True)
        self._detail_timer.setInterval(120)
        self._detail_timer.timeout.connect(self._request_detail)

        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        # Fixed viewport geometry: scroll bars appearing mid-zoom would shift the framing.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setRenderHints(QPainter.RenderHint.Antialiasing
                            | QPainter.RenderHint.TextAntialiasing
                            | QPainter.RenderHint.SmoothPixmapTransform)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAccessibleName("Image view")
        self._apply_palette()

    # -- image ---------------------------------------------------------------------------------

    def set_image(self, image: Any, full_size: tuple[int, int] | None = None) -> None:
        """Show ``image`` (PIL image, QImage or QPixmap) fitted to the window; drops old regions.

        ``full_size``: the original image's (width, height) when ``image`` is a smaller preview;
        scene coordinates stay original pixels either way.
        """
        if isinstance(image, QPixmap):
            pixmap = image
        else:  # a QImage made off the GUI thread goes in without another copy
            pixmap = QPixmap.fromImage(image if isinstance(image, QImage) else to_qimage(image))
        self.stop_animation()
        self.clear_regions()
        self._clear_detail()
        self._message, self._alert = "", ""
        if self._pixmap_item is None:
            self._pixmap_item = QGraphicsPixmapItem()
            self._pixmap_item.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
            self._pixmap_item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
            self._pixmap_item.setZValue(0)
            self._scene.addItem(self._pixmap_item)
        self._pixmap_item.setPixmap(pixmap)
        self._pixmap_item.setPos(0, 0)
        self._full_size = None
        self._pixmap_item.setScale(1.0)
        if full_size is not None and pixmap.width() > 0 and tuple(full_size) != (
                pixmap.width(), pixmap.height()):
            self._full_size = (int(full_size[0]), int(full_size[1]))
            self._pixmap_item.setScale(full_size[0] / pixmap.width())
        self._scene.setSceneRect(self.image_rect())
        self.fit_to_window()
        self.viewport().update()

    def clear(self, message: str | None = None) -> None:
        """No image, no regions; ``message`` (default: the drop target) in their place."""
        self.stop_animation()
        self.clear_regions()
        self._clear_detail()
        self._full_size = None
        self._message = self.DROP_MESSAGE if message is None else message
        self._alert = ""
        self.viewport().update()
        if self._pixmap_item is not None:
            self._scene.removeItem(self._pixmap_item)
            self._pixmap_item = None
        self._scene.setSceneRect(QRectF())
        self.resetTransform()
        self._fit_mode = True
        self._after_zoom()

    def has_image(self) -> bool:
        return self._pixmap_item is not None

    def image_rect(self) -> QRectF:
        """The image in scene coordinates, ``(0, 0, width, height)``; empty without an image."""
        if self._pixmap_item is None:
            return QRectF()
        if self._full_size is not None:
            return QRectF(0, 0, *self._full_size)
        return QRectF(self._pixmap_item.pixmap().rect())

    def message(self) -> str:
        """The text shown in place of an image (drop target, loading, missing file…)."""
        return self._message

    def set_alert(self, text: str) -> None:
        """A red frame and banner over the image (e.g. "FILE CHANGED SINCE ANALYSIS"); "" clears."""
        self._alert = text
        self.viewport().update()

    def alert(self) -> str:
        return self._alert

    def is_preview(self) -> bool:
        """True while the pixmap is smaller than the original image."""
        return self._full_size is not None

    def preview_scale(self) -> float:
        """Preview pixels per original pixel (1.0 when the pixmap is the full image)."""
        if self._pixmap_item is None:
            return 1.0
        return 1.0 / self._pixmap_item.scale()

    def set_detail(self, image: Any, scene_rect: QRectF) -> None:
        """Lay full-resolution pixels of ``scene_rect`` over the preview (from detail_wanted)."""
        if self._pixmap_item is None:
            return
        pixmap = image if isinstance(image, QPixmap) else QPixmap.fromImage(
            image if isinstance(image, QImage) else to_qimage(image))
        if pixmap.isNull():
            return
        if self._detail_item is None:
            self._detail_item = QGraphicsPixmapItem()
            self._detail_item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
            self._detail_item.setZValue(0.5)  # over the preview, under the regions
            self._scene.addItem(self._detail_item)
        self._detail_item.setPixmap(pixmap)
        self._detail_item.setPos(scene_rect.topLeft())
        self._detail_item.setScale(scene_rect.width() / pixmap.width())
        self._detail_item.setTransformationMode(self._pixmap_item.transformationMode())

    def detail_rect(self) -> QRectF | None:
        if self._detail_item is None:
            return None
        return self._detail_item.mapRectToScene(self._detail_item.boundingRect())

    def _clear_detail(self) -> None:
        self._detail_timer.stop()
        if self._detail_item is not None:
            self._scene.removeItem(self._detail_item)
            self._detail_item = None

    def _request_detail(self) -> None:
        if self._full_size is None or self._pixmap_item is None:
            return
        zoom = self.zoom_factor()
        if zoom <= self.preview_scale() * 1.05:
            return  # the preview already has a pixel for every screen pixel
        visible = self.visible_scene_rect().intersected(self.image_rect())
        if visible.isEmpty():
            return
        have = self.detail_rect()
        if have is not None and have.contains(visible) and self._detail_item is not None and (
                self._detail_item.scale() <= 1.0 / zoom * 1.05 or self._detail_item.scale() <= 1):
            return
        self.detail_wanted.emit(visible, zoom)

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802 (Qt API)
        super().scrollContentsBy(dx, dy)
        if self._full_size is not None:
            self._detail_timer.start()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802 (Qt API)
        super().drawForeground(painter, rect)
        text = self._message if self._pixmap_item is None else self._alert
        if not text:
            return
        painter.save()
        painter.resetTransform()  # viewport pixels from here on
        area = QRectF(self.viewport().rect())
        if self._pixmap_item is None:
            painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
            font = painter.font()
            font.setPointSizeF(font.pointSizeF() * 1.4)
            painter.setFont(font)
            painter.drawText(area.adjusted(20, 20, -20, -20),
                             int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), text)
        else:
            red = QColor("#C00000")
            pen = painter.pen()
            pen.setColor(red)
            pen.setWidthF(6.0)
            painter.setPen(pen)
            painter.drawRect(area.adjusted(3, 3, -3, -3))
            band = QRectF(area.left(), area.top(), area.width(), 34)
            painter.fillRect(band, red)
            painter.setPen(QColor("white"))
            font = painter.font()
            font.setBold(True)
            painter.setFont(font)
            painter.drawText(band.adjusted(8, 0, -8, 0),
                             int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), text)
        painter.restore()

    def pixmap_item(self) -> QGraphicsPixmapItem | None:
        return self._pixmap_item

    # -- regions ---------------------------------------------------------------------------------

    def add_region(self, number: int, box: Sequence[float], label: str,
                   examined: bool = False, confidence: float | None = None) -> RegionItem:
        """Draw region ``number`` (box in image pixels); replaces a region with that number.
        ``confidence``: how surely the model wrote it (said in its tooltip), when known."""
        number = int(number)
        item = self._regions.get(number)
        if item is None:
            item = RegionItem(number, box, label, examined)
            item.set_font(self.font())
            item.clicked.connect(self._region_item_clicked)
            self._regions[number] = item
            self._scene.addItem(item)
        else:
            item.set_box(box)
            item.set_label(label)
            item.set_examined(examined)
        item.set_confidence(confidence)
        item.set_view_scale(self.transform().m11(), self.image_rect())
        item.set_highlighted(number == self._highlighted)
        return item

    def set_examined(self, number: int, examined: bool = True) -> None:
        item = self._regions.get(int(number))
        if item is not None:
            item.set_examined(examined)

    def clear_regions(self) -> None:
        for item in self._regions.values():
            self._scene.removeItem(item)
        self._regions.clear()
        self._highlighted = None

    def region_item(self, number: int) -> RegionItem | None:
        return self._regions.get(int(number))

    def region_numbers(self) -> list[int]:
        return sorted(self._regions)

    def highlighted_region(self) -> int | None:
        return self._highlighted

    def highlight_region(self, number: int | None) -> None:
        """Highlight one region (None: none). Does not emit; a region added later with this
        number comes up highlighted. When zoomed in, a highlighted box out of sight is panned to.
        """
        self._highlighted = None if number is None else int(number)
        for n, item in self._regions.items():
            item.set_highlighted(n == self._highlighted)
        item = self._regions.get(self._highlighted) if self._highlighted is not None else None
        if (item is not None and not self._fit_mode and not self.is_animating()
                and not self.visible_scene_rect().intersects(item.rect())):
            self.centerOn(item.rect().center())
            self._after_zoom()

    def pixel_at(self, pos: QPoint | QPointF) -> tuple[int, int] | None:
        """The original-image pixel under viewport position ``pos``, or None off the image."""
        if self._pixmap_item is None:
            return None
        scene = self._to_scene(QPointF(pos))
        rect = self.image_rect()
        if not rect.contains(scene) or scene.x() >= rect.right() or scene.y() >= rect.bottom():
            return None
        return int(scene.x()), int(scene.y())

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        super().leaveEvent(event)
        self.cursor_moved.emit(None)

    def region_at(self, pos: QPoint | QPointF) -> int | None:
        """The region under a viewport position: a tag first, else the smallest box under it."""
        point = QPointF(pos).toPoint()
        boxes: list[RegionItem] = []
        for item in self.items(point):
            if isinstance(item, RegionTag):
                return item.region.number
            if isinstance(item, RegionItem):
                boxes.append(item)
        if not boxes:
            return None
        smallest = min(boxes, key=lambda it: it.rect().width() * it.rect().height())
        return smallest.number

    def _region_item_clicked(self, number: int) -> None:
        self.highlight_region(number)
        self.region_clicked.emit(number)

    # -- zoom ------------------------------------------------------------------------------------

    @property
    def animations_enabled(self) -> bool:
        return self._animations_enabled

    @animations_enabled.setter
    def animations_enabled(self, enabled: bool) -> None:
        self._animations_enabled = bool(enabled)
        if not enabled and self.is_animating():
            self.stop_animation()

    def zoom_factor(self) -> float:
        """Device pixels per image pixel (1.0 = 100 %, one image pixel per screen pixel)."""
        return self.transform().m11() * self._dpr()

    def is_fit(self) -> bool:
        """True while the view follows the window size (after fit_to_window, key 0)."""
        return self._fit_mode

    def fit_to_window(self) -> None:
        """Show the whole image, as large as the viewport allows; kept on resize."""
        self._stop_zoom_animation()
        self._fit_mode = True
        if self._pixmap_item is None:
            return
        self._apply_state(*self._state_for_rect(None))

    def set_zoom(self, factor: float, anchor: QPointF | QPoint | None = None) -> None:
        """Zoom to ``factor`` (device px per image px), keeping the scene point under the
        viewport position ``anchor`` (default: the viewport centre) where it is."""
        if self._pixmap_item is None:
            return
        self._stop_zoom_animation()
        self._fit_mode = False
        vp = self._viewport_centre()
        anchor = vp if anchor is None else QPointF(anchor)
        scene_pt = self._to_scene(anchor)
        scale = self._clamp_scale(factor / self._dpr())
        centre = scene_pt + (vp - anchor) / scale
        self._apply_state(scale, centre)

    def zoom_by(self, step: float, anchor: QPointF | QPoint | None = None) -> None:
        self.set_zoom(self.zoom_factor() * step, anchor)

    def visible_scene_rect(self) -> QRectF:
        """The part of the scene (image pixels) the viewport shows."""
        return self._view_transform_inverted().mapRect(QRectF(self.viewport().rect()))

    def zoom_to_box(self, box: Sequence[float], duration_ms: int = 400) -> None:
        """Zoom so ``box`` (image pixels, with a little context) fills the view; animated with an
        ease in-out unless animations are off or ``duration_ms`` is 0."""
        if self._pixmap_item is None:
            return
        if self._group is not None or self._examine_pending:
            self.stop_animation()
        self._stop_zoom_animation()
        self._fit_mode = False
        target = self._framing(box)
        if not self._animations_enabled or duration_ms <= 0:
            self._apply_state(*self._state_for_rect(target))
            return
        self._zoom_anim = _ZoomAnimation(self, target, duration_ms)
        self._zoom_anim.start()

    def play_examine(self, boxes: Sequence[Sequence[float]], hold_ms: int = 500,
                     zoom_ms: int = 450) -> None:
        """Zoom into each box in turn, hold, then return to the whole image.

        Emits ``examining(i)`` as box ``i`` is reached and ``examine_finished()`` once at the end.
        Never emits before returning. A new call, ``stop_animation()``, ``set_image()`` or
        ``clear()`` ends a running sequence (``examine_finished`` is still emitted, once).
        """
        self.stop_animation()
        targets = [self._framing(b) for b in boxes]
        self._examine_pending = True
        self._examine_count = len(targets)
        self._examine_next = 0
        if not self._animations_enabled or not targets or self._pixmap_item is None:
            self.fit_to_window()
            self._instant.start()
            return
        self._fit_mode = False
        group = QSequentialAnimationGroup(self)
        steps: list[QAbstractAnimation] = []
        for target in targets:
            zoom = _ZoomAnimation(self, target, zoom_ms)
            group.addAnimation(zoom)
            steps.append(zoom)
            steps.append(group.addPause(max(0, int(hold_ms))))
        back = _ZoomAnimation(self, None, zoom_ms)
        group.addAnimation(back)
        steps.append(back)
        self._group, self._group_steps = group, steps
        group.currentAnimationChanged.connect(functools.partial(self._examine_step, group))
        group.finished.connect(functools.partial(self._examine_done, group))
        group.start()

    def is_animating(self) -> bool:
        return (self._group is not None
                or (self._zoom_anim is not None
                    and self._zoom_anim.state() == QAbstractAnimation.State.Running)
                or self._instant.isActive())

    def stop_animation(self) -> None:
        """Stop any animation and show the whole image; a running play_examine emits
        ``examine_finished`` (once; boxes not reached yet are not reported)."""
        was_animating = self.is_animating()
        self._instant.stop()
        self._stop_zoom_animation()
        group, self._group = self._group, None
        if group is not None:
            group.stop()
            group.deleteLater()
        self._group_steps = []
        if was_animating:
            self.fit_to_window()
        self._finish_examine()

    # -- the examine sequence ------------------------------------------------------------------

    def _examine_step(self, group: QSequentialAnimationGroup, current: QAbstractAnimation) -> None:
        if group is not self._group or current is None:
            return
        k = group.indexOfAnimation(current)  # zoom i at 2i, hold i at 2i + 1, back at 2n
        if k < 0:
            return
        self._report_reached(k // 2 if k % 2 else k // 2 - 1)

    def _examine_done(self, group: QSequentialAnimationGroup) -> None:
        if group is not self._group:
            return
        self._group, self._group_steps = None, []
        group.deleteLater()
        self._report_reached(self._examine_count - 1)
        self.fit_to_window()
        self._finish_examine()

    def _finish_instant(self) -> None:
        self._report_reached(self._examine_count - 1)
        self._finish_examine()

    def _report_reached(self, index: int) -> None:
        while self._examine_pending and self._examine_next <= min(index, self._examine_count - 1):
            i = self._examine_next
            self._examine_next += 1
            self.examining.emit(i)

    def _finish_examine(self) -> None:
        if self._examine_pending:
            self._examine_pending = False
            self.examine_finished.emit()

    def _stop_zoom_animation(self) -> None:
        anim, self._zoom_anim = self._zoom_anim, None
        if anim is not None:
            anim.stop()

    # -- geometry --------------------------------------------------------------------------------

    def _dpr(self) -> float:
        return max(self.viewport().devicePixelRatioF(), 1e-3)

    def _viewport_centre(self) -> QPointF:
        return QPointF(self.viewport().width() / 2.0, self.viewport().height() / 2.0)

    def _view_transform_inverted(self) -> QTransform:
        inverted, _ok = self.viewportTransform().inverted()
        return inverted

    def _to_scene(self, pos: QPointF) -> QPointF:
        return self._view_transform_inverted().map(QPointF(pos))

    def _fit_scale(self) -> float:
        rect = self.image_rect()
        vw, vh = max(self.viewport().width(), 1), max(self.viewport().height(), 1)
        if rect.isEmpty():
            return 1.0
        return min(vw / rect.width(), vh / rect.height())

    def _clamp_scale(self, scale: float) -> float:
        """Clamp a logical scale: down to half the fit size (or 100 %), up to MAX_ZOOM."""
        dpr = self._dpr()
        lowest = min(self._fit_scale(), 1.0 / dpr) * 0.5
        return min(max(scale, lowest), MAX_ZOOM / dpr)

    def _framing(self, box: Sequence[float]) -> QRectF:
        """The scene rect to show for ``box``: the box with some context, not absurdly small."""
        r = box_to_rect(box)
        w = max(r.width() * (1 + 2 * BOX_MARGIN), MIN_TARGET_PX)
        h = max(r.height() * (1 + 2 * BOX_MARGIN), MIN_TARGET_PX)
        framed = QRectF(0, 0, w, h)
        framed.moveCenter(r.center())
        return framed

    def _state_for_rect(self, rect: QRectF | None) -> tuple[float, QPointF]:
        """(logical scale, scene centre) that shows ``rect`` (None: the whole image) fully."""
        rect = self.image_rect() if rect is None else rect
        if rect.isEmpty():
            return self.transform().m11(), rect.center()
        vw, vh = max(self.viewport().width(), 1), max(self.viewport().height(), 1)
        scale = min(vw / rect.width(), vh / rect.height())
        if rect == self.image_rect():
            return scale, rect.center()  # fit may go below the zoom-out limit on tiny windows
        return self._clamp_scale(scale), rect.center()

    def _current_state(self) -> tuple[float, QPointF]:
        return self.transform().m11(), self._to_scene(self._viewport_centre())

    def _apply_state(self, scale: float, centre: QPointF) -> None:
        if not (scale > 0 and math.isfinite(scale)):
            return
        self.setTransform(QTransform.fromScale(scale, scale))
        self.centerOn(centre)
        self._after_zoom()

    def _after_zoom(self) -> None:
        """Zoom-dependent rendering: pixel smoothing and the regions' screen-size strokes."""
        scale = self.transform().m11()
        zoom = scale * self._dpr()
        smooth = zoom < CRISP_ZOOM
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        if self._pixmap_item is not None:
            self._pixmap_item.setTransformationMode(
                Qt.TransformationMode.SmoothTransformation if smooth
                else Qt.TransformationMode.FastTransformation)
        bounds = self.image_rect()
        for item in self._regions.values():
            item.set_view_scale(scale, bounds)
        if self._detail_item is not None:
            self._detail_item.setTransformationMode(self._pixmap_item.transformationMode())
        if not math.isclose(zoom, self._last_zoom, rel_tol=1e-9):
            self._last_zoom = zoom
            self.zoom_changed.emit(zoom)
        if self._full_size is not None:
            self._detail_timer.start()

    # -- events ----------------------------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if self._fit_mode and not self.is_animating():
            self.fit_to_window()

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        if self._fit_mode and not self.is_animating():
            self.fit_to_window()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        dy = event.angleDelta().y()
        if self._pixmap_item is None or dy == 0:
            super().wheelEvent(event)
            return
        if self.is_animating():
            self.stop_animation()
        self.touched.emit()
        self.zoom_by(WHEEL_STEP ** (dy / 120.0), event.position())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        key = event.key()
        zoom_keys = (Qt.Key.Key_Plus, Qt.Key.Key_Equal, Qt.Key.Key_Minus, Qt.Key.Key_0,
                     Qt.Key.Key_1)
        if key == Qt.Key.Key_Escape and self.is_animating():
            self.stop_animation()
            event.accept()
            return
        if key not in zoom_keys or self._pixmap_item is None:
            super().keyPressEvent(event)
            return
        if self.is_animating():
            self.stop_animation()
        self.touched.emit()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(KEY_STEP)
        elif key == Qt.Key.Key_Minus:
            self.zoom_by(1.0 / KEY_STEP)
        elif key == Qt.Key.Key_0:
            self.fit_to_window()
        else:
            self.set_zoom(1.0)
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.button() == Qt.MouseButton.LeftButton:
            self._press_pos = event.position()
            if self.is_animating():
                self.stop_animation()
        self.touched.emit()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        super().mouseMoveEvent(event)
        self.cursor_moved.emit(self.pixel_at(event.position()))
        if self._press_pos is not None and event.buttons() & Qt.MouseButton.LeftButton:
            moved = (event.position() - self._press_pos).manhattanLength()
            if moved >= QApplication.startDragDistance():
                self._press_pos = None  # a drag (pan), not a click

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        super().mouseReleaseEvent(event)
        press, self._press_pos = self._press_pos, None
        if event.button() != Qt.MouseButton.LeftButton or press is None:
            return
        if (event.position() - press).manhattanLength() >= QApplication.startDragDistance():
            return
        number = self.region_at(event.position())
        if number is not None:
            self._regions[number].click()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange,
                            QEvent.Type.ApplicationPaletteChange):
            self._apply_palette()
        elif event.type() == QEvent.Type.FontChange:
            for item in self._regions.values():
                item.set_font(self.font())

    def _apply_palette(self) -> None:
        """A neutral backdrop a little darker than the window, in light and dark schemes."""
        window = self.palette().color(QPalette.ColorRole.Window)
        backdrop = window.darker(112) if window.lightness() >= 128 else window.darker(140)
        if backdrop == window:  # pure black window
            backdrop = QColor(24, 24, 24)
        self.setBackgroundBrush(backdrop)
