"""The EXIF thumbnail (IFD1) compared with the image it is supposed to show.

Cameras and most editors write a small JPEG preview into EXIF when the file is made. Software that
edits the pixels but copies the metadata unchanged leaves the old preview behind, so a preview that
shows something else than the picture is a classic sign of editing (Kee & Farid, "Digital image
authentication from thumbnails", 2010, use the same fact the other way round).

The comparison is made at the thumbnail's size: the image is shrunk to it, both are slightly
blurred (resampling differs between programs), each colour channel of the image is fitted to the
thumbnail's tones by a straight line (so an overall brightness difference from a different
rendering is not mistaken for an edit), and the remaining difference is averaged over cells of
the thumbnail. Cells far above the typical difference are reported as regions.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from inspector.core.exif import ORIENTATION_TRANSPOSE
from inspector.core.forensics.base import ForensicRegion

__all__ = ["CELL_LIMIT", "compare_thumbnail", "thumbnail_bytes"]

JPEG_OFFSET, JPEG_LENGTH = 0x0201, 0x0202  # JPEGInterchangeFormat(Length) in IFD1
CORRELATION_LIMIT = 0.90  # below this the thumbnail shows another picture (or a heavy change)
OTHER_PICTURE_CORRELATION = 0.5  # below this (or most cells differing): another picture
CELL_LIMIT = 12.0  # mean difference (0-255) in a cell above which the cell differs …
CELL_MEDIAN_FACTOR = 4.0  # … and at least this many times the median cell's (low-quality previews)
TONE_GAIN_LIMIT = 0.25  # a straight-line tone fit further from identity than this is reported
TONE_OFFSET_LIMIT = 25.0
_CELLS = 12  # cells along the thumbnail's shorter side
_MAX_THUMB_SIDE = 1024
_ASPECT_TOLERANCE = 0.03


def thumbnail_bytes(tiff: bytes, ifd1: dict[int, Any]) -> tuple[bytes | None, str | None]:
    """The IFD1 JPEG thumbnail's bytes from the TIFF-structured EXIF block, or (None, reason)."""
    offset, length = ifd1.get(JPEG_OFFSET), ifd1.get(JPEG_LENGTH)
    if offset is None and length is None:
        return None, None  # IFD1 without a JPEG preview (e.g. an uncompressed one, or none)
    try:
        start, size = int(offset), int(length)
    except (TypeError, ValueError):
        return None, "the EXIF thumbnail's offset or length is not a number"
    if start < 0 or size <= 0 or start + size > len(tiff):
        return None, (
            f"the EXIF thumbnail points outside the EXIF data (offset {start}, {size} bytes, "
            f"EXIF block of {len(tiff)} bytes)"
        )
    blob = tiff[start : start + size]
    if not blob.startswith(b"\xff\xd8"):
        return None, "the EXIF thumbnail is not JPEG data"
    return blob, None


def compare_thumbnail(
    blob: bytes, image: Image.Image, orientation: int | None
) -> tuple[dict[str, Any], list[ForensicRegion], np.ndarray | None]:
    """Decode the thumbnail and compare it with the (EXIF-oriented) image.

    Returns the indicator dict (``matches`` True/False), the differing regions in image pixels
    and a difference map at thumbnail resolution (bright = differs; 1.0 at 4× the cell limit).
    """
    with Image.open(io.BytesIO(blob), formats=("JPEG",)) as opened:
        if max(opened.size) > _MAX_THUMB_SIDE:
            opened.draft("RGB", (_MAX_THUMB_SIDE, _MAX_THUMB_SIDE))
        thumb = opened.convert("RGB")
    stored_size = list(thumb.size)
    if orientation in ORIENTATION_TRANSPOSE:  # the preview is stored as the sensor saw it
        thumb = thumb.transpose(ORIENTATION_TRANSPOSE[orientation])
    box = _content_box(thumb.size, image.size)
    content = thumb.crop(box)
    w, h = content.size
    if min(w, h) < 8:
        raise ValueError(f"the thumbnail's picture is only {w}×{h} pixels")
    small = image.resize((w, h), Image.Resampling.BILINEAR, reducing_gap=3.0)
    t = np.asarray(content.filter(ImageFilter.BoxBlur(1)), dtype=np.float32)
    s = np.asarray(small.filter(ImageFilter.BoxBlur(1)), dtype=np.float32)

    residual = np.zeros((h, w), np.float32)
    gains, offsets = [], []
    for c in range(3):
        gain, offset = _robust_line_fit(s[..., c], t[..., c])
        gains.append(gain)
        offsets.append(offset)
        residual += np.abs(t[..., c] - (gain * s[..., c] + offset))
    residual /= 3.0
    correlation = _correlation(t.mean(axis=2), s.mean(axis=2))

    cell = max(2, min(w, h) // _CELLS)
    rows, cols = h // cell, w // cell
    cells = residual[: rows * cell, : cols * cell].reshape(rows, cell, cols, cell).mean(axis=(1, 3))
    limit = max(CELL_LIMIT, CELL_MEDIAN_FACTOR * float(np.median(cells)))
    regions = _regions(cells > limit, cells, cell, (w, h), image.size)
    tone_shift = any(abs(g - 1.0) > TONE_GAIN_LIMIT for g in gains) or any(
        abs(o) > TONE_OFFSET_LIMIT for o in offsets
    )
    differing = int((cells > limit).sum())
    matches = correlation >= CORRELATION_LIMIT and not regions and not tone_shift
    other_picture = correlation < OTHER_PICTURE_CORRELATION or differing > cells.size / 2
    info = {
        "present": True,
        "bytes": len(blob),
        "size": stored_size,
        "compared_area": [int(v) for v in box] if box != (0, 0, *thumb.size) else None,
        "matches": bool(matches),
        "correlation": round(float(correlation), 4),
        "mean_difference": round(float(residual.mean()), 2),
        "max_cell_difference": round(float(cells.max()), 2) if cells.size else 0.0,
        "cell_limit": round(limit, 2),
        "differing_cells": differing,
        "tone_gain": [round(float(g), 3) for g in gains],
        "tone_offset": [round(float(o), 1) for o in offsets],
        "verdict": _verdict(matches, other_picture, len(regions), tone_shift),
    }
    heat = np.clip(residual / (4.0 * CELL_LIMIT), 0.0, 1.0).astype(np.float32)
    return info, regions, heat


def _content_box(thumb: tuple[int, int], image: tuple[int, int]) -> tuple[int, int, int, int]:
    """Where the picture sits in the thumbnail: all of it, or the middle when it is letterboxed.

    Canon and others pad a 3:2 picture to a 160×120 preview with black bars.
    """
    tw, th = thumb
    iw, ih = image
    if abs((tw / th) / (iw / ih) - 1.0) <= _ASPECT_TOLERANCE:
        return 0, 0, tw, th
    scale = min(tw / iw, th / ih)
    fw, fh = max(1, round(iw * scale)), max(1, round(ih * scale))
    left, top = (tw - fw) // 2, (th - fh) // 2
    return left, top, left + fw, top + fh


def _robust_line_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """A tone fit that an edited area does not pull: refit without the worst-fitting pixels."""
    gain, offset = _line_fit(x, y)
    error = np.abs(y - (gain * x + offset))
    keep = error <= max(3.0 * float(np.median(error)), 1.0)
    return _line_fit(x[keep], y[keep]) if keep.sum() >= 0.5 * keep.size else (gain, offset)


def _line_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares ``y ≈ gain·x + offset`` (gain 1, offset 0 for a flat image)."""
    xv, yv = x.ravel().astype(np.float64), y.ravel().astype(np.float64)
    var = xv.var()
    if var < 1e-6:
        return 1.0, float(yv.mean() - xv.mean())
    gain = float(((xv - xv.mean()) * (yv - yv.mean())).mean() / var)
    return gain, float(yv.mean() - gain * xv.mean())


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    av, bv = a.ravel() - a.mean(), b.ravel() - b.mean()
    denom = float(np.sqrt((av * av).sum() * (bv * bv).sum()))
    return float((av * bv).sum() / denom) if denom > 0 else 1.0


def _regions(
    mask: np.ndarray,
    cells: np.ndarray,
    cell: int,
    thumb_size: tuple[int, int],
    image_size: tuple[int, int],
) -> list[ForensicRegion]:
    """Connected groups of differing cells as boxes in image pixels, most different first."""
    if not mask.any():
        return []
    # Imported here: the metadata analysis loads this module, and needs OpenCV only for this.
    from inspector.core.forensics.numeric import connected_regions

    labels, areas = connected_regions(mask, connectivity=4)
    sx, sy = image_size[0] / thumb_size[0], image_size[1] / thumb_size[1]
    regions = []
    for index, (rows, cols) in areas:
        score = float(cells[rows, cols][labels[rows, cols] == index].max())
        box = [
            int(cols.start * cell * sx),
            int(rows.start * cell * sy),
            min(image_size[0], int(round(cols.stop * cell * sx))),
            min(image_size[1], int(round(rows.stop * cell * sy))),
        ]
        regions.append((score, box))
    regions.sort(key=lambda r: -r[0])
    return [
        ForensicRegion(box=box, label="differs from the EXIF thumbnail", score=round(s / 255, 3))
        for s, box in regions[:20]
    ]


def _verdict(matches: bool, other_picture: bool, regions: int, tone_shift: bool) -> str:
    if matches:
        return "matches"
    if other_picture:
        why = ["it shows a different picture"]
    else:
        why = ["its tones or colours differ"] if tone_shift else []
        why += [f"{regions} area(s) differ"] if regions else []
    reason = "; ".join(why) or "the two correlate poorly"
    return f"differs ({reason}): the image may have been edited after the thumbnail was made"
