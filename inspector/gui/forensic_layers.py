"""Forensic maps as pictures: a perceptual colour map, the map as a QImage, crops and the ramp.

Rendering only (no widgets, no scene): the image view, the close-up strip and the legend all draw
from here, so a value has the same colour everywhere. Maps arrive as 2-D arrays in [0, 1] (float)
or as 8-bit (0–255, what the case stores); both become 8-bit before the lookup.

The colour map is matplotlib's *inferno* (perceptually uniform, readable in greyscale and by the
common colour-vision deficiencies): black → purple → orange → pale yellow. It is rebuilt here from
every 16th entry of the published table with linear interpolation in between (no matplotlib).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter

__all__ = ["COLOUR_LUT", "crop_qimage", "map_qimage", "map_rgb", "map_u8", "ramp_qimage"]

# inferno at indices 0, 16, 32, …, 240, 255 of its 256-entry table (matplotlib's _cm_listed.py)
_INFERNO_ANCHORS = (
    (0, 0.001462, 0.000466, 0.013866),
    (16, 0.042253, 0.028139, 0.141141),
    (32, 0.129285, 0.047293, 0.290788),
    (48, 0.238273, 0.036621, 0.396353),
    (64, 0.341500, 0.062325, 0.429425),
    (80, 0.441207, 0.099338, 0.431594),
    (96, 0.540920, 0.134729, 0.415123),
    (112, 0.640135, 0.171438, 0.381065),
    (128, 0.735683, 0.215906, 0.330245),
    (144, 0.822386, 0.275197, 0.266085),
    (160, 0.894305, 0.353399, 0.193584),
    (176, 0.946965, 0.449191, 0.115272),
    (192, 0.978422, 0.557937, 0.034931),
    (208, 0.987874, 0.675267, 0.065257),
    (224, 0.974638, 0.797692, 0.206332),
    (240, 0.947594, 0.917399, 0.410665),
    (255, 0.988362, 0.998364, 0.644924),
)


def _build_lut() -> np.ndarray:
    anchors = np.asarray(_INFERNO_ANCHORS, dtype=np.float64)
    index = np.arange(256, dtype=np.float64)
    channels = [np.interp(index, anchors[:, 0], anchors[:, c]) for c in (1, 2, 3)]
    return np.clip(np.round(np.stack(channels, axis=1) * 255.0), 0, 255).astype(np.uint8)


COLOUR_LUT: np.ndarray = _build_lut()  # (256, 3) uint8: 8-bit map value -> RGB


def map_u8(values: np.ndarray) -> np.ndarray:
    """A map as 8-bit values (0 = low, 255 = high); float maps are read as [0, 1]."""
    arr = np.asarray(values)
    if arr.dtype == np.uint8:
        return arr
    arr = np.nan_to_num(arr.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=0.0)
    return (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def map_rgb(values: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 colours of a map."""
    return COLOUR_LUT[map_u8(values)]


def _rgb_qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb)
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def map_qimage(values: np.ndarray) -> QImage:
    """The coloured map as an independent QImage (its own size; the caller scales it)."""
    return _rgb_qimage(map_rgb(values))


def crop_qimage(coloured: QImage, box: Sequence[float], image_size: tuple[int, int],
                out_size: tuple[int, int]) -> QImage:
    """The part of a coloured map (``map_qimage``, any size) under ``box`` (original pixels of
    an image ``image_size``), drawn at ``out_size`` without smoothing: exactly what lies under a
    close-up cut from that box, map pixels kept as blocks."""
    iw, ih = max(1, int(image_size[0])), max(1, int(image_size[1]))
    sx, sy = coloured.width() / iw, coloured.height() / ih
    x1, y1, x2, y2 = (float(v) for v in box)
    source = QRectF(min(x1, x2) * sx, min(y1, y2) * sy, abs(x2 - x1) * sx, abs(y2 - y1) * sy)
    out = QImage(max(1, int(out_size[0])), max(1, int(out_size[1])),
                 QImage.Format.Format_RGB32)
    out.fill(0)
    painter = QPainter(out)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
    painter.drawImage(QRectF(out.rect()), coloured, source)
    painter.end()
    return out


def ramp_qimage(width: int, height: int) -> QImage:
    """The colour ramp, low on the left, high on the right (for the legend)."""
    width, height = max(1, int(width)), max(1, int(height))
    row = COLOUR_LUT[np.linspace(0, 255, width).round().astype(np.uint8)]
    return _rgb_qimage(np.repeat(row[np.newaxis, :, :], height, axis=0))
