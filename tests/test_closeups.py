"""Close-up planning and rendering: what the model is shown in the Examine step."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from inspector.core.closeups import (
    MIN_OUTPUT_SIDE,
    CloseupPlan,
    CloseupPolicy,
    plan_closeups,
    render_closeup,
)
from inspector.core.geometry import Box, Qwen25PixelSpace, smart_resize

GRAY, RED = (128, 128, 128), (220, 20, 20)


def _is_int(v: float) -> bool:
    return float(v).is_integer()


def _assert_crop_sane(plan: CloseupPlan, image_size: tuple[int, int]) -> None:
    w, h = image_size
    c = plan.crop_box
    assert all(_is_int(v) for v in c.to_list())
    assert 0 <= c.x1 < c.x2 <= w and 0 <= c.y1 < c.y2 <= h
    # the crop shows the whole region
    b = plan.box
    assert c.x1 <= b.x1 and b.x2 <= c.x2 and c.y1 <= b.y1 and b.y2 <= c.y2


# -------------------------------------------------------------------------------- policy


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"context": -0.1}, "context"),
        ({"context": float("nan")}, "context"),
        ({"min_side": 0}, "min_side"),
        ({"min_side": 10.5}, "min_side"),
        ({"magnification": 0}, "magnification"),
        ({"magnification": float("inf")}, "magnification"),
        ({"max_pixels": 27 * 27}, "max_pixels"),
        ({"max_regions": 0}, "max_regions"),
        ({"max_area_fraction": 0}, "max_area_fraction"),
        ({"max_area_fraction": 1.5}, "max_area_fraction"),
        ({"merge_iou": 0}, "merge_iou"),
        ({"merge_iou": 2}, "merge_iou"),
    ],
)
def test_policy_rejects_bad_values(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        CloseupPolicy(**kwargs)  # type: ignore[arg-type]


def test_plan_rejects_bad_global_scale() -> None:
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="global_scale"):
            plan_closeups([Box(0, 0, 10, 10)], (100, 100), bad, CloseupPolicy())


# ------------------------------------------------------------------------ what the user sees


def test_closeup_shows_region_with_context() -> None:
    image = Image.new("RGB", (800, 600), GRAY)
    ImageDraw.Draw(image).rectangle((300, 200, 399, 299), fill=RED)  # covers [300,400)x[200,300)
    policy = CloseupPolicy()
    (plan,) = plan_closeups([Box(300, 200, 400, 300)], image.size, 0.5, policy)
    # 25% of the 100 px side on each side
    assert plan.crop_box == Box(275, 175, 425, 325)
    closeup = render_closeup(image, plan)
    assert closeup.mode == "RGB" and closeup.size == plan.output_size
    cw, ch = closeup.size
    assert closeup.getpixel((cw // 2, ch // 2)) == RED
    for corner in ((2, 2), (cw - 3, 2), (2, ch - 3), (cw - 3, ch - 3)):
        assert closeup.getpixel(corner) == GRAY
    # the red square fills the middle two thirds of each side (100 of 150 px)
    row = [closeup.getpixel((x, ch // 2)) for x in range(cw)]
    red_fraction = sum(1 for p in row if p[0] > 170 and p[1] < 70) / cw
    assert red_fraction == pytest.approx(100 / 150, abs=0.03)


def test_magnification_achieved_when_not_capped() -> None:
    policy = CloseupPolicy(magnification=2.0)
    for global_scale in (0.55, 0.8, 1.3):
        (plan,) = plan_closeups([Box(300, 200, 400, 300)], (800, 600), global_scale, policy)
        crop_w, crop_h = plan.crop_box.width, plan.crop_box.height
        assert plan.output_size[0] * plan.output_size[1] <= policy.max_pixels  # not capped
        assert plan.scale >= 2.0 * global_scale - 1e-9
        assert plan.output_size[0] / crop_w >= 2.0 * global_scale - 1e-9
        assert plan.output_size[1] / crop_h >= 2.0 * global_scale - 1e-9
        # and not wastefully more than asked (rounding up costs at most one pixel)
        assert plan.output_size[0] <= crop_w * 2.0 * global_scale + 1


def test_downscaled_photo_closeup_is_native_resolution_and_twice_the_global_density() -> None:
    image_size = (4000, 3000)
    global_scale = Qwen25PixelSpace(256 * 28 * 28, 1280 * 28 * 28).view_scale(image_size)
    assert global_scale < 0.5
    (plan,) = plan_closeups(
        [Box(1000, 1000, 1200, 1150)], image_size, global_scale, CloseupPolicy()
    )
    assert plan.scale == pytest.approx(1.0)  # never shown below native resolution
    # 200x150 box + 25% context each side (snapped outward to whole pixels), shown 1:1
    assert plan.crop_box == Box(950, 962, 1250, 1188)
    assert plan.output_size == (300, 226)
    assert plan.scale / global_scale >= 2.0


def test_pixel_cap_respected_and_real_scale_recorded() -> None:
    policy = CloseupPolicy(max_pixels=256 * 256)
    box = Box(1000, 1000, 2200, 1600)  # 1200x600, well under half of 4000x3000
    (plan,) = plan_closeups([box], (4000, 3000), 0.9, policy)
    out_w, out_h = plan.output_size
    assert out_w * out_h <= policy.max_pixels
    assert out_w * out_h >= 0.97 * policy.max_pixels  # the budget is used, not wasted
    crop_w, crop_h = plan.crop_box.width, plan.crop_box.height
    assert plan.scale == pytest.approx(min(out_w / crop_w, out_h / crop_h))
    assert plan.scale < 2.0 * 0.9  # magnification fell short and the plan says so
    assert out_w / out_h == pytest.approx(crop_w / crop_h, rel=0.02)  # aspect kept


def test_boxes_over_half_the_image_are_dropped() -> None:
    boxes = [Box(0, 0, 700, 500), Box(10, 10, 60, 60)]  # 73% and 0.5% of 800x600
    plans = plan_closeups(boxes, (800, 600), 0.5, CloseupPolicy())
    assert [p.region_index for p in plans] == [1]
    plans = plan_closeups(boxes, (800, 600), 0.5, CloseupPolicy(max_area_fraction=0.8))
    assert [p.region_index for p in plans] == [0, 1]


def test_duplicates_merged_order_and_max_regions_respected() -> None:
    boxes = [
        Box(50, 50, 100, 100),
        Box(52, 51, 101, 99),  # duplicate of #0
        Box(300, 50, 350, 100),
        Box(50, 300, 100, 350),
        Box(300, 300, 350, 350),
        Box(500, 500, 550, 550),
        Box(600, 100, 650, 150),
    ]
    plans = plan_closeups(boxes, (800, 600), 0.5, CloseupPolicy())
    assert [p.region_index for p in plans] == [0, 2, 3, 4]
    assert [p.box for p in plans] == [boxes[i] for i in (0, 2, 3, 4)]
    plans = plan_closeups(boxes, (800, 600), 0.5, CloseupPolicy(max_regions=2))
    assert [p.region_index for p in plans] == [0, 2]
    assert plan_closeups([], (800, 600), 0.5, CloseupPolicy()) == []


def test_small_box_grows_around_its_centre() -> None:
    (plan,) = plan_closeups([Box(398, 298, 402, 302)], (800, 600), 0.5, CloseupPolicy())
    assert plan.crop_box == Box(368, 268, 432, 332)
    assert plan.output_size == (64, 64)


@pytest.mark.parametrize(
    "box",
    [Box(0, 0, 10, 10), Box(790, 590, 800, 600), Box(0, 580, 30, 600), Box(-20, 100, 15, 130)],
)
def test_edge_boxes_stay_inside_and_keep_min_size(box: Box) -> None:
    image = Image.new("RGB", (800, 600), GRAY)
    (plan,) = plan_closeups([box], image.size, 0.5, CloseupPolicy(min_side=64))
    _assert_crop_sane(plan, image.size)
    assert plan.crop_box.width >= 64 and plan.crop_box.height >= 64
    assert render_closeup(image, plan).size == plan.output_size


def test_tiny_image_gives_whole_image_at_least_28px() -> None:
    image = Image.new("L", (20, 12), 200)
    (plan,) = plan_closeups([Box(5, 3, 9, 6)], image.size, 2.0, CloseupPolicy())
    assert plan.crop_box == Box(0, 0, 20, 12)
    assert min(plan.output_size) >= MIN_OUTPUT_SIDE
    closeup = render_closeup(image, plan)
    assert closeup.mode == "RGB" and closeup.getpixel((5, 5)) == (200, 200, 200)


def test_sliver_region_gives_a_closeup_the_processor_accepts() -> None:
    (plan,) = plan_closeups([Box(1000, 990, 10000, 1000)], (20000, 2000), 0.05, CloseupPolicy())
    w, h = plan.output_size
    assert max(w, h) / min(w, h) <= 100
    smart_resize(h, w)  # would raise for an aspect ratio above 200


def test_render_converts_rgba_and_rejects_foreign_plan() -> None:
    image = Image.new("RGBA", (100, 100), (10, 20, 30, 0))
    (plan,) = plan_closeups([Box(10, 10, 50, 50)], image.size, 1.0, CloseupPolicy())
    out = render_closeup(image, plan)
    assert out.mode == "RGB" and out.getpixel((0, 0)) == (10, 20, 30)
    with pytest.raises(ValueError, match="another image"):
        render_closeup(Image.new("RGB", (40, 40)), plan)


# ---------------------------------------------------------------------------- properties


@st.composite
def scenes(draw: st.DrawFn) -> tuple[tuple[int, int], list[Box], float, CloseupPolicy]:
    w = draw(st.integers(8, 8000))
    h = draw(st.integers(max(8, w // 150), min(8000, w * 150)))
    coord = st.floats(-0.2, 1.2)
    boxes = [
        Box(draw(coord) * w, draw(coord) * h, draw(coord) * w, draw(coord) * h)
        for _ in range(draw(st.integers(0, 7)))
    ]
    policy = CloseupPolicy(
        context=draw(st.floats(0, 1)),
        min_side=draw(st.integers(1, 256)),
        magnification=draw(st.floats(0.5, 4)),
        max_pixels=draw(st.integers(28 * 28, 1024 * 1024)),
        max_regions=draw(st.integers(1, 6)),
    )
    return (w, h), boxes, draw(st.floats(0.01, 4)), policy


@settings(max_examples=300, deadline=None)
@given(scenes())
def test_plans_always_valid(scene: tuple[tuple[int, int], list[Box], float, CloseupPolicy]) -> None:
    image_size, boxes, global_scale, policy = scene
    plans = plan_closeups(boxes, image_size, global_scale, policy)
    assert len(plans) <= policy.max_regions
    indices = [p.region_index for p in plans]
    assert indices == sorted(set(indices))
    w, h = image_size
    for plan in plans:
        _assert_crop_sane(plan, image_size)
        assert plan.box.area <= policy.max_area_fraction * w * h
        cw, ch = plan.crop_box.width, plan.crop_box.height
        assert cw >= min(policy.min_side, w) and ch >= min(policy.min_side, h)
        out_w, out_h = plan.output_size
        assert isinstance(out_w, int) and isinstance(out_h, int)
        assert min(out_w, out_h) >= MIN_OUTPUT_SIDE
        assert out_w * out_h <= policy.max_pixels
        assert plan.scale == pytest.approx(min(out_w / cw, out_h / ch))
        target = max(1.0, policy.magnification * global_scale)
        wanted_w = max(MIN_OUTPUT_SIDE, math.ceil(cw * target))
        wanted_h = max(MIN_OUTPUT_SIDE, math.ceil(ch * target))
        capped = wanted_w * wanted_h > policy.max_pixels
        if not capped:
            assert plan.scale >= target - 1e-9


def test_a_box_edge_just_below_an_integer_stays_inside_the_crop():
    """Found by hypothesis in CI: x1 = 4.999999999999999 was cut off by a rounding tolerance."""
    policy = CloseupPolicy(context=0.0, min_side=1, magnification=1.0, max_pixels=784,
                           max_regions=1, max_area_fraction=0.5, merge_iou=0.6)
    box = Box(4.999999999999999, 0.0, 25.0, 4.0)
    plans = plan_closeups([box], (25, 8), 1.0, policy)
    assert len(plans) == 1
    _assert_crop_sane(plans[0], (25, 8))
