"""A small synthetic forensic DEMO dataset: generator-like artifacts planted in real photographs.

The photographs are the public-domain / CC0 images that scikit-image ships inside its wheel
(``skimage.data``: astronaut, coffee, chelsea, rocket, coins, moon, brick, grass, …; nothing is
downloaded). Every sample is a random square crop of one of them (40-100 % of the shorter side,
random position, random horizontal flip), resized to ``size`` x ``size`` with a Lanczos filter.

* **real** samples are the untouched crop. Their 1-2 boxes mark the windows of highest local
  gradient energy ("natural fine detail"), tag None.
* **ai-generated** samples get 1-2 non-overlapping artifacts, each confined to its box (side
  20-40 % of ``size``), so that a close-up of the box shows all of its evidence:

  ``checkerboard`` (tag texture)
      the box content block-averaged and re-upsampled with nearest neighbour, times a periodic
      ±15-30 % checkerboard of period 2-4 px: the grid a transposed convolution leaves.
  ``clone`` (tag texture)
      one half of the box is an exact copy of the other half, with a faint one-pixel seam.
  ``smeared_text`` (tag other)
      gibberish letters on a light patch, wave-warped and motion-blurred like generator text.
  ``broken_repetition`` (tag structure)
      a regular motif (stripes, bricks or dots) tiled over the box with some tiles shifted,
      distorted or missing.

This is a DEMO task for training and testing the pipeline on a CPU, not real forensic data: a
model that learns it has learnt these four planted artifacts, nothing about real generators.

Everything is PNG (no compression difference between the classes) and deterministic: the same
arguments give byte-identical files. Sample ``i`` of a dataset is
``make_sample(sample_rng(seed, i), size, label)`` with ``label`` from :func:`labels_for`.

Public API: :func:`generate`, :func:`make_sample` (returns a :class:`Sample` with the clean crop,
the planted image and the record fields), :func:`sample_rng`, :func:`labels_for`,
:func:`register` (the ``lte-train synth`` subcommand), :data:`KINDS`, :data:`SOURCE_PHOTOS`.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from inspector.core.protocol import AI_GENERATED, REAL
from trainer.records import Record, Region, write_records

__all__ = [
    "KINDS",
    "SOURCE_PHOTOS",
    "Sample",
    "box_side_range",
    "generate",
    "labels_for",
    "make_sample",
    "register",
    "sample_rng",
]

KINDS: tuple[str, ...] = ("checkerboard", "clone", "smeared_text", "broken_repetition")

# scikit-image data images bundled in the wheel (load without pooch or a network). Photographs
# and micrographs only: no synthetic test patterns (checkerboard, colorwheel, logo, phantom).
SOURCE_PHOTOS: tuple[str, ...] = (
    "astronaut",
    "brick",
    "camera",
    "cell",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "page",
    "retina",
    "rocket",
    "stereo_motorcycle",
    "text",
)

MIN_SIZE, MAX_SIZE = 112, 1024
BOX_MIN_FRACTION, BOX_MAX_FRACTION = 0.20, 0.40
_GAP = 2  # pixels kept free between two boxes of one sample

_TAGS: dict[str, str] = {
    "checkerboard": "texture",
    "clone": "texture",
    "smeared_text": "other",
    "broken_repetition": "structure",
}
_CAPTIONS: dict[str, tuple[str, ...]] = {
    "checkerboard": ("checkerboard texture", "upsampling grid"),
    "clone": ("cloned patch", "repeated patch"),
    "smeared_text": ("smeared text", "garbled lettering"),
    "broken_repetition": ("broken pattern", "irregular repetition"),
}
_REAL_CAPTIONS = ("natural fine detail", "consistent texture", "sharp edge detail")
_CLAUSES: dict[str, tuple[str, ...]] = {
    "checkerboard": (
        "the texture shows a regular checkerboard grid left by upsampling",
        "a fine periodic grid from upsampling covers one area",
    ),
    "clone": (
        "a patch is repeated exactly next to itself",
        "one area is an exact copy of its neighbour",
    ),
    "smeared_text": (
        "the lettering is smeared gibberish, not readable text",
        "the text is warped and unreadable",
    ),
    "broken_repetition": (
        "a repeating pattern breaks its rhythm with shifted and missing tiles",
        "a regular motif has misplaced, distorted and missing elements",
    ),
}
_AI_ENDINGS = ("", " These are generator artifacts, not camera traits.")
_REAL_EXPLANATIONS = (
    "Edges, noise and fine texture are consistent across the image, as in a camera photograph.",
    "The fine detail is sharp and natural, with no repeated patches, grids or warped text.",
    "Texture and lighting are coherent throughout, and nothing shows generator artifacts.",
)

# Salts keep the label order and the samples on independent random streams.
_SALT_ORDER, _SALT_SAMPLE = 0x0D5E, 0x5A3E


@dataclass
class Sample:
    """One generated sample.

    ``clean`` is the untouched crop; ``image`` is what gets written (the same pixels for a real
    sample, ``clean`` with the planted artifacts for an AI-generated one). ``kinds`` lists the
    artifact kind of each region (empty for real samples); ``photo`` names the source photo.
    """

    clean: Image.Image
    image: Image.Image
    label: str
    regions: list[Region]
    explanation: str
    source: str
    kinds: list[str] = field(default_factory=list)
    photo: str = ""


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


@functools.cache
def _photo(name: str) -> Image.Image:
    from skimage import data

    array = getattr(data, name)()
    if isinstance(array, tuple):  # stereo_motorcycle: (left, right, disparity)
        array = array[0]
    return Image.fromarray(np.asarray(array)).convert("RGB")


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of sample ``index`` of a dataset made with ``seed``."""
    return np.random.default_rng([_SALT_SAMPLE, seed, index])


def labels_for(count: int, seed: int, ai_fraction: float = 0.5) -> list[str]:
    """The label of each sample: exactly ``round(count * ai_fraction)`` AI-generated, shuffled."""
    n_ai = round(count * ai_fraction)
    labels = [AI_GENERATED] * n_ai + [REAL] * (count - n_ai)
    order = np.random.default_rng([_SALT_ORDER, seed]).permutation(count)
    return [labels[i] for i in order]


def box_side_range(size: int) -> tuple[int, int]:
    """Smallest and largest box side (pixels) for images of ``size`` x ``size``."""
    return math.ceil(BOX_MIN_FRACTION * size), math.floor(BOX_MAX_FRACTION * size)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(array), 0, 255).astype(np.uint8)


def _crop(rng: np.random.Generator, size: int) -> tuple[Image.Image, str]:
    name = SOURCE_PHOTOS[int(rng.integers(len(SOURCE_PHOTOS)))]
    photo = _photo(name)
    w, h = photo.size
    side = max(8, round(rng.uniform(0.4, 1.0) * min(w, h)))
    x = int(rng.integers(0, w - side + 1))
    y = int(rng.integers(0, h - side + 1))
    crop = photo.resize((size, size), Image.Resampling.LANCZOS, box=(x, y, x + side, y + side))
    if rng.random() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return crop, name


def _energy(array: np.ndarray) -> np.ndarray:
    """Local gradient energy per pixel (luminance), same height and width as ``array``."""
    lum = array[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    gx = np.zeros_like(lum)
    gy = np.zeros_like(lum)
    gx[:, :-1] = np.diff(lum, axis=1)
    gy[:-1, :] = np.diff(lum, axis=0)
    return gx * gx + gy * gy


def _window_sums(energy: np.ndarray, w: int, h: int) -> np.ndarray:
    """Sum of ``energy`` over every w x h window; index [y, x] is the window's top-left."""
    integral = np.zeros((energy.shape[0] + 1, energy.shape[1] + 1))
    integral[1:, 1:] = energy.cumsum(0).cumsum(1)
    return integral[h:, w:] - integral[:-h, w:] - integral[h:, :-w] + integral[:-h, :-w]


def _free_positions(shape: tuple[int, int], w: int, h: int, boxes: Sequence[Sequence[int]]):
    """Boolean map of top-left corners (y, x) where a w x h box keeps _GAP from ``boxes``."""
    ys = np.arange(shape[0])[:, None]
    xs = np.arange(shape[1])[None, :]
    free = np.ones(shape, dtype=bool)
    for x1, y1, x2, y2 in boxes:
        apart = (
            (xs + w + _GAP <= x1) | (xs >= x2 + _GAP) | (ys + h + _GAP <= y1) | (ys >= y2 + _GAP)
        )
        free &= apart
    return free


def _box_dims(rng: np.random.Generator, size: int, kind: str | None) -> tuple[int, int]:
    lo, hi = box_side_range(size)
    if kind != "clone":
        w, h = (int(v) for v in rng.integers(lo, hi + 1, size=2))
        return w, h
    # Clone: the longer side holds two tiles and a one-pixel seam, so it is odd.
    odd = [v for v in range(lo, hi + 1) if v % 2]
    long = odd[int(rng.integers(len(odd)))]
    short = int(rng.integers(lo, long + 1))
    return (long, short) if rng.random() < 0.5 else (short, long)


def _place(
    rng: np.random.Generator,
    size: int,
    w: int,
    h: int,
    boxes: Sequence[Sequence[int]],
    score: np.ndarray | None = None,
) -> list[int] | None:
    """A free box position: random, or the best ``score`` among a few random candidates."""
    free = _free_positions((size - h + 1, size - w + 1), w, h, boxes)
    ys, xs = np.nonzero(free)
    if len(ys) == 0:
        return None
    if score is None:
        i = int(rng.integers(len(ys)))
    else:
        candidates = rng.integers(len(ys), size=min(12, len(ys)))
        i = int(candidates[np.argmax(score[ys[candidates], xs[candidates]])])
    x, y = int(xs[i]), int(ys[i])
    return [x, y, x + w, y + h]


def _edge_ramp(h: int, w: int, width: float) -> np.ndarray:
    """1 inside, falling to ~0 at the box border over ``width`` pixels (feathered composite)."""
    dy = np.minimum(np.arange(h), np.arange(h)[::-1])[:, None] + 0.5
    dx = np.minimum(np.arange(w), np.arange(w)[::-1])[None, :] + 0.5
    return np.clip(np.minimum(dx, dy) / max(width, 1.0), 0.0, 1.0)


def _colour(rng: np.random.Generator, level: float, grey: bool, tint: float = 10.0) -> np.ndarray:
    if grey:
        return np.full(3, level)
    return np.clip(level + rng.uniform(-tint, tint, size=3), 0, 255)


# --------------------------------------------------------------------------------------------
# Artifacts: each edits array[y1:y2, x1:x2] (float, H x W x 3) in place and nothing else
# --------------------------------------------------------------------------------------------


def _checkerboard(rng, array, box, scale, grey) -> None:
    x1, y1, x2, y2 = box
    patch = array[y1:y2, x1:x2]
    h, w = patch.shape[:2]
    u = max(2, round(int(rng.integers(2, 5)) * scale))  # upsampling factor = grid period
    small = Image.fromarray(_to_uint8(patch)).resize(
        (math.ceil(w / u), math.ceil(h / u)), Image.Resampling.BOX
    )
    up = np.repeat(np.repeat(np.asarray(small, dtype=np.float64), u, 0), u, 1)[:h, :w]
    yy, xx = np.mgrid[0:h, 0:w]
    sign = np.where(((yy % u) < u / 2) ^ ((xx % u) < u / 2), -1.0, 1.0)[..., None]
    amplitude = rng.uniform(0.15, 0.30)
    # Multiplicative grid, with a floor so that it also shows in dark areas.
    patch[...] = up + amplitude * sign * np.maximum(up, 96.0)


def _clone(rng, array, box, scale, grey) -> None:
    x1, y1, x2, y2 = box
    patch = array[y1:y2, x1:x2]
    h, w = patch.shape[:2]
    vertical_split = w >= h  # split the longer side: two tiles side by side
    view = patch if vertical_split else patch.transpose(1, 0, 2)
    tile = (view.shape[1] - 1) // 2
    left, right = view[:, :tile], view[:, tile + 1 : 2 * tile + 1]
    if rng.random() < 0.5:
        right[...] = left
    else:
        left[...] = right
    seam = 0.5 * (view[:, tile - 1] + view[:, tile + 1])
    shade = rng.choice([-1.0, 1.0]) * rng.uniform(0.06, 0.12)
    view[:, tile] = seam * (1.0 + shade) + 6.0 * np.sign(shade)
    if view.shape[1] > 2 * tile + 1:  # even side (cannot happen with _box_dims): last column
        view[:, 2 * tile + 1 :] = view[:, 2 * tile : 2 * tile + 1]


_LETTERS = "abcdefghijklmnopqrstuvwxyzaeiouaeonrstlABCDEFGHKMNPRSTW"


def _gibberish(rng: np.random.Generator, n_chars: int) -> str:
    words: list[str] = []
    while sum(len(word) + 1 for word in words) < n_chars:
        length = int(rng.integers(2, 8))
        words.append("".join(_LETTERS[int(i)] for i in rng.integers(len(_LETTERS), size=length)))
    text = " ".join(words)
    return text[0].upper() + text[1:]


def _smeared_text(rng, array, box, scale, grey) -> None:
    from scipy import ndimage

    x1, y1, x2, y2 = box
    patch = array[y1:y2, x1:x2]
    h, w = patch.shape[:2]
    margin = max(2, round(0.07 * min(w, h)))
    font_px = max(8, round(rng.uniform(10.0, 15.0) * scale))
    font = ImageFont.load_default(size=font_px)
    ink = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(ink)
    line = round(font_px * rng.uniform(1.15, 1.4))
    y = margin + round(0.2 * font_px)
    while y + font_px <= h - margin:
        indent = margin + int(rng.integers(1, max(2, font_px // 2)))
        draw.text((indent, y), _gibberish(rng, 2 * w // font_px + 2), fill=255, font=font)
        y += line
    if y == margin + round(0.2 * font_px):  # box too flat for a full line: one line anyway
        draw.text((margin + 1, margin), _gibberish(rng, w // 4), fill=255, font=font)
    mask = np.asarray(ink, dtype=np.float64) / 255.0
    # Wave warp: rows shift sideways, columns shift up and down.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    ax, ay = rng.uniform(1.0, 2.2) * scale, rng.uniform(0.6, 1.6) * scale
    lx, ly = rng.uniform(9, 20) * scale, rng.uniform(12, 30) * scale
    px, py = rng.uniform(0, 2 * math.pi, size=2)
    shear = rng.uniform(-0.25, 0.25)  # italic-like slant
    sx = xx + ax * np.sin(2 * math.pi * yy / lx + px) + shear * (yy - h / 2)
    sy = yy + ay * np.sin(2 * math.pi * xx / ly + py)
    mask = ndimage.map_coordinates(mask, [sy, sx], order=1, mode="constant")
    # Horizontal motion blur, then a little isotropic softening.
    length = max(3, round(rng.uniform(4.0, 7.0) * scale))
    mask = ndimage.uniform_filter1d(mask, size=length, axis=1)
    mask = ndimage.gaussian_filter(mask, 0.5 * scale)
    mask = np.clip(mask * rng.uniform(1.6, 2.2), 0.0, 1.0)
    # Light patch (inset, feathered), then the ink; both confined to the inset rectangle.
    paper_alpha = np.zeros((h, w))
    paper_alpha[margin : h - margin, margin : w - margin] = 1.0
    paper_alpha = ndimage.gaussian_filter(paper_alpha, 0.8) * _edge_ramp(h, w, 1.5)
    mask *= paper_alpha
    paper = _colour(rng, rng.uniform(212, 242), grey, 8.0)
    paper_texture = rng.normal(0.0, 2.5, size=(h, w, 1))
    ink_colour = _colour(rng, rng.uniform(20, 75), grey, 15.0)
    strength = rng.uniform(0.85, 0.97)
    a = paper_alpha[..., None] * strength
    out = patch * (1 - a) + (paper + paper_texture) * a
    m = mask[..., None] * rng.uniform(0.8, 0.95)
    patch[...] = out * (1 - m) + ink_colour * m


def _broken_repetition(rng, array, box, scale, grey) -> None:
    x1, y1, x2, y2 = box
    patch = array[y1:y2, x1:x2]
    h, w = patch.shape[:2]
    motif = ("stripes", "bricks", "dots")[int(rng.integers(3))]
    ss = 4  # supersampling for anti-aliased shapes
    p = rng.uniform(9.0, 14.0) * scale * ss  # period (supersampled pixels)
    canvas = Image.new("L", (w * ss, h * ss), 0)
    draw = ImageDraw.Draw(canvas)
    cols = rows = math.ceil(max(w, h) * ss / p) + 2  # square grid: stripes may be transposed
    n_tiles = cols * rows
    broken = set(rng.choice(n_tiles, size=max(3, round(n_tiles * rng.uniform(0.12, 0.25))),
                            replace=False).tolist())
    vertical = rng.random() < 0.5
    for r in range(rows):
        for c in range(cols):
            t = r * cols + c
            state = int(rng.integers(3)) if t in broken else -1  # 0 missing, 1 shift, 2 distort
            if state == 0:
                continue
            dx = dy = 0.0
            k = 1.0
            if state == 1:
                dx, dy = rng.uniform(0.25, 0.5, size=2) * p * rng.choice([-1, 1], size=2)
            elif state == 2:
                k = rng.choice([rng.uniform(0.4, 0.65), rng.uniform(1.35, 1.7)])
            if motif == "dots":
                cx, cy = (c + 0.5) * p + dx, (r + 0.5) * p + dy
                rx, ry = 0.28 * p * k, 0.28 * p * (1 / k if state == 2 else 1.0)
                draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=255)
            elif motif == "bricks":
                bw, bh, mortar = 2 * p, p, 0.2 * p
                ox = (r % 2) * p + c * bw - p + dx
                oy = r * bh + dy
                bhk = bh * (k if state == 2 else 1.0)
                if c * bw - p > w * ss + bw:
                    continue
                draw.rectangle([ox + mortar / 2, oy + mortar / 2, ox + bw - mortar / 2,
                                oy + bhk - mortar / 2], fill=255)
            else:  # stripes: one bar segment per tile, the bars run across the whole box
                half = 0.24 * p * k
                cx = (c + 0.5) * p + dx
                top, bottom = r * p, (r + 1) * p + 1
                if state == 2:  # slanted segment
                    slant = 0.4 * p * rng.choice([-1, 1])
                    poly = [(cx - half, top), (cx + half, top),
                            (cx + half + slant, bottom), (cx - half + slant, bottom)]
                else:
                    poly = [(cx - half, top), (cx + half, top), (cx + half, bottom),
                            (cx - half, bottom)]
                if not vertical:
                    poly = [(yv, xv) for xv, yv in poly]
                draw.polygon(poly, fill=255)
    mask = np.asarray(canvas.resize((w, h), Image.Resampling.BOX), dtype=np.float64) / 255.0
    lum = float(np.mean(patch @ np.array([0.299, 0.587, 0.114])))
    level = rng.uniform(20, 60) if lum > 115 else rng.uniform(200, 240)
    colour = _colour(rng, level, grey, 20.0)
    ramp = _edge_ramp(h, w, 2.5)[..., None]
    flatten = rng.uniform(0.3, 0.5) * ramp  # the surface the motif is painted on
    mean = patch.reshape(-1, 3).mean(0)
    base = patch * (1 - flatten) + mean * flatten
    alpha = mask[..., None] * rng.uniform(0.7, 0.9) * ramp
    patch[...] = base * (1 - alpha) + colour * alpha


_PLANTERS: dict[str, Callable[..., None]] = {
    "checkerboard": _checkerboard,
    "clone": _clone,
    "smeared_text": _smeared_text,
    "broken_repetition": _broken_repetition,
}


# --------------------------------------------------------------------------------------------
# Samples
# --------------------------------------------------------------------------------------------


def _ai_explanation(rng: np.random.Generator, kinds: Sequence[str]) -> str:
    clauses = [_CLAUSES[k][int(rng.integers(len(_CLAUSES[k])))] for k in dict.fromkeys(kinds)]
    text = ", and ".join(clauses)
    ending = _AI_ENDINGS[int(rng.integers(len(_AI_ENDINGS)))] if len(clauses) == 1 else ""
    return text[0].upper() + text[1:] + "." + ending


def make_sample(
    rng: np.random.Generator,
    size: int = 224,
    label: str = AI_GENERATED,
    kinds: Sequence[str] | None = None,
) -> Sample:
    """One sample drawn from ``rng``: the clean crop, the image to write and its record fields.

    ``kinds`` (AI-generated only) forces the artifact kinds, one or two of :data:`KINDS`; by
    default 1 or 2 distinct kinds are drawn. A second artifact that finds no free place is left
    out (so ``Sample.kinds`` may be shorter than ``kinds``).
    """
    if label not in (REAL, AI_GENERATED):
        raise ValueError(f"label must be {REAL!r} or {AI_GENERATED!r}, got {label!r}")
    if kinds is not None:
        kinds = list(kinds)
        if label != AI_GENERATED or not 1 <= len(kinds) <= 2 or set(kinds) - set(KINDS):
            raise ValueError(f"kinds must be 1 or 2 of {', '.join(KINDS)} (ai-generated only)")
    clean, photo = _crop(rng, size)
    clean_array = np.asarray(clean)
    energy = _energy(clean_array)
    boxes: list[list[int]] = []
    regions: list[Region] = []

    if label == REAL:
        captions = [_REAL_CAPTIONS[int(i)] for i in rng.permutation(len(_REAL_CAPTIONS))]
        for caption in captions[: int(rng.integers(1, 3))]:
            w, h = _box_dims(rng, size, None)
            sums = _window_sums(energy, w, h)
            sums = np.where(_free_positions(sums.shape, w, h, boxes), sums, -1.0)
            y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
            if sums[y, x] < 0:
                break
            boxes.append([int(x), int(y), int(x) + w, int(y) + h])
            regions.append(Region(box=list(boxes[-1]), caption=caption, tag=None))
        explanation = _REAL_EXPLANATIONS[int(rng.integers(len(_REAL_EXPLANATIONS)))]
        return Sample(clean, clean.copy(), REAL, regions, explanation, "synth-photo", [], photo)

    if kinds is None:
        n = int(rng.integers(1, 3))
        kinds = [KINDS[int(i)] for i in rng.choice(len(KINDS), size=n, replace=False)]
    grey = bool(np.array_equal(clean_array[..., 0], clean_array[..., 1])
                and np.array_equal(clean_array[..., 1], clean_array[..., 2]))
    array = clean_array.astype(np.float64)
    scale = size / 224.0
    planted: list[str] = []
    for kind in kinds:
        w, h = _box_dims(rng, size, kind)
        score = None
        if kind == "clone":  # clone textured content, or the copy would not show
            score = _window_sums(energy, w, h)
        box = _place(rng, size, w, h, boxes, score)
        if box is None:
            continue
        _PLANTERS[kind](rng, array, box, scale, grey)
        boxes.append(box)
        planted.append(kind)
        caption = _CAPTIONS[kind][int(rng.integers(len(_CAPTIONS[kind])))]
        regions.append(Region(box=list(box), caption=caption, tag=_TAGS[kind]))
    image = Image.fromarray(_to_uint8(array))
    explanation = _ai_explanation(rng, planted)
    return Sample(
        clean, image, AI_GENERATED, regions, explanation, f"synth-{planted[0]}", planted, photo
    )


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)  # as small as 6 here, twice as fast
    return buffer.getvalue()


def _check_arguments(count: int, seed: int, size: int, ai_fraction: float) -> None:
    def is_int(v: object) -> bool:
        return isinstance(v, int | np.integer) and not isinstance(v, bool)

    if not is_int(count) or count < 1:
        raise ValueError(f"count must be an integer of at least 1, got {count!r}")
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not is_int(size) or not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be an integer from {MIN_SIZE} to {MAX_SIZE} pixels, "
                         f"got {size!r}")
    if (
        isinstance(ai_fraction, bool)
        or not isinstance(ai_fraction, int | float)
        or not 0.0 <= ai_fraction <= 1.0
    ):
        raise ValueError(f"ai_fraction must be a number from 0 to 1, got {ai_fraction!r}")


def generate(
    out_dir: Path,
    count: int,
    seed: int,
    size: int = 224,
    ai_fraction: float = 0.5,
    on_progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``count`` samples to ``out_dir/images/NNNNN.png`` and ``out_dir/records.jsonl``.

    Exactly ``round(count * ai_fraction)`` samples are AI-generated, the rest real, in an order
    shuffled with ``seed``. Image paths in the records are relative to ``out_dir``. Existing
    files of the same names are replaced (other files in ``out_dir`` are left alone); the
    records file is written last, atomically. ``on_progress(done, count)`` is called after each
    image. Returns the records path. Raises ValueError for bad arguments.
    """
    _check_arguments(count, seed, size, ai_fraction)
    out_dir = Path(out_dir)
    image_dir = out_dir / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    digits = max(5, len(str(count - 1)))
    records: list[Record] = []
    for index, label in enumerate(labels_for(count, seed, ai_fraction)):
        sample = make_sample(sample_rng(seed, index), size, label)
        data = _png_bytes(sample.image)
        name = f"images/{index:0{digits}d}.png"
        (out_dir / name).write_bytes(data)
        records.append(
            Record(
                image=name,
                sha256=hashlib.sha256(data).hexdigest(),
                width=size,
                height=size,
                label=sample.label,
                explanation=sample.explanation,
                regions=sample.regions,
                source=sample.source,
            )
        )
        if on_progress is not None:
            on_progress(index + 1, count)
    path = out_dir / "records.jsonl"
    write_records(path, records)
    return path


# --------------------------------------------------------------------------------------------
# Command line: lte-train synth
# --------------------------------------------------------------------------------------------


def _whole_number(minimum: int, bound: str):
    """An argparse type: an integer >= ``minimum`` (``bound`` says so in the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    return parse


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``synth`` subcommand to lte-train's subparsers; returns its parser."""
    lo, hi = box_side_range(224)
    p = subparsers.add_parser(
        "synth",
        help="make a small synthetic DEMO dataset (planted artifacts in bundled photos)",
        description="Make a small synthetic forensic DEMO dataset for trying the trainer on a "
        "CPU: OUT_DIR/images/NNNNN.png and OUT_DIR/records.jsonl (one training record per "
        "image). Each image is a random crop of a real photograph that scikit-image ships "
        "(astronaut, coffee, coins, moon, brick, ...; nothing is downloaded), resized to SIZE x "
        "SIZE. 'real' images are the untouched crop; their boxes mark natural fine detail. "
        "'ai-generated' images get 1-2 planted generator-like artifacts, each inside its box: "
        "an upsampling checkerboard grid, a cloned patch, smeared gibberish text, or a "
        "repeating motif with shifted and missing tiles. Records carry a label, a templated "
        "explanation, the boxes (with caption and tag) and a source (synth-photo, "
        "synth-checkerboard, synth-clone, synth-smeared_text, synth-broken_repetition). This "
        "is NOT real forensic data: a model trained on it only learns these planted "
        "artifacts. The same arguments always give byte-identical files.",
        epilog=f"Boxes have sides of 20-40%% of SIZE ({lo}-{hi} px at 224). Example: lte-train "
        "synth data/synth --count 400 --seed 0 && lte-train split data/synth/records.jsonl "
        "--out-dir data/synth/splits",
    )
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR",
                   help="folder to write (created if missing; files of the same names are "
                   "replaced)")
    p.add_argument("--count", type=_whole_number(1, "at least 1"), required=True, metavar="N",
                   help="number of images to make")
    p.add_argument("--seed", type=_whole_number(0, "0 or more"), required=True, metavar="S",
                   help="random seed; the same seed and options give the same dataset")
    p.add_argument("--size", type=int, default=224, metavar="PX",
                   help=f"side of the square images in pixels, {MIN_SIZE}-{MAX_SIZE} "
                   "(default 224)")
    p.add_argument("--ai-fraction", type=float, default=0.5, metavar="F",
                   help="share of ai-generated images, 0-1; exactly round(N*F) of them "
                   "(default 0.5)")
    p.set_defaults(func=_cmd_synth)
    return p


def _cmd_synth(args: argparse.Namespace) -> int:
    started = time.monotonic()
    last_decile = [0]

    def progress(done: int, total: int) -> None:
        decile = done * 10 // total
        if decile != last_decile[0]:
            last_decile[0] = decile
            print(f"[synth] {done}/{total} images ({done * 100 // total}%)", file=sys.stderr,
                  flush=True)

    try:
        path = generate(args.out_dir, args.count, args.seed, size=args.size,
                        ai_fraction=args.ai_fraction, on_progress=progress)
    except ValueError as exc:
        print(f"lte-train synth: error: {exc}", file=sys.stderr)
        return 1
    from trainer.records import read_records

    records = read_records(path)
    labels = Counter(r.label for r in records)
    sources = Counter((r.source, r.label) for r in records)
    regions = sum(len(r.regions) for r in records)
    path = path.resolve()
    print(
        f"Wrote {len(records)} synthetic DEMO samples ({labels[REAL]} real, "
        f"{labels[AI_GENERATED]} ai-generated, {regions} regions; {args.size}x{args.size} PNG, "
        f"seed {args.seed}) in {time.monotonic() - started:.1f} s"
    )
    print(f"  records: {path}")
    print(f"  images:  {path.parent / 'images'}")
    for (source, label), n in sorted(sources.items()):
        print(f"  {source:<26} {label:<13} {n:>6}")
    print("  planted artifacts in bundled photos: a demo task, not real forensic data")
    return 0
