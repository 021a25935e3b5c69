"""Close-ups for the Examine step (LTE's magnifying glass).

Each selected region is padded with context, grown to a minimum size, and resampled so the model
sees it at a higher pixel density than it saw the whole image in Query 1, within a pixel budget.
Planning is pure arithmetic (testable, reproducible, recorded in the results); rendering is one
Pillow crop + resize.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from PIL import Image

from inspector.core.geometry import Box, clamp_box, select_regions
from inspector.core.region_choice import (
    check_choice,
    random_stand_ins,
    region_order,
    stand_in_key,
)

__all__ = [
    "MIN_OUTPUT_SIDE",
    "CloseupPlan",
    "CloseupPolicy",
    "ProcessorView",
    "closeup_budget",
    "global_view_pixels",
    "plan_closeups",
    "render_closeup",
]

# The Qwen processors resize to multiples of 28 (Qwen2.5) / 32 (Qwen3) anyway; below 28 px a
# close-up carries no information and tiny images are a known source of processor edge cases.
MIN_OUTPUT_SIDE = 28

# Qwen's smart_resize rejects aspect ratios above 200; crops stay well inside that.
_MAX_CROP_ASPECT = 100


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class CloseupPolicy:
    """How close-ups are chosen and sized; part of the recorded generation settings.

    ``context``: padding on each side as a fraction of the box side. ``min_side``: smallest crop
    side in original px (small boxes grow around their centre). ``magnification``: the close-up is
    seen at least this many times the global view's pixel density (unless ``max_pixels`` bites).
    ``max_pixels``: cap on a close-up's output pixels. ``max_regions``, ``max_area_fraction`` and
    ``merge_iou`` feed ``select_regions``.

    ``mode``, ``region_order`` and ``seed``: the ablation switches of
    :mod:`inspector.core.region_choice` (``located``/``random``/``none``; ``answer``/``largest``;
    the seed of the random boxes). ``budget``: when set, all close-ups of an image together get at
    most this fraction of the global view's vision tokens as the model's processor counts them
    (``plan_closeups(processor=...)``, as the pipeline plans; without it, of its pixels);
    magnification is lowered as needed, per region, never below the region's native
    resolution (1 output px per original px) — so a budget can be exceeded, and
    :func:`closeup_budget` says by how much. ``None``: no budget.
    """

    context: float = 0.25
    min_side: int = 64
    magnification: float = 2.0
    max_pixels: int = 512 * 512
    max_regions: int = 4
    max_area_fraction: float = 0.5
    merge_iou: float = 0.6
    mode: str = "located"
    region_order: str = "answer"
    seed: int = 0
    budget: float | None = None

    def __post_init__(self) -> None:
        check_choice(self.mode, self.region_order, self.seed)
        if self.budget is not None and (
            not _is_number(self.budget) or not math.isfinite(self.budget) or self.budget <= 0
        ):
            raise ValueError(
                f"budget must be None or a fraction of the global view > 0, got {self.budget!r}"
            )
        if not _is_number(self.context) or not math.isfinite(self.context) or self.context < 0:
            raise ValueError(f"context must be a finite number >= 0, got {self.context!r}")
        if not isinstance(self.min_side, int) or isinstance(self.min_side, bool):
            raise ValueError(f"min_side must be an integer number of pixels, got {self.min_side!r}")
        if self.min_side < 1:
            raise ValueError(f"min_side must be >= 1 pixel, got {self.min_side}")
        if (
            not _is_number(self.magnification)
            or not math.isfinite(self.magnification)
            or self.magnification <= 0
        ):
            raise ValueError(
                f"magnification must be a finite number > 0, got {self.magnification!r}"
            )
        if not isinstance(self.max_pixels, int) or isinstance(self.max_pixels, bool):
            raise ValueError(f"max_pixels must be an integer, got {self.max_pixels!r}")
        if self.max_pixels < MIN_OUTPUT_SIDE * MIN_OUTPUT_SIDE:
            raise ValueError(
                f"max_pixels must be >= {MIN_OUTPUT_SIDE * MIN_OUTPUT_SIDE} "
                f"({MIN_OUTPUT_SIDE}x{MIN_OUTPUT_SIDE}), got {self.max_pixels}"
            )
        if not isinstance(self.max_regions, int) or isinstance(self.max_regions, bool):
            raise ValueError(f"max_regions must be an integer, got {self.max_regions!r}")
        if self.max_regions < 1:
            raise ValueError(f"max_regions must be >= 1, got {self.max_regions}")
        if not _is_number(self.max_area_fraction) or not 0 < self.max_area_fraction <= 1:
            raise ValueError(f"max_area_fraction must be in (0, 1], got {self.max_area_fraction!r}")
        if not _is_number(self.merge_iou) or not 0 < self.merge_iou <= 1:
            raise ValueError(f"merge_iou must be in (0, 1], got {self.merge_iou!r}")


class ProcessorView(Protocol):
    """What the model's image processor does to any image it is given (the backend's coordinate
    space): a close-up budget is counted in the vision tokens the model really reads."""

    max_pixels: int

    def vision_tokens(self, image_size: tuple[int, int]) -> int: ...


@dataclass(frozen=True)
class CloseupPlan:
    """One close-up: which region, what to crop (integer px, inside the image), how big to render.

    ``scale`` is the achieved output px per original px (the smaller of the two axes), which is
    what to compare with the global view's scale.
    """

    region_index: int
    box: Box  # what the close-up is centred on: the region's box, or its random stand-in
    crop_box: Box
    output_size: tuple[int, int]
    scale: float


def plan_closeups(
    boxes: Sequence[Box],
    image_size: tuple[int, int],
    global_scale: float,
    policy: CloseupPolicy,
    image_sha256: str = "",
    processor: ProcessorView | None = None,
    confidences: Sequence[float | None] | None = None,
) -> list[CloseupPlan]:
    """Plan the close-ups for the regions worth examining, in the order they are examined.

    ``global_scale`` is resized px per original px of the global (Query 1) view, e.g. 0.25 for a
    photo downscaled 4x. The target scale is ``max(1.0, magnification * global_scale)``: never
    below native resolution, and at least ``magnification`` times the global density. When the
    output would exceed ``policy.max_pixels`` it is scaled down to fit; the achieved magnification
    is then lower than asked and ``CloseupPlan.scale`` records the real value. Output sides are at
    least ``MIN_OUTPUT_SIDE`` px. A ``policy.budget`` lowers the scales further (see
    :class:`CloseupPolicy`).

    Regions are considered in ``policy.region_order`` (``confidence`` reads ``confidences``, one
    per box). ``mode="none"`` plans nothing;
    ``mode="random"`` keeps the same regions but centres each close-up on a random box of the
    same size, seeded by ``policy.seed`` and ``image_sha256`` (required then).

    ``processor``: with a budget, count it in the vision tokens the processor makes of each
    close-up (its minimum size lifts small ones, its maximum caps big ones, both in steps of its
    patch grid) rather than in output pixels, and never render a close-up above its maximum.
    """
    width, height = image_size
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive (width, height), got {image_size!r}")
    if not _is_number(global_scale) or not math.isfinite(global_scale) or global_scale <= 0:
        raise ValueError(f"global_scale must be a finite number > 0, got {global_scale!r}")
    if policy.mode == "none":
        return []
    key = stand_in_key(policy.seed, image_sha256) if policy.mode == "random" else ""

    order = region_order(boxes, image_size, policy.region_order, confidences)
    picked = select_regions(
        [boxes[i] for i in order],
        image_size,
        max_area_fraction=policy.max_area_fraction,
        merge_iou=policy.merge_iou,
        max_regions=policy.max_regions,
    )
    indices = [order[k] for k in picked]
    examined: list[tuple[int, Box]] = []
    for index in indices:
        box = clamp_box(boxes[index], width, height)
        if box is not None:  # select_regions already skips the others; kept for type narrowing
            examined.append((index, box))
    if policy.mode == "random":
        stand_ins = random_stand_ins([box for _, box in examined], image_size, key)
        examined = [(i, box) for (i, _), box in zip(examined, stand_ins, strict=True)]
    crops = [_crop_box(box, width, height, policy) for _, box in examined]
    cap = policy.max_pixels
    if processor is not None and policy.budget is not None:
        cap = max(MIN_OUTPUT_SIDE * MIN_OUTPUT_SIDE, min(cap, processor.max_pixels))
    scales = _budgeted_scales(crops, image_size, global_scale, policy, cap, processor)
    plans: list[CloseupPlan] = []
    for (index, box), crop, target in zip(examined, crops, scales, strict=True):
        output_size, scale = _output_size(crop.width, crop.height, target, cap)
        plans.append(
            CloseupPlan(
                region_index=index, box=box, crop_box=crop, output_size=output_size, scale=scale
            )
        )
    return plans


def global_view_pixels(image_size: tuple[int, int], global_scale: float) -> int:
    """Pixels of the global (Query 1) view: the image at ``global_scale``."""
    return round(image_size[0] * image_size[1] * global_scale * global_scale)


def closeup_budget(
    plans: Sequence[CloseupPlan],
    image_size: tuple[int, int],
    global_scale: float,
    policy: CloseupPolicy,
    processor: ProcessorView | None = None,
) -> dict[str, object]:
    """What the close-ups cost against the global view, for the analysis record: pixels of the
    global view, of all close-ups, the budget in pixels (None: no budget) and the share; with
    the processor, the same in vision tokens (what the budget counts then)."""
    view = global_view_pixels(image_size, global_scale)
    used = sum(w * h for w, h in (p.output_size for p in plans))
    record: dict[str, object] = {
        "global_view_pixels": view,
        "closeup_pixels": used,
        "budget_pixels": None if policy.budget is None else round(policy.budget * view),
        "closeup_share": round(used / view, 4) if view else None,
    }
    if processor is not None:
        view_tokens = processor.vision_tokens(image_size)
        used_tokens = sum(processor.vision_tokens(p.output_size) for p in plans)
        record.update(
            global_view_tokens=view_tokens,
            closeup_tokens=used_tokens,
            budget_tokens=None if policy.budget is None else round(policy.budget * view_tokens),
            closeup_token_share=round(used_tokens / view_tokens, 4) if view_tokens else None,
        )
    return record


def _budgeted_scales(
    crops: Sequence[Box],
    image_size: tuple[int, int],
    global_scale: float,
    policy: CloseupPolicy,
    max_pixels: int,
    processor: ProcessorView | None,
) -> list[float]:
    """The scale each crop is asked for: the policy's target, lowered to fit the budget.

    Water-filling: one common scale ``s`` for every crop, each crop clamped between its floor
    (native resolution, or less only where ``max_pixels`` already forces it) and its ceiling (the
    target, or what ``max_pixels`` allows). ``s`` is the largest value whose total cost fits the
    budget, so crops held down by ``max_pixels`` leave the rest to the others. The cost is the
    close-ups' pixels against the global view's, or with ``processor`` their vision tokens
    against the whole image's.
    """
    target = max(1.0, policy.magnification * global_scale)
    if policy.budget is None or not crops:
        return [target] * len(crops)
    areas = [c.width * c.height for c in crops]
    ceilings = [min(target, math.sqrt(max_pixels / a)) for a in areas]
    floors = [min(1.0, hi) for hi in ceilings]
    if processor is None:
        budget = policy.budget * global_view_pixels(image_size, global_scale)

        def cost(s: float) -> float:
            return sum(a * min(max(s, lo), hi) ** 2
                       for a, lo, hi in zip(areas, floors, ceilings, strict=True))
    else:
        budget = policy.budget * processor.vision_tokens(image_size)

        def cost(s: float) -> float:
            return sum(
                processor.vision_tokens(_output_size(c.width, c.height, min(max(s, lo), hi),
                                                     max_pixels)[0])
                for c, lo, hi in zip(crops, floors, ceilings, strict=True)
            )

    if cost(target) <= budget:
        return [target] * len(crops)
    low, high = min(floors), target
    for _ in range(50):  # bisection to well below a pixel
        mid = (low + high) / 2.0
        low, high = (mid, high) if cost(mid) <= budget else (low, mid)
    return [min(max(low, f), c) for f, c in zip(floors, ceilings, strict=True)]


def _span(lo: float, hi: float, centre: float, min_side: float, limit: int) -> tuple[int, int]:
    """One axis of the crop: clip to the image, grow to ``min_side``, snap outward to integers.

    Growth is centred on the region; at the image border the window slides inward instead of
    being cut, so edge regions still get ``min(min_side, image side)`` pixels.
    """
    lo, hi = max(lo, 0.0), min(hi, float(limit))
    if hi - lo < min_side:
        side = min(float(min_side), float(limit))
        lo = min(max(centre - side / 2.0, 0.0), limit - side)
        hi = lo + side
    # exact floor/ceil: the crop must hold the whole region, even a box edge at 4.999999999999999
    # (a tolerance here once cut that sliver off; one pixel more context costs nothing)
    ilo = max(0, math.floor(lo))
    ihi = min(limit, math.ceil(hi))
    if ihi <= ilo:  # only for sub-pixel input; the region box is >= 1 px so this is defensive
        ilo, ihi = (ilo, ilo + 1) if ilo < limit else (limit - 1, limit)
    return ilo, ihi


def _crop_box(box: Box, width: int, height: int, policy: CloseupPolicy) -> Box:
    """Padded, minimum-size, integer crop around ``box``, inside the image."""
    cx, cy = box.center
    pad_x, pad_y = policy.context * box.width, policy.context * box.height
    min_x = min_y = float(policy.min_side)
    x1, x2 = _span(box.x1 - pad_x, box.x2 + pad_x, cx, min_x, width)
    y1, y2 = _span(box.y1 - pad_y, box.y2 + pad_y, cy, min_y, height)
    # A sliver-shaped crop would be rejected by the processor (aspect ratio limit): widen its
    # short side, as far as the image allows.
    cw, ch = x2 - x1, y2 - y1
    if cw > ch * _MAX_CROP_ASPECT:
        y1, y2 = _span(y1, y2, cy, max(min_y, math.ceil(cw / _MAX_CROP_ASPECT)), height)
    elif ch > cw * _MAX_CROP_ASPECT:
        x1, x2 = _span(x1, x2, cx, max(min_x, math.ceil(ch / _MAX_CROP_ASPECT)), width)
    return Box(float(x1), float(y1), float(x2), float(y2))


def _output_size(
    crop_w: float, crop_h: float, target: float, max_pixels: int
) -> tuple[tuple[int, int], float]:
    """Output (w, h) and the achieved scale for a crop asked at ``target``, within the cap."""
    # Round up so the achieved density is never below the target when the cap does not bite.
    out_w = math.ceil(crop_w * target - 1e-9)
    out_h = math.ceil(crop_h * target - 1e-9)
    if out_w * out_h > max_pixels:
        fit = math.sqrt(max_pixels / (crop_w * crop_h))
        out_w = max(1, math.floor(crop_w * fit))
        out_h = max(1, math.floor(crop_h * fit))
    out_w, out_h = max(out_w, MIN_OUTPUT_SIDE), max(out_h, MIN_OUTPUT_SIDE)
    if out_w * out_h > max_pixels:  # the 28 px floor raised the short side: trim the long
        if out_w >= out_h:
            out_w = max(MIN_OUTPUT_SIDE, max_pixels // out_h)
        else:
            out_h = max(MIN_OUTPUT_SIDE, max_pixels // out_w)
    scale = min(out_w / crop_w, out_h / crop_h)
    return (int(out_w), int(out_h)), scale


def render_closeup(image: Image.Image, plan: CloseupPlan) -> Image.Image:
    """Crop the plan's window and resample it to the planned size (LANCZOS), as RGB.

    Raises ValueError when the plan does not fit the image (planned for another image/size).
    """
    x1, y1, x2, y2 = (
        int(v) for v in (plan.crop_box.x1, plan.crop_box.y1, plan.crop_box.x2, plan.crop_box.y2)
    )
    if x1 < 0 or y1 < 0 or x2 > image.width or y2 > image.height or x2 <= x1 or y2 <= y1:
        raise ValueError(
            f"crop box {plan.crop_box.to_list()} does not fit the image "
            f"{image.width}x{image.height}; was the plan made for another image?"
        )
    region = image.crop((x1, y1, x2, y2))
    if region.mode != "RGB":
        region = region.convert("RGB")
    return region.resize(plan.output_size, Image.Resampling.LANCZOS)
