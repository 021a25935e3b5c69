"""Error level analysis (ELA): how much each area changes when the image is saved again as JPEG.

The image is re-saved once at a stated JPEG quality (``QUALITY``, 4:2:0 chroma, Pillow/libjpeg)
and compared pixel by pixel with what was analysed (Krawetz 2007, "A picture's worth"). An area
that has already been through JPEG at that quality on the same 8x8 grid is close to a fixed
point and changes little; an area pasted from elsewhere, painted in or never compressed usually
changes more. ``mean`` is the mean absolute difference over all pixels and the three colour
channels, in grey levels (0-255 scale). Any format can be analysed: for a PNG or TIFF the map
shows what a first compression does to it.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageChops

from inspector.core.forensics.base import ForensicInput, ForensicResult

NAME = "ela"
TITLE = "Error level analysis"
LIMITS = (
    "ELA is weak evidence and never proof of editing on its own. The error level depends on the "
    "content: edges, fine texture and high-contrast detail light up in any photograph, while "
    "flat areas and areas clipped to black or white stay dark. An image re-saved as a whole "
    "(by a messaging app, an editor, a website) looks uniform whatever was done to it before, "
    "and resizing, filtering or noise blur the differences. A brighter area says that its "
    "compression history may differ from the rest, not how or why; read it beside the content "
    "and the other analyses. The re-save uses 4:2:0 chroma subsampling, so sharp colour edges "
    "show error in a file saved without subsampling."
)

QUALITY = 90  # the re-save quality (the `quality` indicator)
MAX_MAP_SIDE = 1024  # pixels: the map is the error averaged over k x k cells to fit this
GAIN = 4  # error levels are amplified before averaging so that cells keep 1/4 grey level
_GAIN_LUT = [min(255, v * GAIN) for v in range(256)]  # ... and clipped at 63.75 grey levels
BAND_ROWS = 512  # pixel rows re-saved at a time: less memory, and faster (cache) than whole
MCU = 16  # the JPEG macroblock height with 4:2:0 chroma
DISPLAY_FLOOR = 2.0  # grey levels: the map's white is at least this error (uniform stays dark)


def analyze(evidence: ForensicInput, quality: int = QUALITY) -> ForensicResult:
    image = evidence.image
    factor = max(1, math.ceil(max(image.size) / MAX_MAP_SIDE))
    cells = _error_cells(image, quality, factor)
    error = cells.astype(np.float32) / (3 * GAIN)
    # Edge cells may be partial: weight each cell by the pixels it covers for the exact mean.
    heights = np.minimum(factor, image.height - factor * np.arange(error.shape[0]))
    widths = np.minimum(factor, image.width - factor * np.arange(error.shape[1]))
    weighted = (error * heights[:, None].astype(np.float32)).sum(axis=0, dtype=np.float64)
    mean = float((weighted * widths).sum()) / (image.width * image.height)
    high = float(np.percentile(error, 99))
    white = max(high, DISPLAY_FLOOR)

    history = (
        ""
        if evidence.format.upper() in ("JPEG", "MPO")
        else f" For a {evidence.format} file these are the levels of a first JPEG compression "
        "(unless its pixels were once a JPEG)."
    )
    return ForensicResult(
        name=NAME,
        title=TITLE,
        statement=(
            f"Re-saved once at JPEG quality {quality}: mean error level {mean:.2f} grey levels "
            f"(0-255); 1 % of the map is above {high:.1f}.{history}"
        ),
        limits=LIMITS,
        indicators={"quality": quality, "mean": round(mean, 3), "p99": round(high, 2)},
        map=np.clip(error / white, 0.0, 1.0).astype(np.float32),
        map_legend=(
            f"Error level after one re-save at quality {quality}, averaged over "
            f"{factor}x{factor}-pixel cells: black = unchanged, white = {white:.1f} grey levels "
            "or more. Edges and texture are always brighter; look for areas of similar content "
            "that differ."
        ),
        parameters={
            "quality": quality,
            "subsampling": "4:2:0",
            "encoder": "Pillow (libjpeg), optimize off, baseline",
            "difference": "absolute, per colour channel, then averaged over the channels; "
            f"levels above {255 / GAIN:.2f} count as {255 / GAIN:.2f}",
            "map_cell_px": factor,
            "bands": f"re-saved in bands of {_band_rows(factor)} rows (+{MCU} rows of context "
            "each side; identical to one re-save of the whole image, less memory)",
            "map_white_grey_levels": round(white, 2),
        },
    )


def _band_rows(factor: int) -> int:
    step = math.lcm(MCU, factor)  # bands start on the JPEG grid and on a map cell
    return step * max(1, BAND_ROWS // step)


def _error_cells(image: Image.Image, quality: int, factor: int) -> np.ndarray:
    """Per factor x factor cell, GAIN x |re-saved - image| summed over the channels (uint16).

    The image is re-saved band by band: JPEG codes each 16x16 macroblock on its own, so a band
    that starts on the grid encodes exactly as in one whole re-save; the decoder's chroma
    upsampling looks one row across a band edge, so every band is coded with one macroblock row
    of context above and below, then cut. Memory stays at a few bands, not whole images.
    """
    band = _band_rows(factor)
    rows = []
    for top in range(0, image.height, band):
        bottom = min(image.height, top + band)
        upper, lower = max(0, top - MCU), min(image.height, bottom + MCU)
        piece = image.crop((0, upper, image.width, lower))
        buffer = io.BytesIO()
        piece.save(buffer, format="JPEG", quality=quality, subsampling="4:2:0")
        with Image.open(buffer) as resaved:
            resaved.load()  # RGB: a 3-channel JPEG decodes to RGB, no conversion
            difference = ImageChops.difference(piece, resaved)
        # Amplified before averaging over cells, so that a cell keeps 1/GAIN grey level.
        amplified = difference.point(_GAIN_LUT * 3)
        own_rows = (0, top - upper, image.width, bottom - upper)  # without the context rows
        cells = np.asarray(amplified.reduce(factor, box=own_rows))
        rows.append(cells[..., 0].astype(np.uint16) + cells[..., 1] + cells[..., 2])
    return np.concatenate(rows, axis=0)
