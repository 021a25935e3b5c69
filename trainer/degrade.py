"""Image degradations for robustness evaluation (LTE supplementary material).

* ``clean``: the image unchanged (saved losslessly as PNG).
* ``jpeg80`` / ``jpeg30``: JPEG-encoded at quality 80 / 30 (Pillow's libjpeg encoder, 4:2:0
  chroma subsampling, Pillow's defaults otherwise). The file written is exactly that encoding.
* ``crop``: a random crop keeping a random 70-90 % of each side (width and height drawn
  independently), at a random position. Boxes are shifted into the crop and clipped to it; a box
  of which less than half its area remains inside the crop (:data:`MIN_VISIBLE`) is dropped.
* ``down0.5``: downsampled to half the width and height (rounded, at least 1 px; bicubic with
  Pillow's antialiasing). Boxes are scaled by the actual ratios of the new size.

Boxes are ``[x1, y1, x2, y2]`` in pixels of the image they belong to: given in the input image's
pixels, returned in the degraded image's pixels. All randomness comes from the ``rng`` passed in,
so a seeded :class:`random.Random` reproduces the same degradation.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence

from PIL import Image

__all__ = [
    "DEGRADATIONS",
    "JPEG_QUALITY",
    "MIN_VISIBLE",
    "crop_boxes",
    "degrade",
    "degrade_to_bytes",
]

DEGRADATIONS: tuple[str, ...] = ("clean", "jpeg80", "jpeg30", "crop", "down0.5")
JPEG_QUALITY = {"jpeg80": 80, "jpeg30": 30}
CROP_KEEP = (0.7, 0.9)  # share of each side the crop keeps, drawn uniformly
DOWN_SCALE = 0.5
MIN_VISIBLE = 0.5  # a cropped box keeping less than this share of its area is dropped

Boxes = list[list[float]]


def crop_boxes(
    boxes: Sequence[Sequence[float]],
    crop: tuple[int, int, int, int],
    min_visible: float = MIN_VISIBLE,
) -> Boxes:
    """``boxes`` in the pixels of the crop ``(x0, y0, x1, y1)``: shifted, clipped to it, and
    dropped when less than ``min_visible`` of their area (or no area at all) stays inside."""
    x0, y0, x1, y1 = crop
    out: Boxes = []
    for box in boxes:
        bx1, by1, bx2, by2 = (float(v) for v in box)
        area = (bx2 - bx1) * (by2 - by1)
        cx1, cy1 = max(bx1, x0), max(by1, y0)
        cx2, cy2 = min(bx2, x1), min(by2, y1)
        if cx2 <= cx1 or cy2 <= cy1 or area <= 0:
            continue
        if (cx2 - cx1) * (cy2 - cy1) < min_visible * area:
            continue
        out.append([cx1 - x0, cy1 - y0, cx2 - x0, cy2 - y0])
    return out


def _png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def degrade_to_bytes(
    image: Image.Image, boxes: Sequence[Sequence[float]], name: str, rng: random.Random
) -> tuple[bytes, Boxes, str]:
    """Apply degradation ``name``; returns the encoded file, the boxes in the degraded image's
    pixels and the file suffix (``".png"`` or ``".jpg"``). Raises ValueError for an unknown name.
    """
    if name not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {name!r}; choose from {', '.join(DEGRADATIONS)}")
    image = image.convert("RGB")
    boxes = [[float(v) for v in b] for b in boxes]
    if name == "clean":
        return _png_bytes(image), boxes, ".png"
    if name in JPEG_QUALITY:
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=JPEG_QUALITY[name])
        return buf.getvalue(), boxes, ".jpg"
    width, height = image.size
    if name == "crop":
        cw = min(width, max(1, round(width * rng.uniform(*CROP_KEEP))))
        ch = min(height, max(1, round(height * rng.uniform(*CROP_KEEP))))
        x0 = rng.randint(0, width - cw)
        y0 = rng.randint(0, height - ch)
        crop = (x0, y0, x0 + cw, y0 + ch)
        return _png_bytes(image.crop(crop)), crop_boxes(boxes, crop), ".png"
    # down0.5
    nw, nh = max(1, round(width * DOWN_SCALE)), max(1, round(height * DOWN_SCALE))
    sx, sy = nw / width, nh / height
    small = image.resize((nw, nh), Image.Resampling.BICUBIC)
    scaled = [[b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy] for b in boxes]
    return _png_bytes(small), scaled, ".png"


def degrade(
    image: Image.Image, boxes: Sequence[Sequence[float]], name: str, rng: random.Random
) -> tuple[Image.Image, Boxes, str]:
    """Apply degradation ``name``: ``(image, boxes, suffix)``.

    The image is decoded from exactly the bytes :func:`degrade_to_bytes` encodes (so a JPEG
    degradation really carries its compression loss), RGB, fully loaded; boxes are in its pixels;
    the suffix is the one to save it with.
    """
    data, out_boxes, suffix = degrade_to_bytes(image, boxes, name, rng)
    decoded = Image.open(io.BytesIO(data))
    decoded.load()
    return decoded, out_boxes, suffix
