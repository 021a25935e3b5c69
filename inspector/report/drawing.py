"""Qt set-up and picture drawing for the report: the offscreen application, the fonts, PIL ↔ Qt
image conversion, and the evidence picture with its numbered region boxes."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter, QPen

from inspector.core.palette import REGION_COLOURS
from inspector.core.results import RegionRecord
from inspector.report.text_lines import clean_text

__all__ = [
    "BOX_COLOURS",
    "ALERT_COLOUR",
    "CHANGED_COLOUR",
    "DEMO_COLOUR",
    "IMAGE_DPI",
    "MUTED",
    "RESOLUTION",
    "THUMB_DPI",
    "Fonts",
    "downscaled",
    "draw_boxes",
    "draw_placeholder",
    "ensure_app",
    "fit",
    "pil_to_qimage",
]

RESOLUTION = 300  # device pixels per inch of the PDF's coordinate system
IMAGE_DPI = 200  # evidence pictures are embedded at about this resolution
THUMB_DPI = 150

# Okabe–Ito palette shared with the desktop view (inspector.core.palette), with the text
# colour that reads on each.
BOX_COLOURS: list[tuple[str, str]] = list(REGION_COLOURS)

# Colours mean one thing each, as in the window: vermillion is kept for AI-generated; a changed
# verdict is said in bold black ("CHANGED"), warnings about the evidence in dark red, the demo in
# blue. All read in print and in greyscale.
CHANGED_COLOUR = "#000000"
ALERT_COLOUR = "#A00000"
DEMO_COLOUR = "#0B5C99"
MUTED = "#555555"

_app: QGuiApplication | None = None


def ensure_app() -> QGuiApplication:
    """A QGuiApplication (fonts need one); offscreen when there is no display."""
    global _app
    app = QGuiApplication.instance()
    if app is not None:
        if not isinstance(app, QGuiApplication):
            raise RuntimeError(
                "a QCoreApplication without GUI support is running; PDF reports need a "
                "QGuiApplication (create one, or render the report in another process)"
            )
        return app
    if not os.environ.get("QT_QPA_PLATFORM") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ) and sys.platform.startswith("linux"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    _app = QGuiApplication([sys.argv[0] if sys.argv else "lte-inspector"])
    return _app


@dataclass
class Fonts:
    body: QFont
    bold: QFont
    small: QFont
    small_bold: QFont
    mono: QFont
    mono_small: QFont  # a SHA-256 on one line of a narrow column
    h1: QFont
    h2: QFont
    h3: QFont
    verdict: QFont
    title: QFont
    footer: QFont

    @classmethod
    def make(cls) -> Fonts:
        def f(size: float, bold: bool = False, family: str = "DejaVu Sans") -> QFont:
            font = QFont(family)
            font.setStyleHint(QFont.StyleHint.SansSerif)
            font.setPointSizeF(size)
            font.setBold(bold)
            # No ligatures: "fi" stays two letters, so the PDF's text searches and copies as
            # printed ("file", not "\ufb01le").
            for tag in ("liga", "clig"):
                font.setFeature(QFont.Tag(tag), 0)
            return font

        mono, mono_small = f(7.5, family="DejaVu Sans Mono"), f(6.8, family="DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono_small.setStyleHint(QFont.StyleHint.Monospace)
        return cls(
            body=f(9.5), bold=f(9.5, True), small=f(8.0), small_bold=f(8.0, True), mono=mono,
            mono_small=mono_small,
            h1=f(15, True), h2=f(12, True), h3=f(10, True), verdict=f(11.5, True),
            title=f(22, True), footer=f(7.5),
        )


def pil_to_qimage(img: Image.Image) -> QImage:
    rgb = img.convert("RGB")
    data = rgb.tobytes()
    q = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return q.copy()  # detach from the Python buffer


def fit(w: float, h: float, max_w: float, max_h: float) -> tuple[float, float]:
    """(w, h) scaled to fit inside (max_w, max_h), keeping the aspect ratio."""
    if w <= 0 or h <= 0:
        return max_w, max_h
    s = min(max_w / w, max_h / h)
    return w * s, h * s


def downscaled(img: Image.Image, w_px: float, h_px: float, dpi: int) -> Image.Image:
    """`img` reduced to about `dpi` at the drawn size (never enlarged)."""
    target = (max(1, round(w_px * dpi / RESOLUTION)), max(1, round(h_px * dpi / RESOLUTION)))
    if img.width <= target[0] and img.height <= target[1]:
        return img
    out = img.convert("RGB")
    out.thumbnail(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return out


def draw_placeholder(p: QPainter, rect: QRectF, text: str, font: QFont) -> None:
    p.setPen(QPen(QColor("#888888"), 2, Qt.PenStyle.DashLine))
    p.setBrush(QColor("#F4F4F4"))
    p.drawRect(rect)
    p.setPen(QColor("#333333"))
    p.setFont(font)
    p.drawText(rect.adjusted(12, 12, -12, -12),
               int(Qt.AlignmentFlag.AlignCenter) | int(Qt.TextFlag.TextWordWrap),
               clean_text(text))


def draw_boxes(p: QPainter, rect: QRectF, regions: Sequence[RegionRecord], size: tuple[int, int],
               font: QFont, mm: float) -> None:
    """The regions (original-image pixels of an image of `size`) scaled to the drawn image,
    numbered and coloured like the app; a region not examined close up is dashed."""
    w, h = size[0] or 1, size[1] or 1
    sx, sy = rect.width() / w, rect.height() / h
    p.setClipRect(rect)
    p.setFont(font)
    fm_h = font.pointSizeF() * RESOLUTION / 72.0
    for region in regions:
        if len(region.box) != 4:
            continue
        colour, text_colour = BOX_COLOURS[(region.number - 1) % len(BOX_COLOURS)]
        x1, y1, x2, y2 = region.box
        box = QRectF(rect.left() + x1 * sx, rect.top() + y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(QColor("#FFFFFF"), 0.9 * mm))  # halo: visible on any background
        p.drawRect(box)
        pen = QPen(QColor(colour), 0.5 * mm)
        if not region.examined:
            pen.setStyle(Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawRect(box)
        label = str(region.number)
        tag_w = max(fm_h * 1.25, fm_h * 0.7 * len(label) + fm_h * 0.6)
        tag = QRectF(box.left(), box.top(), tag_w, fm_h * 1.3)
        if tag.right() > rect.right():
            tag.moveRight(rect.right())
        if tag.bottom() > rect.bottom():
            tag.moveBottom(rect.bottom())
        p.fillRect(tag, QColor(colour))
        p.setPen(QColor(text_colour))
        p.drawText(tag, int(Qt.AlignmentFlag.AlignCenter), label)
    p.setClipping(False)
