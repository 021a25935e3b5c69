"""Noise level consistency: areas whose fine noise is weaker or stronger than the rest.

A camera (or a generator) leaves one noise level over a whole picture, varying smoothly with
brightness. An area pasted from another picture, denoised, smoothed or painted in usually
brings a different one. Method (after Mahdian & Saic 2009, "Using noise inconsistencies for
blind image forensics"):

1. The finest diagonal detail of the luma, the Haar wavelet HH1 sub-band
   (``(a - b - c + d) / 2`` over each 2x2 pixel block: orthonormal, so white noise keeps its
   standard deviation), is mostly noise.
2. Per block of ``BLOCK`` x ``BLOCK`` pixels, Donoho's robust estimate
   ``sigma = median(|HH1|) / 0.6745`` (edges are sparse and do not move a median).
3. Texture also lands in HH1 and would read as noise. Blocks are ranked by their texture: the
   gradient energy of the 4x4-pixel means, less the share the block's own noise puts there
   (averaging 16 pixels divides white noise's variance by 16; a texture keeps its energy at
   that scale, so a noisier or a smoothed area is not mistaken for a textured one). The
   flattest ``FLAT_SHARE`` give the image's noise level (their median) and the spread of the
   estimates. Saturated blocks (clipping removes the noise) are left out.
4. A block departs when its level differs from the image's by more than ``RATIO`` and by more
   than ``Z_LIMIT`` robust standard deviations of the flat blocks' log-levels. Lower noise counts
   in any block (texture can only raise the estimate); higher noise only where texture cannot
   explain it (flat blocks whose coarse detail is small beside their own fine noise).
5. Connected departing blocks (8-neighbours, same direction, at least ``MIN_BLOCKS``) are the
   regions. ``score`` is the share of the analysed blocks that lie in a region.
"""

from __future__ import annotations

import math

import numpy as np

from inspector.core.forensics.base import ForensicInput, ForensicRegion, ForensicResult
from inspector.core.forensics.numeric import connected_regions

NAME = "noise"
TITLE = "Noise level consistency"
LIMITS = (
    "Measures only the finest-scale noise of the brightness, per block of 32x32 pixels: areas "
    "smaller than about 96x96 pixels (or 0.1 % of the image) are not reported. Noise depends on "
    "brightness and on the camera's processing, so very dark, bright or saturated areas, "
    "out-of-focus backgrounds and areas of smooth colour can differ naturally. Fine texture "
    "(grass, foliage, wood grain, fabric, hair) reads as noise, so only flat-enough areas are "
    "compared for higher noise: a noisier patch over texture is not reported. JPEG compression, "
    "resizing and denoising of the whole image weaken the noise everywhere and hide "
    "differences; strong compression may erase the noise of flat areas altogether. An area "
    "pasted from a picture with the same noise level is not found. A departing area is a "
    "question to ask, not proof of editing."
)

BLOCK = 32  # pixels (16x16 HH1 coefficients per block: ~9 % error of one MAD estimate)
FLAT_SHARE = 0.5  # the flattest half of the blocks sets the image's noise level
RATIO = 1.6  # a departing block's noise is this many times lower or higher than the image's
Z_LIMIT = 3.0  # ... and this many robust standard deviations away
NOISE_LIKE = 0.75  # texture / sigma below which a block's detail is noise-like
MIN_BLOCKS = 4  # blocks in a reported region (also at least MIN_SHARE of the blocks)
MIN_SHARE = 0.001
MAX_REGIONS = 8
MAP_MAX_SIDE = 1024  # map pixels on the long side (8 image px per map px below that)
SIGMA_FLOOR = 0.25  # grey levels: the rounding noise of 8-bit values (~0.29)
FAINT_NOISE = 0.6  # grey levels: below this the image has little measurable noise
MAD_TO_SIGMA = 0.6745  # median(|N(0, 1)|)
CLIPPED = (3, 252)  # 2x2 means at or beyond these grey levels count as saturated
MAX_CLIPPED = 0.2  # blocks with more saturated pixels than this are not analysed


def analyze(evidence: ForensicInput) -> ForensicResult:
    luma = np.asarray(evidence.image.convert("L"))
    rows, cols = luma.shape[0] // BLOCK, luma.shape[1] // BLOCK
    if rows < 2 or cols < 2:
        return _not_applicable(f"the image is smaller than {2 * BLOCK}x{2 * BLOCK} pixels")

    sigma, texture, clipped = _block_statistics(luma[: rows * BLOCK, : cols * BLOCK])
    usable = clipped <= MAX_CLIPPED
    if usable.sum() < 4:
        return _not_applicable("almost the whole image is saturated (no noise survives)")
    flattest = np.quantile(texture[usable], FLAT_SHARE)
    flat = usable & (texture <= flattest)
    level = float(np.median(sigma[flat]))
    log_ratio = np.log(sigma / level)
    spread = 1.4826 * float(np.median(np.abs(log_ratio[flat] - np.median(log_ratio[flat]))))
    limit = max(math.log(RATIO), Z_LIMIT * spread)
    lower = usable & (log_ratio < -limit)
    # Higher noise is believed where texture cannot explain it: among the flattest blocks (or
    # detail below the image's noise level), those whose coarse detail is small beside their own
    # fine noise (noise puts almost nothing at the 4x4 scale; fine texture puts a lot).
    comparable = usable & (texture <= max(flattest, level)) & (texture <= NOISE_LIKE * sigma)
    higher = comparable & (log_ratio > limit)

    min_blocks = max(MIN_BLOCKS, math.ceil(MIN_SHARE * usable.sum()))
    regions = _regions(lower, "noise lower than the rest", sigma, level, min_blocks)
    regions += _regions(higher, "noise higher than the rest", sigma, level, min_blocks)
    regions.sort(key=lambda r: -r[1])  # largest first
    score = sum(size for _, size in regions) / float(usable.sum())
    found = len(regions)
    regions = [region for region, _ in regions[:MAX_REGIONS]]

    return ForensicResult(
        name=NAME,
        title=TITLE,
        statement=_statement(regions, found, level, score),
        limits=LIMITS,
        indicators={
            "score": round(score, 3),
            "regions": [r.to_dict() for r in regions],
            "noise_sigma": round(level, 2),
            "spread": round(spread, 3),
        },
        regions=regions,
        map=_display_map(sigma / level, usable, luma.shape),
        map_legend=(
            f"Noise level per {BLOCK}x{BLOCK} block, relative to the image's "
            f"({level:.2f} grey levels): mid-grey = the same, brighter = noisier (4x at white), "
            "darker = cleaner (4x at black). Saturated blocks and the last partial row/column "
            "of blocks are not measured and shown mid-grey. Textured areas look noisier because "
            "fine detail counts as noise; a uniform level is expected."
        ),
        parameters={
            "block_px": BLOCK,
            "estimator": "Haar HH1 sub-band, sigma = median(|HH1|) / 0.6745 per block",
            "flat_share": FLAT_SHARE,
            "ratio": RATIO,
            "z_limit": Z_LIMIT,
            "departure_limit_ratio": round(math.exp(limit), 3),
            "min_region_blocks": min_blocks,
            "blocks": int(rows * cols),
            "analysed_blocks": int(usable.sum()),
            "flat_blocks": int(flat.sum()),
            "comparable_blocks": int(comparable.sum()),
            "score": "share of the analysed blocks that lie in a departing region",
            "region_score": "the region's median noise level / the image's",
            "analysed_area": [0, 0, cols * BLOCK, rows * BLOCK],
        },
    )


def _block_statistics(luma: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per block: noise sigma (HH1 MAD), texture (grey levels) and share of saturated pixels."""
    half = BLOCK // 2  # HH1 coefficients per block side
    rows, cols = luma.shape[0] // BLOCK, luma.shape[1] // BLOCK
    diagonal = np.add(luma[0::2, 0::2], luma[1::2, 1::2], dtype=np.int16)
    anti = np.add(luma[0::2, 1::2], luma[1::2, 0::2], dtype=np.int16)
    sums = diagonal + anti  # 4 x the 2x2 means (LL1 / 2)
    twice_hh = np.abs(diagonal - anti)  # 2 |HH1|: integers
    del diagonal, anti

    blocks = twice_hh.reshape(rows, half, cols, half).transpose(0, 2, 1, 3)
    blocks = blocks.reshape(rows, cols, -1).astype(np.float32)  # float32 partitions ~3x faster
    n = blocks.shape[-1]
    median = np.partition(blocks, n // 2, axis=-1)[..., n // 2 : n // 2 + 1]
    # 2|HH1| is an integer: interpolate the median within its bin (the grouped-data median),
    # or low noise levels would come in steps of 0.74 grey levels.
    below = np.count_nonzero(blocks < median, axis=-1)
    at = np.count_nonzero(blocks == median, axis=-1)
    fine_median = median[..., 0] - 0.5 + (n / 2 - below) / np.maximum(at, 1)
    sigma = np.maximum(fine_median.astype(np.float32) * (0.5 / MAD_TO_SIGMA), SIGMA_FLOOR)

    # Texture: the detail of the 4x4 means, less what the noise puts there. Noise is white, so
    # averaging 16 pixels divides its variance by 16; a texture keeps its energy at that scale.
    quarter = BLOCK // 4
    sums4 = np.add(sums[0::2, 0::2], sums[0::2, 1::2], dtype=np.float32)
    sums4 += sums[1::2, 0::2]
    sums4 += sums[1::2, 1::2]
    means4 = sums4 / 16.0
    energy = np.zeros_like(means4)
    energy[:, :-1] += np.diff(means4, axis=1) ** 2
    energy[:-1, :] += np.diff(means4, axis=0) ** 2
    energy = _block_sum(energy, rows, cols, quarter) / quarter**2
    texture = np.sqrt(np.maximum(energy - sigma**2 / 4.0, 0.0))  # noise: 2 x sigma^2 / 8

    saturated = (sums <= 4 * CLIPPED[0]) | (sums >= 4 * CLIPPED[1])
    clipped = _block_sum(saturated, rows, cols, half, dtype=np.int32) / float(half * half)
    return sigma, texture, clipped


def _block_sum(values: np.ndarray, rows: int, cols: int, side: int, dtype=None) -> np.ndarray:
    """Sums over side x side blocks (reducing the contiguous axis first: much faster)."""
    return values.reshape(rows, side, cols, side).sum(axis=3, dtype=dtype).sum(axis=1)


def _display_map(ratio: np.ndarray, usable: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Log2 of the relative level (0.5 = the image's), one cell per ``cell`` px, image-sized."""
    values = np.where(usable, np.clip(0.5 + np.log2(ratio) / 4.0, 0.0, 1.0), 0.5)
    cell = max(BLOCK // 4, math.ceil(max(shape) / MAP_MAX_SIDE))
    height, width = math.ceil(shape[0] / cell), math.ceil(shape[1] / cell)
    # Map cell (i, j) shows the block holding its top-left pixel; beyond the blocks: mid-grey.
    rows = np.arange(height) * cell // BLOCK
    cols = np.arange(width) * cell // BLOCK
    inside = (rows[:, None] < values.shape[0]) & (cols[None, :] < values.shape[1])
    picked = values[np.minimum(rows, values.shape[0] - 1)][:, np.minimum(cols, values.shape[1] - 1)]
    return np.where(inside, picked, 0.5).astype(np.float32)


def _regions(
    mask: np.ndarray, label: str, sigma: np.ndarray, level: float, min_blocks: int
) -> list[tuple[ForensicRegion, int]]:
    """Connected departing blocks (8-neighbours) as regions in pixels, with their block counts."""
    labels, areas = connected_regions(mask, connectivity=8)
    found = []
    for index, where in areas:
        members = labels[where] == index
        size = int(members.sum())
        if size < min_blocks:
            continue
        ys, xs = where
        box = [xs.start * BLOCK, ys.start * BLOCK, xs.stop * BLOCK, ys.stop * BLOCK]
        ratio = float(np.median(sigma[where][members])) / level
        found.append((ForensicRegion(box=box, label=label, score=round(ratio, 3)), size))
    return found


def _statement(regions: list[ForensicRegion], found: int, level: float, score: float) -> str:
    faint = (
        " The image has almost no fine noise (resized, denoised, compressed or synthetic), so "
        "the comparison says little."
        if level < FAINT_NOISE
        else ""
    )
    if not regions:
        return (
            f"The fine noise is consistent: no area departs from the image's level "
            f"({level:.2f} grey levels).{faint}"
        )
    first = regions[0]
    direction = "lower" if first.label.startswith("noise lower") else "higher"
    return (
        f"{found} area(s) depart from the image's noise level of {level:.2f} grey levels "
        f"({score:.0%} of the analysed blocks); the largest, at {first.box}, has {direction} "
        f"noise ({first.score:.2f}x the rest).{faint}"
    )


def _not_applicable(reason: str) -> ForensicResult:
    why = f"Noise consistency was not analysed: {reason}."
    return ForensicResult.not_applicable(NAME, TITLE, LIMITS, why, score=None, regions=[])
