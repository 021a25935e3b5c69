"""Resampling and periodic patterns: peaks in the spectra of the image's fine detail.

Three fine-detail signals are computed per tile of the luminance and their power spectra averaged
over the tiles:

* ``resampling`` — the p-map of a fixed linear predictor (Kirchner 2008, after Popescu & Farid
  2005): ``p = exp(-e^2 / 2 sigma^2)`` where ``e`` is the residual of predicting each pixel from
  its 8 neighbours. Interpolation makes some pixels exact linear mixtures of their neighbours, in
  a pattern that repeats with the resampling period, so ``p`` is periodic and its spectrum peaks.
* ``derivative`` — ``|dx| + |dy|``, first differences. A symmetric predictor cannot tell the two
  phases of a 2x upsampling apart (they mirror each other), but the variance of a one-sided
  difference alternates with period 2 and peaks at 0.5 cycles/pixel.
* ``pattern`` — the Laplacian residual itself (linear, not its magnitude): an additive periodic
  pattern such as a generator's upsampling checkerboard, a halftone or a screen.

Each averaged spectrum is divided by a local background (block medians; a running median along
the axes, where natural images put lines of energy) and by the largest value such a ratio reaches
by chance over the whole spectrum (``noise bound``, from the Gamma distribution of an average of
``n`` periodograms). A peak's ``strength`` is that multiple of the noise bound; ``score`` is
``1 - 1/strength`` of the strongest scored peak (0 when nothing exceeds the bound).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image

from inspector.core.forensics.base import ForensicInput, ForensicResult
from inspector.core.forensics.numeric import (
    box_mean,
    fast_fft_length,
    gamma_upper_inverse,
    half_power_spectrum,
)
from inspector.core.forensics.record import JPEG_FORMATS

NAME = "spectrum"
TITLE = "Resampling and periodic patterns"
LIMITS = (
    "Periodic peaks show that the fine detail repeats with a fixed period; they do not say why. "
    "Scaling or rotating an image, a generator's upsampling grid, a halftone or screen pattern "
    "and regular content (fences, fabric, brick, windows) all produce them. A peak at 0.5 "
    "cycles/pixel (period 2 px) is also left by the colour filter array of a camera image that "
    "was neither compressed nor resized. Peaks of the 8x8 block grid of JPEG compression are "
    "listed but not scored: in a JPEG file, every multiple of 1/8 cycle/pixel (0.5 included, "
    "from chroma subsampling), so a true pattern of period 2, 4 or 8 px in a JPEG goes "
    "unscored too; in other files, 1/8, 2/8 and 3/8 on the axes (the trace of an earlier "
    "compression). JPEG compression after the "
    "resampling (quality 90 or lower on small images), downscaling and heavy noise weaken or "
    "erase the peaks; a pattern confined to a small area is diluted by the rest of the image. "
    "Large images are examined in 8 tiles of 512x512 pixels chosen for texture, not whole. No "
    "peak is not proof that the image was never resampled."
)

TILE = 512  # side of an analysed tile (pixels)
MAX_TILES = 8  # large images: this many tiles, chosen for texture; spectra averaged
PMAP_SIGMA = 1.0  # grey levels: width of the p-map (interpolated pixels predict to ~rounding)
CENTRE_EXCLUSION = 0.03  # cycles/pixel: image content dominates the spectrum below this
BLOCK = 8  # bins: block size of the median background
AXIS_WINDOW = 17  # bins: running-median window along the axes
MAX_PEAKS = 8
MAX_GRID_PEAKS = 4  # JPEG block-grid peaks listed (not scored)
STANDS_OUT = 2.0  # strength (x noise bound) from which the statement reports a periodic pattern
JPEG_GRID_TOLERANCE = 1.5  # bins from a multiple of 1/8 cycle/pixel
JPEG_GRID_AXIS = 0.02  # cycles/pixel from an axis (block lines are modulated by the content)


MIN_SIDE = 64  # pixels: smaller images have too few frequencies to tell a peak from chance

SIGNALS = ("resampling", "derivative", "pattern")
_MEANING = {
    "resampling": "the periodic correlation that resampling (scaling, rotation) leaves",
    "derivative": "the periodic correlation that resampling (scaling, rotation) leaves",
    "pattern": "a periodic pattern added to the fine detail (an upsampling checkerboard, a "
    "halftone or screen)",
}
_PERIOD_2 = (
    "a period of 2 px, as 2x upsampling, a generator's 2x checkerboard or the colour filter "
    "array of an unprocessed camera image leave"
)


def analyze(evidence: ForensicInput) -> ForensicResult:
    image = evidence.image
    if min(image.size) < MIN_SIDE:
        why = f"Not analysed: the image is smaller than {MIN_SIDE} pixels on a side."
        return ForensicResult.not_applicable(NAME, TITLE, LIMITS, why, score=None, peaks=[])
    boxes, chosen_for_texture = _tile_boxes(image)
    # The signals lose one pixel per side; the DFT size is the next fast one (zero padding).
    tile_w, tile_h = boxes[0][2] - boxes[0][0], boxes[0][3] - boxes[0][1]
    shape = (fast_fft_length(tile_h - 2), fast_fft_length(tile_w - 2))
    power: dict[str, np.ndarray] = {}
    for box in boxes:
        luma = np.asarray(image.crop(box).convert("L"), dtype=np.float32)
        for name, spectrum in _tile_spectra(luma, shape).items():
            if name in power:
                power[name] += spectrum
            else:
                power[name] = spectrum
    bound = _noise_bound(_independent_tiles(boxes), len(SIGNALS) * shape[0] * shape[1] // 2)
    strength = {name: _prominence(_full_power(p, shape[1])) / bound for name, p in power.items()}

    jpeg_file = evidence.format.upper() in JPEG_FORMATS
    peaks = _peaks(strength, jpeg_file)
    scored = [p for p in peaks if not p["jpeg_grid"]]
    best = scored[0] if scored else None
    score = max(0.0, 1.0 - 1.0 / best["strength"]) if best is not None else 0.0

    tiles_text = (
        f"{len(boxes)} tile(s) of {boxes[0][2] - boxes[0][0]}x{boxes[0][3] - boxes[0][1]} px"
        + (", chosen for texture," if chosen_for_texture else "")
        + " spectra averaged"
    )
    return ForensicResult(
        name=NAME,
        title=TITLE,
        statement=_statement(best, peaks, tiles_text),
        limits=LIMITS,
        indicators={"score": round(score, 3), "peaks": peaks},
        map=_display_map(strength, image.width, image.height),
        map_spatial=False,  # a spectrum: frequencies, not places
        map_legend=(
            "Spectrum of the fine detail, centred (middle = zero frequency, edges = 0.5 "
            "cycles/pixel, left-right = horizontal frequency, up-down = vertical). Black = "
            "nothing above chance; isolated bright dots away from the centre = a periodic "
            "pattern (resampling, upsampling grid, JPEG block grid). Not a spatial map."
        ),
        parameters={
            "tiles": len(boxes),
            "tile_size": [boxes[0][2] - boxes[0][0], boxes[0][3] - boxes[0][1]],
            "tile_boxes": [list(b) for b in boxes],
            "tiles_chosen_for_texture": chosen_for_texture,
            "max_tiles": MAX_TILES,
            "signals": list(SIGNALS),
            "predictor": "Kirchner 2008 3x3 (0.5 edge, -0.25 corner neighbours)",
            "pmap_sigma": PMAP_SIGMA,
            "centre_exclusion_cycles_per_pixel": CENTRE_EXCLUSION,
            "independent_tiles": round(_independent_tiles(boxes), 2),
            "noise_bound": round(float(bound), 3),
            "frequency_unit": "cycles per pixel",
            "period_px": "1 / |f|, measured along the direction of the wave",
            "strength_unit": "multiple of the largest value chance reaches (noise bound)",
            "score": "1 - 1/strength of the strongest peak not on the JPEG grid",
            "jpeg_grid_not_scored": (
                "every multiple of 1/8 (JPEG file)" if jpeg_file else "1/8, 2/8, 3/8 on the axes"
            ),
            "tile_choice": (
                "highest mean detail x unclipped share on an 8x reduced copy"
                if chosen_for_texture
                else "all tiles covering the image"
            ),
        },
    )


# --------------------------------------------------------------------------------------------
# Tiles
# --------------------------------------------------------------------------------------------


def _positions(length: int, tile: int) -> list[int]:
    """Start offsets of tiles covering ``length`` evenly (overlapping when it does not divide)."""
    count = math.ceil(length / tile)
    if count == 1:
        return [0]
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def _tile_boxes(image: Image.Image) -> tuple[list[tuple[int, int, int, int]], bool]:
    """The tiles to analyse and whether they were chosen (only when more than MAX_TILES fit)."""
    tw, th = min(TILE, image.width), min(TILE, image.height)
    boxes = [
        (x, y, x + tw, y + th)
        for y in _positions(image.height, th)
        for x in _positions(image.width, tw)
    ]
    if len(boxes) <= MAX_TILES:
        return boxes, False
    # Rank by texture on an 8x reduced copy: flat or clipped tiles carry no resampling trace.
    factor = 8
    thumb = np.asarray(image.reduce(factor).convert("L"), dtype=np.float32)
    detail = np.abs(thumb - box_mean(thumb, 3))
    clipped = (thumb <= 2) | (thumb >= 253)
    ranking = []
    for box in boxes:
        x1, y1, x2, y2 = (v // factor for v in box)
        texture = float(np.mean(detail[y1:y2, x1:x2]))
        ranking.append(texture * (1.0 - float(np.mean(clipped[y1:y2, x1:x2]))))
    order = np.argsort(ranking)[::-1][:MAX_TILES]
    return [boxes[i] for i in sorted(order)], True


# --------------------------------------------------------------------------------------------
# Spectra
# --------------------------------------------------------------------------------------------


def _tile_spectra(x: np.ndarray, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Half-plane power spectra (rfft2) of the three fine-detail signals of one luminance tile."""
    centre = x[1:-1, 1:-1]
    edges = x[:-2, 1:-1] + x[2:, 1:-1]
    edges += x[1:-1, :-2]
    edges += x[1:-1, 2:]
    corners = x[:-2, :-2] + x[:-2, 2:]
    corners += x[2:, :-2]
    corners += x[2:, 2:]
    residual = centre - 0.5 * edges  # Kirchner's fixed linear predictor
    residual += 0.25 * corners
    pmap = np.square(residual, out=residual)
    pmap *= -0.5 / PMAP_SIGMA**2
    derivative = np.abs(x[1:-1, 2:] - centre)
    derivative += np.abs(x[2:, 1:-1] - centre)
    pattern = np.subtract(4.0 * centre, edges, out=edges)
    signals = {
        "resampling": np.exp(pmap, out=pmap),
        "derivative": derivative,
        "pattern": pattern,
    }
    window = _window(*centre.shape)
    out = {}
    for name, signal in signals.items():
        signal -= signal.mean()
        signal *= window
        out[name] = half_power_spectrum(signal, shape)
    return out


@functools.lru_cache(maxsize=4)
def _window(height: int, width: int) -> np.ndarray:
    """2-D Hann window (tapers the tile's edges, which would otherwise add lines to spectra)."""
    return np.outer(np.hanning(height), np.hanning(width)).astype(np.float32)


def _full_power(half: np.ndarray, width: int) -> np.ndarray:
    """The full centred power spectrum from the rfft2 half (power is symmetric: P(-f) = P(f))."""
    rows = half.shape[0]
    missing = np.arange(half.shape[1], width)
    mirrored = half[(-np.arange(rows)) % rows][:, width - missing]
    return np.fft.fftshift(np.concatenate([half, mirrored], axis=1))


def _prominence(power: np.ndarray) -> np.ndarray:
    """Power over a local background: block medians, and running medians along the two axes."""
    h, w = power.shape
    bh, bw = max(1, h // BLOCK), max(1, w // BLOCK)
    blocks = power[: bh * BLOCK, : bw * BLOCK].reshape(bh, BLOCK, bw, BLOCK)
    medians = np.median(blocks.transpose(0, 2, 1, 3).reshape(bh, bw, -1), axis=-1)
    background = _resize(medians.astype(np.float32), w, h)  # bilinear between block centres
    cy, cx = h // 2, w // 2
    for dy in (-1, 0, 1):  # the Hann window spreads an axis line over three bins
        background[cy + dy, :] = _running_median(power[cy + dy, :])
    for dx in (-1, 0, 1):
        background[:, cx + dx] = _running_median(power[:, cx + dx])
    return power / np.maximum(background, np.finfo(np.float32).tiny)


def _resize(values: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize of a float32 array (Pillow: no BLAS threads, pixel-centre aligned)."""
    image = Image.fromarray(values).resize((width, height), Image.Resampling.BILINEAR)
    return np.array(image, dtype=np.float32)  # a writable copy


def _running_median(line: np.ndarray) -> np.ndarray:
    half = AXIS_WINDOW // 2
    padded = np.pad(line, half, mode="wrap")
    windows = np.lib.stride_tricks.sliding_window_view(padded, AXIS_WINDOW)
    return np.median(windows, axis=-1)


def _independent_tiles(boxes: list[tuple[int, int, int, int]]) -> float:
    """How many tiles' worth of distinct pixels the (possibly overlapping) tiles cover: two
    tiles sharing most of their pixels average to little more than one periodogram."""
    right, bottom = max(b[2] for b in boxes), max(b[3] for b in boxes)
    covered = np.zeros((bottom // 8 + 1, right // 8 + 1), dtype=bool)
    for x1, y1, x2, y2 in boxes:
        covered[y1 // 8 : y2 // 8, x1 // 8 : x2 // 8] = True
    tile = ((boxes[0][2] - boxes[0][0]) // 8) * ((boxes[0][3] - boxes[0][1]) // 8)
    return max(1.0, min(len(boxes), float(covered.sum()) / max(tile, 1)))


def _noise_bound(tiles: float, bins: int) -> float:
    """The largest power/median ratio an average of ``tiles`` periodograms reaches by chance
    over ``bins`` independent frequencies (Gamma(tiles) distributed power)."""
    return gamma_upper_inverse(tiles, 1.0 / bins) / gamma_upper_inverse(tiles, 0.5)


# --------------------------------------------------------------------------------------------
# Peaks, statement, map
# --------------------------------------------------------------------------------------------


def _peaks(strength: dict[str, np.ndarray], jpeg_file: bool) -> list[dict]:
    """Local maxima above the noise bound in the half-plane, strongest first.

    Up to MAX_PEAKS scored peaks, then up to MAX_GRID_PEAKS of the JPEG block grid (marked).
    """
    h, w = next(iter(strength.values())).shape
    fy = (np.arange(h) - h // 2) / h
    fx = (np.arange(w) - w // 2) / w
    fx, fy = np.where(fx == -0.5, 0.5, fx), np.where(fy == -0.5, 0.5, fy)  # Nyquist: +0.5
    outside = np.hypot(fy[:, None], fx[None, :]) >= CENTRE_EXCLUSION
    half_plane = (fx[None, :] > 0) | ((fx[None, :] == 0) & (fy[:, None] > 0))
    found = []
    offsets = np.arange(-2, 3)
    for name, ratio in strength.items():
        # Few bins exceed the bound: test those for being the maximum of their 5x5 neighbourhood.
        ys, xs = np.nonzero((ratio > 1.0) & outside & half_plane)
        rows, cols = (ys[:, None] + offsets) % h, (xs[:, None] + offsets) % w
        top = ratio[rows[:, :, None], cols[:, None, :]].max(axis=(1, 2))
        value = ratio[ys, xs]
        for iy, ix, v in zip(ys[value >= top], xs[value >= top], value[value >= top], strict=True):
            found.append((float(v), name, int(iy), int(ix)))
    found.sort(reverse=True)
    scored: list[dict] = []
    grid: list[dict] = []
    seen: list[tuple[int, int]] = []
    for value, name, iy, ix in found:
        if any(abs(sy - iy) <= 2 and abs(sx - ix) <= 2 for sy, sx in seen):
            continue  # the same peak seen by another signal
        seen.append((iy, ix))
        f_x, f_y = float(fx[ix]), float(fy[iy])
        on_grid = _on_jpeg_grid(ix - w // 2, iy - h // 2, w, h, jpeg_file)
        bucket, limit = (grid, MAX_GRID_PEAKS) if on_grid else (scored, MAX_PEAKS)
        if len(bucket) < limit:
            bucket.append({
                "fx": round(f_x, 4),
                "fy": round(f_y, 4),
                "period_px": round(1.0 / math.hypot(f_x, f_y), 2),
                "strength": round(value, 2),
                "signal": name,
                "jpeg_grid": on_grid,
            })  # fmt: skip
    return sorted(scored + grid, key=lambda p: (p["jpeg_grid"], -p["strength"]))


def _on_jpeg_grid(kx: int, ky: int, w: int, h: int, jpeg_file: bool) -> bool:
    """At a multiple of 1/8 cycle/pixel: the 8x8 block grid of JPEG compression.

    Block edges are lines, so the grid peaks sit on the axes, smeared across them by the content
    that modulates the lines (up to JPEG_GRID_AXIS cycles/pixel). In a JPEG file the whole
    lattice (k/8, l/8) is expected, 0.5 included (4:2:0 chroma is upsampled 2x). In any other
    file only 1/8, 2/8 and 3/8 on the axes are taken for an earlier compression, so that
    period-2 and off-axis patterns are still scored.
    """

    def eighths(k: int, n: int) -> int | None:
        nearest = round(k * 8 / n)
        return nearest if abs(k - nearest * n / 8) <= JPEG_GRID_TOLERANCE else None

    mx, my = eighths(kx, w), eighths(ky, h)
    on_axes = []
    if abs(ky) <= JPEG_GRID_AXIS * h and mx:
        on_axes.append(abs(mx))
    if abs(kx) <= JPEG_GRID_AXIS * w and my:
        on_axes.append(abs(my))
    if jpeg_file:
        return bool(on_axes) or bool(mx and my)
    return any(m < 4 for m in on_axes)


def _statement(best: dict | None, peaks: list[dict], tiles_text: str) -> str:
    grid = any(p["jpeg_grid"] for p in peaks)
    grid_text = "; the JPEG 8x8 block grid shows (not scored)" if grid else ""
    if best is None or best["strength"] < STANDS_OUT:
        level = f"strongest {best['strength']:.1f}x the chance level" if best else "none"
        return (
            f"No periodic peak stands out of the fine-detail spectrum ({level}; {tiles_text})"
            f"{grid_text}."
        )
    period_2 = abs(best["period_px"] - 2.0) < 0.05
    meaning = _PERIOD_2 if period_2 else _MEANING[best["signal"]]
    return (
        f"A periodic peak stands out at {best['fx']:+.3f}, {best['fy']:+.3f} cycles/pixel "
        f"(period {best['period_px']:.1f} px, {best['strength']:.0f}x the chance level): "
        f"{meaning}{grid_text}."
    )


def _display_map(strength: dict[str, np.ndarray], width: int, height: int) -> np.ndarray:
    """The strongest of the three normalised spectra, log-scaled: 1 = 10x the chance level."""
    ratio = np.maximum.reduce(list(strength.values()))  # a new array: strength is not changed
    h, w = ratio.shape
    fy = (np.arange(h) - h // 2) / h
    fx = (np.arange(w) - w // 2) / w
    ratio[np.hypot(fy[:, None], fx[None, :]) < CENTRE_EXCLUSION] = 0.0
    shown = np.clip(np.log10(np.maximum(ratio, 1e-6)) + 0.5, 0.0, 1.5) / 1.5
    # Keep single-bin dots through resizing: the maximum over each 3x3 neighbourhood.
    padded = np.pad(shown, 1, mode="wrap")
    shown = np.maximum.reduce(
        [padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)]
    )
    scale = min(1.0, 512 / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return _resize(shown.astype(np.float32), *size)
