"""The four generator-like artifacts of the synthetic DEMO dataset, and where they are planted.

Each planter edits ``array[y1:y2, x1:x2]`` (float, H x W x 3) in place and nothing else; the
crops come from photographs bundled with scikit-image. :mod:`trainer.synth` draws samples from
these parts and writes the dataset; see its docstring for what each artifact looks like.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "BOX_MAX_FRACTION",
    "BOX_MIN_FRACTION",
    "KINDS",
    "MAX_SIZE",
    "MIN_SIZE",
    "PLANTERS",
    "SOURCE_PHOTOS",
    "box_dims",
    "box_side_range",
    "clone_tiles",
    "crop",
    "gradient_energy",
    "free_positions",
    "place_box",
    "to_uint8",
    "window_sums",
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

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


@functools.cache
def source_photo(name: str) -> Image.Image:
    from skimage import data

    array = getattr(data, name)()
    if isinstance(array, tuple):  # stereo_motorcycle: (left, right, disparity)
        array = array[0]
    return Image.fromarray(np.asarray(array)).convert("RGB")




def box_side_range(size: int) -> tuple[int, int]:
    """Smallest and largest box side (pixels) for images of ``size`` x ``size``."""
    return math.ceil(BOX_MIN_FRACTION * size), math.floor(BOX_MAX_FRACTION * size)


def to_uint8(array: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(array), 0, 255).astype(np.uint8)


def crop(rng: np.random.Generator, size: int) -> tuple[Image.Image, str]:
    name = SOURCE_PHOTOS[int(rng.integers(len(SOURCE_PHOTOS)))]
    photo = source_photo(name)
    w, h = photo.size
    side = max(8, round(rng.uniform(0.4, 1.0) * min(w, h)))
    x = int(rng.integers(0, w - side + 1))
    y = int(rng.integers(0, h - side + 1))
    crop = photo.resize((size, size), Image.Resampling.LANCZOS, box=(x, y, x + side, y + side))
    if rng.random() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return crop, name


def gradient_energy(array: np.ndarray) -> np.ndarray:
    """Local gradient energy per pixel (luminance), same height and width as ``array``."""
    lum = array[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    gx = np.zeros_like(lum)
    gy = np.zeros_like(lum)
    gx[:, :-1] = np.diff(lum, axis=1)
    gy[:-1, :] = np.diff(lum, axis=0)
    return gx * gx + gy * gy


def window_sums(energy: np.ndarray, w: int, h: int) -> np.ndarray:
    """Sum of ``energy`` over every w x h window; index [y, x] is the window's top-left."""
    integral = np.zeros((energy.shape[0] + 1, energy.shape[1] + 1))
    integral[1:, 1:] = energy.cumsum(0).cumsum(1)
    return integral[h:, w:] - integral[:-h, w:] - integral[h:, :-w] + integral[:-h, :-w]


def free_positions(shape: tuple[int, int], w: int, h: int, boxes: Sequence[Sequence[int]]):
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


def box_dims(rng: np.random.Generator, size: int, kind: str | None) -> tuple[int, int]:
    lo, hi = box_side_range(size)
    if kind != "clone":
        w, h = (int(v) for v in rng.integers(lo, hi + 1, size=2))
        return w, h
    # Clone: the longer side holds two tiles and a one-pixel seam, so it is odd.
    odd = [v for v in range(lo, hi + 1) if v % 2]
    long = odd[int(rng.integers(len(odd)))]
    short = int(rng.integers(lo, long + 1))
    return (long, short) if rng.random() < 0.5 else (short, long)


def place_box(
    rng: np.random.Generator,
    size: int,
    w: int,
    h: int,
    boxes: Sequence[Sequence[int]],
    score: np.ndarray | None = None,
) -> list[int] | None:
    """A free box position: random, or the best ``score`` among a few random candidates."""
    free = free_positions((size - h + 1, size - w + 1), w, h, boxes)
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
    small = Image.fromarray(to_uint8(patch)).resize(
        (math.ceil(w / u), math.ceil(h / u)), Image.Resampling.BOX
    )
    up = np.repeat(np.repeat(np.asarray(small, dtype=np.float64), u, 0), u, 1)[:h, :w]
    yy, xx = np.mgrid[0:h, 0:w]
    sign = np.where(((yy % u) < u / 2) ^ ((xx % u) < u / 2), -1.0, 1.0)[..., None]
    amplitude = rng.uniform(0.15, 0.30)
    # Multiplicative grid, with a floor so that it also shows in dark areas.
    patch[...] = up + amplitude * sign * np.maximum(up, 96.0)


def clone_tiles(box: Sequence[int]) -> tuple[list[int], list[int], tuple[int, int]]:
    """A clone box's two tiles — its longer side split in two around a one-pixel seam — and the
    copy's offset (dx, dy) from the first tile to the second, in the image's pixels."""
    x1, y1, x2, y2 = box
    if x2 - x1 >= y2 - y1:
        tile = (x2 - x1 - 1) // 2
        return [x1, y1, x1 + tile, y2], [x1 + tile + 1, y1, x1 + 2 * tile + 1, y2], (tile + 1, 0)
    tile = (y2 - y1 - 1) // 2
    return [x1, y1, x2, y1 + tile], [x1, y1 + tile + 1, x2, y1 + 2 * tile + 1], (0, tile + 1)


def _clone(rng, array, box, scale, grey) -> None:
    x1, y1, x2, y2 = box
    patch = array[y1:y2, x1:x2]
    _, _, (dx, dy) = clone_tiles(box)
    vertical_split = dx > 0  # the tiles side by side
    view = patch if vertical_split else patch.transpose(1, 0, 2)
    tile = max(dx, dy) - 1  # the copy sits one tile and the seam further on
    left, right = view[:, :tile], view[:, tile + 1 : 2 * tile + 1]
    if rng.random() < 0.5:
        right[...] = left
    else:
        left[...] = right
    seam = 0.5 * (view[:, tile - 1] + view[:, tile + 1])
    shade = rng.choice([-1.0, 1.0]) * rng.uniform(0.06, 0.12)
    view[:, tile] = seam * (1.0 + shade) + 6.0 * np.sign(shade)
    if view.shape[1] > 2 * tile + 1:  # even side (cannot happen with box_dims): last column
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


PLANTERS: dict[str, Callable[..., None]] = {
    "checkerboard": _checkerboard,
    "clone": _clone,
    "smeared_text": _smeared_text,
    "broken_repetition": _broken_repetition,
}
