"""Aligned double JPEG compression, from periodic artefacts in DCT coefficient histograms.

A JPEG decoded and saved again on the same 8x8 grid carries the mark of both quantisations
(Popescu & Farid 2004): a coefficient first rounded to a multiple of q1, then re-quantised with
step q2, can only take the values ``round(m * q1 / q2)``. In the histogram of the file's quantised
coefficients that leaves a comb: with q1 > q2 whole bins stay empty, with q1 < q2 some bins
collect two first-stage values; either way a pattern with period ``q1 / gcd(q1, q2)`` bins. A
photo compressed once has smooth (roughly Laplacian) histograms.

The method, per AC frequency (the first 15 in zigzag order, where the statistics are rich):

1. 8x8 block DCT of the decoded luma on the file's grid; divide by the file's quantisation step
   q2 and round: the integers the file holds (up to the decoder's rounding).
2. For every candidate first step q1, the comb it predicts (``_comb``) is compared with the
   histogram. The smooth envelope comes from the histogram itself: a moving average over exactly
   one period, which cancels a pattern of that period and follows an exponential (Laplacian)
   tail exactly. The score of q1 is the mean log-likelihood ratio, per coefficient, of "envelope
   times comb" against "envelope alone". Jensen's inequality makes it negative on a smooth
   histogram, and about log(q1 / q2) nats where the comb is real.
3. The image's score is the coefficient-weighted mean of each frequency's best ratio; the first
   quality is the IJG quality whose table explains the frequencies best jointly (tables from
   ``jpeg.ijg_tables``). Images with fewer than 300 distinct textured blocks (graphics, tiny or
   flat pictures, whose few spiky histograms can mimic a comb) are not judged.
4. Map: the per-block posterior probability of double compression (Lin et al. 2009), naive Bayes
   over the frequencies with a comb, each coefficient contributing its comb ratio (zeros, which
   both hypotheses expect, contribute nothing), averaged over tiles.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image

from inspector.core.forensics.base import ForensicInput, ForensicResult
from inspector.core.forensics.jpeg import ZIGZAG, estimate_ijg_quality, ijg_tables, parse_jpeg

NAME = "double_jpeg"
TITLE = "Double JPEG compression"
LIMITS = (
    "Detects an earlier JPEG compression on the same 8x8 grid only, and only when the last save "
    "was clearly finer than the first (60 -> 90, 75 -> 95 are found; 70 -> 80 or 85 -> 90 is "
    "borderline, 75 -> 80 missed). Cropping by a number of pixels that is not a multiple of 8, "
    "resizing or rotating between the saves, or a last save at the same or lower quality "
    "leaves no usable trace. A double-compressed file is not by itself a forgery: most edited "
    "or re-shared photos are re-saved. Needs about 400x300 px of textured content; graphics "
    "with few distinct blocks are not judged. Large images are analysed on a regular sample of "
    "blocks, and the map (per block, averaged over ~32 px tiles) cannot judge regions of only a "
    "few blocks."
)

N_FREQUENCIES = 15  # AC coefficients 1..15 in zigzag order
MAX_BLOCKS = 50_000  # larger images: every s-th block in each direction (s recorded)
NOISE_SIGMA = 0.6  # std of decode/re-encode rounding noise, DCT units (8-bit RGB round trip)
LEAK = 0.02  # share of a comb's mean given to "empty" bins: clipping, noise, mixed content
MIN_COEFFICIENTS = 100  # nonzero coefficients a frequency needs before it is judged
MAX_BINS = 200  # histogram half-width in quantised units
MIN_DISTINCT_BLOCKS = 300  # fewer different textured blocks: graphics or too small to judge
DISTINCT_SAMPLE = 4096  # textured blocks sampled to count the distinct ones

# Decision rule. The score is a mean log-likelihood ratio (nats per coefficient): at or below 0
# on a smooth histogram (Jensen), about log(q1 / q2) minus rounding leaks where a comb is present.
# Measured on skimage astronaut, coffee, chelsea, rocket and camera (400x300 crops on and off
# the photos' own grid, and 256x192): saved once at Q 50-98 the score stays <= 0.06 (the maximum
# over ~100 candidate steps picking up noise); saved at Q1 40-85, then at Q2 80-98 with
# Q2 - Q1 >= 15, it is >= 0.25 (60 -> 90: 0.69-1.04; 75 -> 95: 0.72-1.14; 50 -> 80 is the
# weakest). 0.2 keeps three times the largest clean score as margin against false alarms, which
# matter more here than a missed borderline case (70 -> 80: 0.13-0.19; 75 -> 80: 0.04-0.07).
DETECTION_THRESHOLD = 0.2
FREQUENCY_THRESHOLD = 0.1  # a frequency counts as showing a comb (map, first-step readout)


def analyze(evidence: ForensicInput) -> ForensicResult:
    info = parse_jpeg(evidence.data) if evidence.format in ("JPEG", "MPO") else None
    luma_table = info.component_table(0) if info is not None else None
    if info is None or luma_table is None or len(info.components) not in (1, 3):
        what = "Not a JPEG file" if info is None else "A JPEG without a YCbCr or greyscale luma"
        why = f"{what}; double JPEG compression cannot be assessed."
        return ForensicResult.not_applicable(
            NAME, TITLE, LIMITS, why, detected=None, score=None, first_quality=None
        )

    orientation = _exif_orientation(evidence.data)
    luma = np.asarray(evidence.image.convert("L"))
    file_shape = luma.shape[::-1] if orientation in (5, 6, 7, 8) else luma.shape
    if file_shape != (info.height, info.width):
        orientation = 1  # the pixels were not rotated after all: trust their shape
    blocks, grid, stride = _sampled_blocks(_to_file_orientation(luma, orientation))
    blocks_total = (luma.shape[0] // 8) * (luma.shape[1] // 8)
    del luma
    positions = ZIGZAG[1 : N_FREQUENCIES + 1]
    steps = np.asarray(luma_table, dtype=np.int64)[positions]
    # The DCT coefficients at the file's grid divided by its steps: the integers it stores.
    coefficients = blocks @ _dct_columns(tuple(int(p) for p in positions))  # (n, 15) float32
    quantised = np.rint(coefficients / steps.astype(np.float32)).astype(np.int32)
    del blocks, coefficients

    distinct = _distinct_textured_blocks(quantised)
    judged = distinct >= MIN_DISTINCT_BLOCKS
    hists = _histograms(quantised)
    fits = [_fit_frequency(hists[i], int(steps[i])) if judged else _Fit(int(steps[i]), 0.0, {})
            for i in range(len(steps))]  # fmt: skip
    weights = np.array([f.weight for f in fits], dtype=np.float64)
    best = np.array([max(f.best_llr, 0.0) for f in fits])
    judged = judged and weights.sum() > 0
    score = float((weights * best).sum() / weights.sum()) if judged else 0.0
    detected = score >= DETECTION_THRESHOLD
    first_quality, first_steps = _first_quality(fits, positions) if detected else (None, None)
    combs = [  # the first step each frequency shows, where it shows one
        (first_steps[i] if first_steps is not None else f.best_q1)
        if f.best_llr >= FREQUENCY_THRESHOLD
        else None
        for i, f in enumerate(fits)
    ]
    map_ = None
    if detected:
        per_tile = _posterior_map(quantised, steps, combs, grid, stride)
        map_ = _to_display_orientation(per_tile, orientation).astype(np.float32)

    if not judged:
        statement = (f"Too little distinct texture to judge double JPEG compression ({distinct} "
                     f"distinct textured 8x8 blocks; {MIN_DISTINCT_BLOCKS} needed).")  # fmt: skip
    elif detected:
        first = (f"first saved at about IJG quality {first_quality}" if first_quality is not None
                 else "first quality not readable (not IJG tables)")  # fmt: skip
        statement = (f"Aligned double JPEG compression detected (score {score:.2f}, threshold "
                     f"{DETECTION_THRESHOLD}): {first}, then re-saved"
                     f"{_current_quality(luma_table)}.")  # fmt: skip
    else:
        statement = (f"No sign of aligned double JPEG compression (score {score:.2f}, threshold "
                     f"{DETECTION_THRESHOLD}).")  # fmt: skip
    indicators: dict[str, Any] = {
        "detected": bool(detected),
        "score": round(score, 4),
        "first_quality": first_quality,
        "judged": bool(judged),
        "frequencies": [
            {"zigzag": i + 1, "q2": int(steps[i]), "q1": combs[i], "llr": round(f.best_llr, 4),
             "coefficients": int(f.weight)}  # fmt: skip
            for i, f in enumerate(fits)
        ],
    }
    return ForensicResult(
        name=NAME,
        title=TITLE,
        statement=statement,
        limits=LIMITS,
        indicators=indicators,
        map=map_,
        map_legend=("bright = block more likely double-compressed (posterior, Lin et al. 2009)"
                    if map_ is not None else None),  # fmt: skip
        parameters={
            "frequencies": f"AC 1-{N_FREQUENCIES} (zigzag), luma",
            "block_stride": stride,
            "blocks_used": int(quantised.shape[0]),
            "blocks_total": int(blocks_total),
            "distinct_textured_blocks": f"{distinct} of up to {DISTINCT_SAMPLE} sampled",
            "noise_sigma": NOISE_SIGMA,
            "detection_threshold": DETECTION_THRESHOLD,
            "min_image": "about 400x300 px of textured photo (about 2,000 blocks)",
        },
    )


# --------------------------------------------------------------------------------------------
# Block DCT


@lru_cache(maxsize=4)
def _dct_columns(positions: tuple[int, ...]) -> np.ndarray:
    """(64, len(positions)) float32: a flattened 8x8 block times this = its 2-D DCT-II there."""
    n = np.arange(8)
    basis = np.sqrt(2 / 8) * np.cos(np.pi * (2 * n[None, :] + 1) * n[:, None] / 16)
    basis[0] /= np.sqrt(2)  # orthonormal: exactly the scale of JPEG's FDCT (T.81 A.3.3)
    full = np.kron(basis, basis)  # row u*8+v, column x*8+y
    return np.ascontiguousarray(full[list(positions)].T, dtype=np.float32)


def _sampled_blocks(luma: np.ndarray) -> tuple[np.ndarray, tuple[int, int], int]:
    """Level-shifted 8x8 blocks as (n, 64) float32, every ``stride``-th block each way."""
    rows, cols = luma.shape[0] // 8, luma.shape[1] // 8
    stride = max(1, math.ceil(math.sqrt(rows * cols / MAX_BLOCKS)))
    view = luma[: rows * 8, : cols * 8].reshape(rows, 8, cols, 8)[::stride, :, ::stride, :]
    grid = (view.shape[0], view.shape[2])
    blocks = view.transpose(0, 2, 1, 3).reshape(-1, 64).astype(np.float32)
    blocks -= 128.0
    return blocks, grid, stride


# --------------------------------------------------------------------------------------------
# Comb fit per frequency


class _Fit:
    """Per-frequency result: the best first step and its score, plus the comb scores for all."""

    def __init__(self, q2: int, weight: float, llr: dict[int, float]):
        self.q2 = q2
        self.weight = weight  # nonzero coefficients in range
        self.llr = llr  # q1 -> mean log-likelihood ratio per coefficient (q2 itself: 0)
        self.best_q1 = max(llr, key=lambda q: (llr[q], -q)) if llr else q2
        self.best_llr = llr.get(self.best_q1, 0.0)


def _distinct_textured_blocks(quantised: np.ndarray) -> int:
    """How many different non-flat quantised blocks an even sample of up to 4,096 holds.

    Graphics repeat a few block patterns, whose histograms are a few spikes that can mimic a
    comb; photographs have thousands of distinct blocks. Rows are compared by a polynomial hash.
    """
    textured = quantised[(quantised != 0).any(axis=1)]
    sample = textured[:: max(1, len(textured) // DISTINCT_SAMPLE)][:DISTINCT_SAMPLE]
    weights = np.array([pow(1_000_003, i, 1 << 61) for i in range(quantised.shape[1])])
    hashes = np.sort(sample.astype(np.int64) @ weights)  # int64 wraps: still a hash
    return int(np.count_nonzero(hashes[1:] != hashes[:-1]) + min(1, hashes.size))


def _histograms(quantised: np.ndarray) -> np.ndarray:
    """(frequencies, 2 * MAX_BINS + 1) counts of each quantised value -MAX_BINS..MAX_BINS.

    One bincount for all frequencies; larger magnitudes are dropped (they carry no comb we test).
    """
    width = 2 * MAX_BINS + 3  # one overflow bin each side, discarded
    offsets = np.arange(quantised.shape[1], dtype=np.int32) * width + MAX_BINS + 1
    flat = (np.clip(quantised, -MAX_BINS - 1, MAX_BINS + 1) + offsets).ravel()
    counts = np.bincount(flat, minlength=width * quantised.shape[1])
    return counts.reshape(quantised.shape[1], width)[:, 1:-1].astype(np.float64)


def _fit_frequency(full_hist: np.ndarray, q2: int) -> _Fit:
    """Score every candidate first step q1 against one frequency's histogram (vectorised)."""
    magnitudes = full_hist[MAX_BINS + 1 :] + full_hist[MAX_BINS - 1 :: -1]  # |k| = 1..MAX_BINS
    nonzero = float(magnitudes.sum())
    if nonzero < MIN_COEFFICIENTS:
        return _Fit(q2, 0.0, {})
    # 99th percentile of the nonzero magnitudes: periods longer than half of it cannot be seen.
    percentile = int(np.searchsorted(np.cumsum(magnitudes), 0.99 * nonzero)) + 1
    extent = max(4, min(MAX_BINS, percentile))
    size = 2 * extent + 1
    hist = full_hist[MAX_BINS - extent : MAX_BINS + extent + 1]
    q1s = np.arange(1, min(255, extent * q2 // 2) + 1)
    periods = q1s // np.gcd(q1s, q2)
    keep = (q1s != q2) & (periods >= 2) & (periods <= extent // 2)
    q1s, periods = q1s[keep], periods[keep]
    llr: dict[int, float] = {q2: 0.0}
    if q1s.size == 0:
        return _Fit(q2, nonzero, llr)

    half = (periods // 2)[:, None]
    k = np.arange(-extent, extent + 1)[None, :]
    inside = (np.abs(k) > half) & (np.abs(k) <= extent - half)  # window clear of 0 and the edge
    # Envelope: mean over exactly one period around each bin (even periods: period + 1 taps
    # with half-weight ends), which cancels any pattern of that period.
    cumulative = np.concatenate([[0.0], np.cumsum(hist)])
    idx = np.arange(size)[None, :]
    lo, hi = np.clip(idx - half, 0, size - 1), np.clip(idx + half, 0, size - 1)
    window = cumulative[hi + 1] - cumulative[lo]
    window -= np.where(periods[:, None] % 2 == 0, 0.5 * (hist[lo] + hist[hi]), 0.0)
    envelope = np.where(inside, window / periods[:, None], 0.0)

    combs = np.ones((len(q1s), int(periods.max())))
    for row, q1 in enumerate(q1s):
        pattern = _comb(int(q1), q2)
        combs[row, : len(pattern)] = pattern
    comb = np.take_along_axis(combs, np.mod(k, periods[:, None]), axis=1)
    counts = np.where(inside, hist[None, :], 0.0)
    total = counts.sum(axis=1)
    usable = (total >= MIN_COEFFICIENTS) & (envelope.sum(axis=1) > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = (counts * np.log(comb)).sum(axis=1) / total
        fit -= np.log((envelope * comb).sum(axis=1) / envelope.sum(axis=1))
    llr.update({int(q): float(v) for q, v, ok in zip(q1s, fit, usable, strict=True) if ok})
    return _Fit(q2, nonzero, llr)


def _normal_cdf_table() -> tuple[np.ndarray, np.ndarray]:
    """Standard normal CDF on a fine grid (Abramowitz & Stegun 7.1.26, error < 2e-7).

    Looked up with np.interp: one C call per comb, and no SciPy import for this analysis.
    """
    x = np.linspace(-8.0, 8.0, 16001)
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                            + t * 1.061405429))))
    return x, 0.5 * (1.0 + np.sign(x) * (1.0 - poly * np.exp(-z * z)))


_CDF_X, _CDF_Y = _normal_cdf_table()


@lru_cache(maxsize=4096)
def _comb(q1: int, q2: int) -> np.ndarray:
    """Relative bin occupancy over one period (mean 1) after quantising with q1, then q2.

    Bin r collects the first-stage values m*q1 that, with the rounding noise of the decode and
    re-encode, round to r (mod the period) under step q2.
    """
    period = q1 // math.gcd(q1, q2)
    r = np.arange(period)[:, None, None]
    m = np.arange(-2, (period + 2) * q2 // q1 + 3)[None, :, None]
    edges = ((r + np.array([0.5, -0.5])) * q2 - m * q1) / NOISE_SIGMA  # (period, m, 2)
    cdf = np.interp(edges, _CDF_X, _CDF_Y)
    occupancy = (cdf[..., 0] - cdf[..., 1]).sum(axis=1)
    occupancy += LEAK * occupancy.sum() / period
    return occupancy * (period / occupancy.sum())


# --------------------------------------------------------------------------------------------
# First quality and the map


def _first_quality(fits: list[_Fit], positions: np.ndarray) -> tuple[int | None, list[int] | None]:
    """The IJG quality whose steps explain the combs best jointly, if it explains most of them.

    Candidates whose step a frequency could not test (too long a period) contribute nothing.
    """
    qualities = np.arange(1, 101)
    table = ijg_tables(qualities)[:, positions]  # (100, 15)
    totals = np.zeros(len(qualities))
    for i, fit in enumerate(fits):
        if fit.weight == 0:
            continue
        totals += fit.weight * np.array([fit.llr.get(int(q1), 0.0) for q1 in table[:, i]])
    ceiling = sum(f.weight * max(f.best_llr, 0.0) for f in fits)
    best = float(totals.max())
    if ceiling <= 0 or best < 0.5 * ceiling:  # not an IJG table (or not readable)
        return None, None
    tied = qualities[totals >= best - 1e-6 * abs(best)]
    quality = int(tied[len(tied) // 2])
    return quality, [int(q) for q in table[quality - 1]]


def _posterior_map(
    quantised: np.ndarray,
    steps: np.ndarray,
    chosen: list[int | None],
    grid: tuple[int, int],
    stride: int,
) -> np.ndarray:
    """Per-block posterior of double compression, averaged over tiles of about 32x32 px."""
    log_odds = np.zeros(quantised.shape[0], dtype=np.float32)
    for i, q1 in enumerate(chosen):
        q2 = int(steps[i])
        if q1 is None or q1 == q2:
            continue
        comb = np.log(_comb(q1, q2)).astype(np.float32)
        values = quantised[:, i]
        ratio = comb[np.mod(values, len(comb))]
        log_odds += np.where(values != 0, ratio, 0.0)  # a zero is expected either way
    posterior = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -30, 30)))
    rows, cols = grid
    per_block = posterior.reshape(rows, cols)
    tile = max(1, round(4 / stride))  # 4 blocks = 32 px at full sampling
    tile = max(tile, math.ceil(max(rows, cols) / 1024))
    tr, tc = rows // tile, cols // tile
    if tr == 0 or tc == 0:
        return per_block.astype(np.float32)
    tiles = per_block[: tr * tile, : tc * tile].reshape(tr, tile, tc, tile).mean(axis=(1, 3))
    return tiles.astype(np.float32)


def _current_quality(luma_table: list[int]) -> str:
    match = estimate_ijg_quality(luma_table)
    return f" at IJG quality {match.quality}" if match.exact else " with custom tables"


# --------------------------------------------------------------------------------------------
# Orientation: the 8x8 grid is the file's, so undo the EXIF rotation the loader applied.


def _exif_orientation(data: bytes) -> int:
    try:
        with Image.open(io.BytesIO(data)) as im:
            value = im.getexif().get(0x0112, 1)
        return int(value) if int(value) in range(1, 9) else 1
    except Exception:  # unreadable EXIF: the loader did not rotate either
        return 1


# What the loader did to show the picture upright, per EXIF orientation (ImageOps.exif_transpose).
_DISPLAY = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
            5: lambda a: a.T, 6: lambda a: np.rot90(a, -1), 7: lambda a: a[::-1, ::-1].T,
            8: lambda a: np.rot90(a, 1)}  # fmt: skip
_UNDO = {6: 8, 8: 6}  # the quarter turns undo each other; the flips and transposes themselves


def _to_display_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    out = _DISPLAY[orientation](pixels) if orientation in _DISPLAY else pixels
    return np.ascontiguousarray(out)


def _to_file_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    return _to_display_orientation(pixels, _UNDO.get(orientation, orientation))
