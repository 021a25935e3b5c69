"""Boxes, the Qwen resize rule and per-family coordinate spaces.

Every box the application stores is in ORIGINAL-image pixels ``(x1, y1, x2, y2)``, ordered and
clamped. Model coordinates exist only at the model boundary: a :class:`CoordinateSpace` converts
in both directions, so the app (parsing answers) and the trainer (building targets) use exactly the
same arithmetic. Pure Python: no Qt, torch or transformers here.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

# Pixels per vision token: Qwen2.5-VL 28 x 28 (patch 14 x merge 2), Qwen3-VL 32 x 32 (16 x 2).
QWEN25_TOKEN_PIXELS = 28 * 28
QWEN3_TOKEN_PIXELS = 32 * 32
# The Qwen2.5-VL processor's own resize bounds in transformers, used when none are pinned.
PROCESSOR_MIN_PIXELS = 56 * 56
PROCESSOR_MAX_PIXELS = 1280 * QWEN25_TOKEN_PIXELS

__all__ = [
    "Box",
    "CoordinateSpace",
    "Qwen25PixelSpace",
    "Qwen3RelativeSpace",
    "SUPPORTED_MODEL_TYPES",
    "clamp_box",
    "coordinate_space_for",
    "iou",
    "overlap_fraction",
    "select_regions",
    "smart_resize",
]

# Qwen's vision processors refuse images more elongated than this (see smart_resize).
MAX_ASPECT_RATIO = 200

# select_regions: a box at least this much inside another box of similar size is a duplicate even
# when their IoU is below the threshold (e.g. a tight and a loose box around the same hand).
_CONTAINMENT = 0.9
_SIMILAR_AREA_RATIO = 0.5


def _is_finite_number(value: object) -> bool:
    """True for real, finite numbers (bool excluded: ``True`` is not a coordinate)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(float(value))
    except (OverflowError, ValueError, TypeError):
        return False


def _as_list(seq: object) -> list[object] | None:
    """A list of the items of a list/tuple/array-like; None for text, mappings and scalars."""
    if isinstance(seq, (str, bytes, bytearray, Mapping)) or not isinstance(seq, Iterable):
        return None
    try:
        return list(seq)
    except TypeError:  # e.g. a 0-d numpy array
        return None


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in original-image pixels.

    The constructor does not reorder or clamp (use :func:`clamp_box` for that); boxes produced by
    ``clamp_box`` and ``CoordinateSpace.from_model`` are always ordered and inside the image.
    """

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        """Area, 0 for an inverted or empty box (so IoU never goes negative)."""
        return max(0.0, self.width) * max(0.0, self.height)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)

    def to_list(self) -> list[float]:
        """JSON-friendly ``[x1, y1, x2, y2]``; 2 decimals is far below a pixel's precision."""
        return [round(float(v), 2) for v in (self.x1, self.y1, self.x2, self.y2)]

    @classmethod
    def from_list(cls, seq: Sequence[float]) -> Box:
        """Build a box from ``[x1, y1, x2, y2]``; raise ValueError unless 4 finite numbers."""
        items = _as_list(seq)
        if items is None:
            raise ValueError(
                f"a box must be a sequence of 4 numbers [x1, y1, x2, y2], got {type(seq).__name__}"
            )
        seq = items
        if len(seq) != 4:
            raise ValueError(f"a box must have exactly 4 numbers [x1, y1, x2, y2], got {len(seq)}")
        bad = [v for v in seq if not _is_finite_number(v)]
        if bad:
            raise ValueError(f"box coordinates must be finite numbers, got {list(seq)!r}")
        x1, y1, x2, y2 = (float(v) for v in seq)
        return cls(x1, y1, x2, y2)


def clamp_box(box: Box, width: int, height: int, min_side: float = 1.0) -> Box | None:
    """Order the corners and clamp into ``[0, width] x [0, height]``.

    Returns None when a coordinate is not finite or the clamped box is thinner than ``min_side``
    in either direction: such a box cannot be drawn or cropped meaningfully.
    """
    coords = (box.x1, box.y1, box.x2, box.y2)
    if not all(_is_finite_number(v) for v in coords):
        return None
    x1, x2 = sorted((float(box.x1), float(box.x2)))
    y1, y2 = sorted((float(box.y1), float(box.y2)))
    x1, x2 = min(max(x1, 0.0), width), min(max(x2, 0.0), width)
    y1, y2 = min(max(y1, 0.0), height), min(max(y2, 0.0), height)
    if x2 - x1 < min_side or y2 - y1 < min_side or x2 - x1 <= 0 or y2 - y1 <= 0:
        return None
    return Box(x1, y1, x2, y2)


def iou(a: Box, b: Box) -> float:
    """Intersection over union; 0.0 when the boxes do not overlap or are empty."""
    inter = _intersection_area(a, b)
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def overlap_fraction(a: Box, b: Box) -> float:
    """The share of the smaller box that the other covers (1.0: one holds the other)."""
    smaller = min(a.area, b.area)
    return _intersection_area(a, b) / smaller if smaller > 0 else 0.0


def _intersection_area(a: Box, b: Box) -> float:
    w = min(a.x2, b.x2) - max(a.x1, b.x1)
    h = min(a.y2, b.y2) - max(a.y1, b.y1)
    return w * h if w > 0 and h > 0 else 0.0


def smart_resize(
    height: int,
    width: int,
    factor: int = 28,
    min_pixels: int = PROCESSOR_MIN_PIXELS,
    max_pixels: int = PROCESSOR_MAX_PIXELS,
) -> tuple[int, int]:
    """Return ``(height, width)`` exactly as transformers' Qwen2-VL ``smart_resize`` does.

    Mirrored (not imported) so core stays free of transformers; a test compares the two. The
    model's absolute coordinates live in this resized image, so any drift here moves every box.
    Raises ValueError for non-positive sizes (transformers would raise ZeroDivisionError) and,
    like transformers, for aspect ratios above 200.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got height={height}, width={width}")
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise ValueError(
            f"absolute aspect ratio must be smaller than {MAX_ASPECT_RATIO}, "
            f"got {max(height, width) / min(height, width)}"
        )
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


@runtime_checkable
class CoordinateSpace(Protocol):
    """How one model family reads and writes boxes.

    ``image_size`` is always ``(width, height)`` of the ORIGINAL image.
    """

    name: str
    max_pixels: int  # the processor's resize bound (any image, close-ups too)

    def to_model(self, box: Box, image_size: tuple[int, int]) -> list[int]:
        """Original-pixel box -> integer model coordinates inside the model space."""
        ...

    def vision_tokens(self, image_size: tuple[int, int]) -> int:
        """Vision tokens the language model reads for an image of this size."""
        ...

    def from_model(self, values: Sequence[float], image_size: tuple[int, int]) -> Box | None:
        """Model coordinates -> ordered, clamped original-pixel box; None if unusable.

        Never raises: model output is untrusted text.
        """
        ...


def _check_image_size(image_size: tuple[int, int]) -> tuple[int, int]:
    width, height = image_size
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive (width, height), got {image_size!r}")
    return int(width), int(height)


def _to_units(lo: float, hi: float, per_px: float, limit: int) -> tuple[int, int]:
    """Map one axis to integer model units, never collapsing a box to zero width.

    Rounding keeps each edge within half a unit; when both edges round to the same unit the box
    is given one unit around its centre, which keeps each edge within one unit.
    """
    if not (_is_finite_number(lo) and _is_finite_number(hi)):
        raise ValueError(f"box coordinates must be finite numbers, got {lo!r}, {hi!r}")
    a = min(max(lo * per_px, 0.0), float(limit))
    b = min(max(hi * per_px, 0.0), float(limit))
    if a > b:
        a, b = b, a
    ia, ib = round(a), round(b)
    if ib <= ia:
        ia = min(math.floor((a + b) / 2.0), limit - 1)
        ib = ia + 1
    return int(ia), int(ib)


def _from_units(
    values: Sequence[float],
    image_size: tuple[int, int],
    limits: tuple[float, float],
) -> Box | None:
    """Shared tolerant conversion back to original pixels (see CoordinateSpace.from_model).

    Values are clamped into the model space ``[0, limits[0]] x [0, limits[1]]`` before dividing,
    so huge numbers cannot overflow; anything that is not 4 finite numbers gives None.
    """
    values = _as_list(values)  # type: ignore[assignment]
    if values is None:
        return None
    if len(values) != 4 or not all(_is_finite_number(v) for v in values):
        return None
    width, height = image_size
    limit_x, limit_y = limits
    # Multiply before dividing so the model-space edge maps exactly onto the image edge.
    x1, x2 = (min(max(float(v), 0.0), limit_x) * width / limit_x for v in (values[0], values[2]))
    y1, y2 = (min(max(float(v), 0.0), limit_y) * height / limit_y for v in (values[1], values[3]))
    # Degenerate = thinner than one pixel or one model unit, whichever is finer (on upscaled
    # images a unit is smaller than a pixel). The tiny slack absorbs float division error.
    unit_px = min(width / limit_x, height / limit_y)
    min_side = min(1.0, unit_px) * (1.0 - 1e-9)
    return clamp_box(Box(x1, y1, x2, y2), width, height, min_side=min_side)


class _ResizedView:
    """The processor's resize of the whole image: what both families need to size close-ups."""

    def __init__(self, min_pixels: int, max_pixels: int, patch_size: int, merge_size: int) -> None:
        _validate_resize_args(min_pixels, max_pixels, patch_size, merge_size)
        self.min_pixels = int(min_pixels)
        self.max_pixels = int(max_pixels)
        self.patch_size = int(patch_size)
        self.merge_size = int(merge_size)
        self.factor = self.patch_size * self.merge_size

    def resized_size(self, image_size: tuple[int, int]) -> tuple[int, int]:
        """``(width, height)`` the processor resizes this image to."""
        width, height = _check_image_size(image_size)
        rh, rw = smart_resize(height, width, self.factor, self.min_pixels, self.max_pixels)
        return rw, rh

    def view_scale(self, image_size: tuple[int, int]) -> float:
        """Resized px per original px of the global view (geometric mean of both axes)."""
        return _view_scale(self.resized_size(image_size), image_size)

    def vision_tokens(self, image_size: tuple[int, int]) -> int:
        """Vision tokens the language model reads for an image of this size (after merging)."""
        width, height = self.resized_size(image_size)
        return (width // self.factor) * (height // self.factor)


class Qwen25PixelSpace(_ResizedView):
    """Qwen2/2.5-VL: absolute pixels of the processor's ``smart_resize``d image.

    ``min_pixels``/``max_pixels`` must equal the processor's resize bounds, or every box shifts.
    """

    name = "qwen2_5_vl_absolute_pixels"

    def __init__(
        self, min_pixels: int, max_pixels: int, patch_size: int = 14, merge_size: int = 2
    ) -> None:
        super().__init__(min_pixels, max_pixels, patch_size, merge_size)

    def __repr__(self) -> str:
        return (
            f"Qwen25PixelSpace(min_pixels={self.min_pixels}, max_pixels={self.max_pixels}, "
            f"patch_size={self.patch_size}, merge_size={self.merge_size})"
        )

    def to_model(self, box: Box, image_size: tuple[int, int]) -> list[int]:
        width, height = _check_image_size(image_size)
        rw, rh = self.resized_size(image_size)
        x1, x2 = _to_units(box.x1, box.x2, rw / width, rw)
        y1, y2 = _to_units(box.y1, box.y2, rh / height, rh)
        return [x1, y1, x2, y2]

    def from_model(self, values: Sequence[float], image_size: tuple[int, int]) -> Box | None:
        try:
            width, height = _check_image_size(image_size)
            rw, rh = self.resized_size(image_size)
        except (ValueError, TypeError):
            return None
        return _from_units(values, (width, height), (rw, rh))


class Qwen3RelativeSpace(_ResizedView):
    """Qwen3-VL: coordinates relative to the image, 0..``scale`` (1000) on both axes.

    The resize arguments do not affect coordinates; they only let callers compute the global
    view's resolution (``resized_size``/``view_scale``) to size the close-ups. The constructor's
    ``scale`` (units) is stored as the ``scale`` attribute; the per-image factor of the global
    view is :meth:`view_scale`, as for every space.
    """

    name = "qwen3_vl_relative"

    def __init__(
        self,
        scale: int = 1000,
        min_pixels: int = PROCESSOR_MIN_PIXELS,
        max_pixels: int = PROCESSOR_MAX_PIXELS,
        patch_size: int = 16,
        merge_size: int = 2,
    ) -> None:
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 2:
            raise ValueError(f"scale must be an integer >= 2, got {scale!r}")
        super().__init__(min_pixels, max_pixels, patch_size, merge_size)
        self.scale = scale

    def __repr__(self) -> str:
        return (
            f"Qwen3RelativeSpace(scale={self.scale}, min_pixels={self.min_pixels}, "
            f"max_pixels={self.max_pixels}, patch_size={self.patch_size}, "
            f"merge_size={self.merge_size})"
        )

    def to_model(self, box: Box, image_size: tuple[int, int]) -> list[int]:
        width, height = _check_image_size(image_size)
        x1, x2 = _to_units(box.x1, box.x2, self.scale / width, self.scale)
        y1, y2 = _to_units(box.y1, box.y2, self.scale / height, self.scale)
        return [x1, y1, x2, y2]

    def from_model(self, values: Sequence[float], image_size: tuple[int, int]) -> Box | None:
        try:
            width, height = _check_image_size(image_size)
        except (ValueError, TypeError):
            return None
        return _from_units(values, (width, height), (self.scale, self.scale))


def _validate_resize_args(
    min_pixels: int, max_pixels: int, patch_size: int, merge_size: int
) -> None:
    for name, value in (
        ("min_pixels", min_pixels),
        ("max_pixels", max_pixels),
        ("patch_size", patch_size),
        ("merge_size", merge_size),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if min_pixels > max_pixels:
        raise ValueError(f"min_pixels ({min_pixels}) must not exceed max_pixels ({max_pixels})")


def _view_scale(resized: tuple[int, int], image_size: tuple[int, int]) -> float:
    rw, rh = resized
    width, height = _check_image_size(image_size)
    return math.sqrt((rw * rh) / (width * height))


SUPPORTED_MODEL_TYPES: dict[str, str] = {
    "qwen2_vl": "pixels",
    "qwen2_5_vl": "pixels",
    "qwen3_vl": "relative",
    "qwen3_vl_moe": "relative",
}


def coordinate_space_for(model_type: str, min_pixels: int, max_pixels: int) -> CoordinateSpace:
    """Pick the coordinate space for a Hugging Face ``config.model_type``.

    Unknown families raise instead of guessing: a wrong guess silently misplaces every box.
    """
    kind = SUPPORTED_MODEL_TYPES.get(model_type)
    if kind == "pixels":
        return Qwen25PixelSpace(min_pixels=min_pixels, max_pixels=max_pixels)
    if kind == "relative":
        return Qwen3RelativeSpace(min_pixels=min_pixels, max_pixels=max_pixels)
    supported = ", ".join(sorted(SUPPORTED_MODEL_TYPES))
    raise ValueError(f"unsupported model type {model_type!r}; supported: {supported}")


def select_regions(
    boxes: Sequence[Box],
    image_size: tuple[int, int],
    max_area_fraction: float = 0.5,
    merge_iou: float = 0.6,
    max_regions: int | None = 4,
) -> list[int]:
    """Indices of the boxes worth a close-up, in their original order.

    Boxes are judged after clamping to the image; unusable ones are skipped. A box covering more
    than ``max_area_fraction`` of the image is dropped (a close-up of it adds nothing). A box that
    duplicates an already kept one (IoU >= ``merge_iou``, or >= 90% inside a box of similar size,
    either way round) is dropped, so the earlier one wins. At most ``max_regions`` are kept
    (``None`` = no limit). Indices, not boxes, so callers keep labels aligned.
    """
    width, height = _check_image_size(image_size)
    if not 0 < max_area_fraction <= 1:
        raise ValueError(f"max_area_fraction must be in (0, 1], got {max_area_fraction!r}")
    if not 0 < merge_iou <= 1:
        raise ValueError(f"merge_iou must be in (0, 1], got {merge_iou!r}")
    if max_regions is not None and (isinstance(max_regions, bool) or max_regions < 0):
        raise ValueError(f"max_regions must be None or >= 0, got {max_regions!r}")

    image_area = float(width * height)
    kept: list[tuple[int, Box]] = []
    for index, raw in enumerate(boxes):
        if max_regions is not None and len(kept) >= max_regions:
            break
        box = clamp_box(raw, width, height)
        if box is None or box.area > max_area_fraction * image_area:
            continue
        if any(_is_duplicate(box, other, merge_iou) for _, other in kept):
            continue
        kept.append((index, box))
    return [index for index, _ in kept]


def _is_duplicate(a: Box, b: Box, merge_iou: float) -> bool:
    if iou(a, b) >= merge_iou:
        return True
    small, large = sorted((a.area, b.area))
    if small <= 0 or small / large < _SIMILAR_AREA_RATIO:
        return False
    return _intersection_area(a, b) / small >= _CONTAINMENT
