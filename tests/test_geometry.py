"""Boxes, Qwen's resize rule and the per-family coordinate conversions (the classic bug)."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from inspector.core.geometry import (
    Box,
    CoordinateSpace,
    Qwen3RelativeSpace,
    Qwen25PixelSpace,
    clamp_box,
    coordinate_space_for,
    iou,
    select_regions,
    smart_resize,
)

hf_qwen2_vl = pytest.importorskip("transformers.models.qwen2_vl.image_processing_pil_qwen2_vl")

MIN_PIX = 256 * 28 * 28
MAX_PIX = 1280 * 28 * 28
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------- Box


def test_box_properties() -> None:
    box = Box(10, 20, 40, 100)
    assert (box.width, box.height, box.area, box.center) == (30, 80, 2400, (25.0, 60.0))
    assert Box(5, 5, 1, 9).area == 0.0  # inverted boxes have no area


def test_box_to_list_rounds_to_two_decimals() -> None:
    assert Box(1.23456, 2.0, 3.999, 4.005001).to_list() == [1.23, 2.0, 4.0, 4.01]


def test_box_from_list_accepts_ints_and_floats() -> None:
    assert Box.from_list([1, 2.5, 3, 4]) == Box(1.0, 2.5, 3.0, 4.0)
    assert Box.from_list((0, 0, 10, 10)).to_list() == [0.0, 0.0, 10.0, 10.0]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1, 2, 3], "exactly 4"),
        ([1, 2, 3, 4, 5], "exactly 4"),
        ([1, 2, float("nan"), 4], "finite"),
        ([1, 2, float("inf"), 4], "finite"),
        ([1, "2", 3, 4], "finite"),
        ([1, None, 3, 4], "finite"),
        ([True, 0, 3, 4], "finite"),
        ("1234", "sequence"),
        (None, "sequence"),
        ({"x1": 1}, "sequence"),
    ],
)
def test_box_from_list_rejects_bad_input(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Box.from_list(value)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- clamp_box, iou


def test_clamp_box_orders_and_clamps() -> None:
    assert clamp_box(Box(120, 90, -10, 10), 100, 80) == Box(0, 10, 100, 80)


@pytest.mark.parametrize(
    "box",
    [
        Box(10, 10, 10.5, 50),  # thinner than 1 px
        Box(200, 10, 300, 50),  # entirely right of the image
        Box(-50, -50, -1, -1),  # entirely above-left
        Box(float("nan"), 0, 10, 10),
        Box(0, 0, float("inf"), 10),
    ],
)
def test_clamp_box_rejects_degenerate(box: Box) -> None:
    assert clamp_box(box, 100, 80) is None


def test_clamp_box_min_side() -> None:
    assert clamp_box(Box(0, 0, 5, 50), 100, 80, min_side=8) is None
    assert clamp_box(Box(0, 0, 8, 50), 100, 80, min_side=8) == Box(0, 0, 8, 50)


def test_iou_known_values() -> None:
    a = Box(0, 0, 10, 10)
    assert iou(a, a) == 1.0
    assert iou(a, Box(20, 20, 30, 30)) == 0.0
    assert iou(a, Box(10, 0, 20, 10)) == 0.0  # touching edges share no area
    assert iou(a, Box(5, 0, 15, 10)) == pytest.approx(50 / 150)


box_coords = st.floats(-100, 1100, allow_nan=False)


@FAST
@given(st.tuples(box_coords, box_coords, box_coords, box_coords), st.tuples(*[box_coords] * 4))
def test_iou_symmetric_and_bounded(a: tuple[float, ...], b: tuple[float, ...]) -> None:
    ba, bb = clamp_box(Box(*a), 1000, 1000), clamp_box(Box(*b), 1000, 1000)
    assume(ba is not None and bb is not None)
    assert 0.0 <= iou(ba, bb) <= 1.0
    assert iou(ba, bb) == pytest.approx(iou(bb, ba))


# ------------------------------------------------------------------------------- smart_resize


def _hf_or_error(h: int, w: int, factor: int, lo: int, hi: int) -> tuple[int, int] | type:
    try:
        return tuple(hf_qwen2_vl.smart_resize(h, w, factor=factor, min_pixels=lo, max_pixels=hi))
    except ValueError:
        return ValueError


def _ours_or_error(h: int, w: int, factor: int, lo: int, hi: int) -> tuple[int, int] | type:
    try:
        return smart_resize(h, w, factor=factor, min_pixels=lo, max_pixels=hi)
    except ValueError:
        return ValueError


@settings(max_examples=800, deadline=None)
@given(
    h=st.integers(1, 12000),
    w=st.integers(1, 12000),
    factor=st.sampled_from([28, 32]),
    bounds=st.sampled_from(
        [
            (56 * 56, 28 * 28 * 1280),
            (MIN_PIX, MAX_PIX),
            (4 * 28 * 28, 16384 * 28 * 28),
            (65536, 16777216),
            (32 * 32, 32 * 32 * 64),
        ]
    ),
)
def test_smart_resize_matches_transformers(
    h: int, w: int, factor: int, bounds: tuple[int, int]
) -> None:
    lo, hi = bounds
    assert _ours_or_error(h, w, factor, lo, hi) == _hf_or_error(h, w, factor, lo, hi)


@pytest.mark.parametrize(
    ("h", "w"),
    [
        (1, 1),
        (27, 29),
        (28, 28),
        (480, 640),
        (1080, 1920),
        (3000, 4000),
        (6000, 8000),
        (14, 2800),
        (1, 200),
        (1, 201),
        (10, 2001),
        (4032, 3024),
        (50, 9999),
    ],
)
@pytest.mark.parametrize("factor", [28, 32])
def test_smart_resize_matches_transformers_on_common_sizes(h: int, w: int, factor: int) -> None:
    assert _ours_or_error(h, w, factor, 56 * 56, 28 * 28 * 1280) == _hf_or_error(
        h, w, factor, 56 * 56, 28 * 28 * 1280
    )


def test_smart_resize_defaults_and_errors() -> None:
    assert smart_resize(1080, 1920) == hf_qwen2_vl.smart_resize(1080, 1920)
    with pytest.raises(ValueError, match="aspect ratio"):
        smart_resize(10, 2001)
    with pytest.raises(ValueError, match="positive"):
        smart_resize(0, 100)


# -------------------------------------------------------------------------- coordinate spaces


def _processor_size(image_size: tuple[int, int], patch: int) -> tuple[int, int]:
    """What the real transformers image processor resizes to: image_grid_thw * patch."""
    proc = hf_qwen2_vl.Qwen2VLImageProcessorPil(
        min_pixels=MIN_PIX, max_pixels=MAX_PIX, patch_size=patch, merge_size=2
    )
    out = proc(images=[Image.new("RGB", image_size)], return_tensors="np")
    _, grid_h, grid_w = (int(v) for v in out["image_grid_thw"][0])
    return grid_w * patch, grid_h * patch


@pytest.mark.parametrize("image_size", [(640, 480), (1920, 1080), (333, 2017), (50, 40)])
def test_resized_size_matches_real_processor(image_size: tuple[int, int]) -> None:
    assert Qwen25PixelSpace(MIN_PIX, MAX_PIX).resized_size(image_size) == _processor_size(
        image_size, 14
    )
    assert Qwen3RelativeSpace(min_pixels=MIN_PIX, max_pixels=MAX_PIX).resized_size(
        image_size
    ) == _processor_size(image_size, 16)


def test_qwen25_known_conversion() -> None:
    # 1000x500 with library defaults -> 1008x504: model pixels are 1.008x original pixels.
    space = Qwen25PixelSpace(56 * 56, 28 * 28 * 1280)
    assert space.resized_size((1000, 500)) == (1008, 504)
    assert space.to_model(Box(100, 100, 200, 200), (1000, 500)) == [101, 101, 202, 202]
    back = space.from_model([101, 101, 202, 202], (1000, 500))
    assert back is not None
    assert back.to_list() == pytest.approx([100.2, 100.2, 200.4, 200.4], abs=0.01)


def test_qwen25_scale_is_resized_px_per_original_px() -> None:
    space = Qwen25PixelSpace(MIN_PIX, MAX_PIX)
    rw, rh = space.resized_size((4000, 3000))
    assert space.view_scale((4000, 3000)) == pytest.approx(math.sqrt(rw * rh / 12e6))
    assert space.view_scale((4000, 3000)) < 0.3  # a 12 MP photo is seen heavily downscaled


def test_qwen3_known_conversion() -> None:
    space = Qwen3RelativeSpace()
    assert space.scale == 1000
    assert space.to_model(Box(500, 250, 1000, 750), (2000, 1000)) == [250, 250, 500, 750]
    assert space.from_model([0, 0, 1000, 1000], (2000, 1000)) == Box(0, 0, 2000, 1000)
    rw, rh = space.resized_size((2000, 1000))
    assert rw % 32 == 0 and rh % 32 == 0
    assert space.view_scale((2000, 1000)) == pytest.approx(math.sqrt(rw * rh / 2e6))


def test_from_model_clamps_and_orders() -> None:
    space = Qwen3RelativeSpace()
    assert space.from_model([1200, 900, -50, 100], (500, 400)) == Box(0, 40, 500, 360)


def _spaces() -> list[CoordinateSpace]:
    return [
        Qwen25PixelSpace(MIN_PIX, MAX_PIX),
        Qwen3RelativeSpace(min_pixels=MIN_PIX, max_pixels=MAX_PIX),
    ]


def _model_extent(space: CoordinateSpace, image_size: tuple[int, int]) -> tuple[int, int]:
    if isinstance(space, Qwen25PixelSpace):
        return space.resized_size(image_size)
    assert isinstance(space, Qwen3RelativeSpace)
    return space.scale, space.scale


@st.composite
def image_and_box(draw: st.DrawFn) -> tuple[tuple[int, int], Box]:
    w = draw(st.integers(16, 6000))
    h = draw(st.integers(max(16, math.ceil(w / 150)), min(6000, w * 150)))
    x1 = draw(st.floats(0, w - 1))
    y1 = draw(st.floats(0, h - 1))
    x2 = draw(st.floats(x1 + 1, w))
    y2 = draw(st.floats(y1 + 1, h))
    return (w, h), Box(x1, y1, x2, y2)


@pytest.mark.parametrize("space", _spaces(), ids=lambda s: s.name)
@FAST
@given(case=image_and_box())
def test_round_trip_within_one_model_unit(
    space: CoordinateSpace, case: tuple[tuple[int, int], Box]
) -> None:
    image_size, box = case
    mw, mh = _model_extent(space, image_size)
    values = space.to_model(box, image_size)
    assert all(isinstance(v, int) for v in values)
    assert 0 <= values[0] < values[2] <= mw and 0 <= values[1] < values[3] <= mh
    back = space.from_model(values, image_size)
    assert back is not None
    unit_x, unit_y = image_size[0] / mw, image_size[1] / mh  # original px per model unit
    tol = 1e-6
    assert abs(back.x1 - box.x1) <= unit_x + tol and abs(back.x2 - box.x2) <= unit_x + tol
    assert abs(back.y1 - box.y1) <= unit_y + tol and abs(back.y2 - box.y2) <= unit_y + tol


any_coord = st.floats(-1e12, 1e12, allow_nan=False)


@pytest.mark.parametrize("space", _spaces(), ids=lambda s: s.name)
@FAST
@given(
    image_size=st.tuples(st.integers(16, 5000), st.integers(16, 5000)),
    coords=st.tuples(any_coord, any_coord, any_coord, any_coord),
)
def test_to_model_always_inside_model_space(
    space: CoordinateSpace, image_size: tuple[int, int], coords: tuple[float, ...]
) -> None:
    assume(max(image_size) / min(image_size) <= 150)
    mw, mh = _model_extent(space, image_size)
    x1, y1, x2, y2 = space.to_model(Box(*coords), image_size)
    assert 0 <= x1 < x2 <= mw and 0 <= y1 < y2 <= mh


junk = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**30), 10**30),
    st.text(max_size=3),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)


@pytest.mark.parametrize("space", _spaces(), ids=lambda s: s.name)
@FAST
@given(
    values=st.one_of(st.lists(junk, max_size=6), junk, st.dictionaries(st.text(max_size=2), junk)),
    image_size=st.tuples(st.integers(1, 5000), st.integers(1, 5000)),
)
def test_from_model_never_raises(
    space: CoordinateSpace, values: object, image_size: tuple[int, int]
) -> None:
    box = space.from_model(values, image_size)  # type: ignore[arg-type]
    if box is not None:
        w, h = image_size
        assert 0 <= box.x1 < box.x2 <= w and 0 <= box.y1 < box.y2 <= h


@pytest.mark.parametrize(
    "values", [[1, 2, 3], [0, 0, float("nan"), 10], [5, 5, 5, 9], [10, 10, 1e309, 20], "abcd"]
)
def test_from_model_rejects_degenerate(values: object) -> None:
    for space in _spaces():
        assert space.from_model(values, (800, 600)) is None  # type: ignore[arg-type]


def test_from_model_huge_values_clamp_to_image() -> None:
    for space in _spaces():
        assert space.from_model([-1e300, -5, 10**40, 1e300], (800, 600)) == Box(0, 0, 800, 600)


def test_coordinate_space_for() -> None:
    for model_type in ("qwen2_vl", "qwen2_5_vl"):
        space = coordinate_space_for(model_type, MIN_PIX, MAX_PIX)
        assert isinstance(space, Qwen25PixelSpace)
        assert (space.min_pixels, space.max_pixels, space.factor) == (MIN_PIX, MAX_PIX, 28)
    for model_type in ("qwen3_vl", "qwen3_vl_moe"):
        space = coordinate_space_for(model_type, MIN_PIX, MAX_PIX)
        assert isinstance(space, Qwen3RelativeSpace)
        assert (space.min_pixels, space.max_pixels, space.factor) == (MIN_PIX, MAX_PIX, 32)
        assert isinstance(space, CoordinateSpace)
    with pytest.raises(ValueError, match="qwen2_5_vl.*qwen3_vl"):
        coordinate_space_for("llava", MIN_PIX, MAX_PIX)


def test_space_constructor_validation() -> None:
    with pytest.raises(ValueError, match="min_pixels"):
        Qwen25PixelSpace(MAX_PIX + 1, MAX_PIX)
    with pytest.raises(ValueError, match="patch_size"):
        Qwen25PixelSpace(MIN_PIX, MAX_PIX, patch_size=0)
    with pytest.raises(ValueError, match="scale"):
        Qwen3RelativeSpace(scale=0)


# ----------------------------------------------------------------------------- select_regions


def test_select_regions_drops_boxes_over_half_the_image() -> None:
    boxes = [Box(0, 0, 80, 80), Box(10, 10, 20, 20), Box(0, 0, 100, 50)]  # 64%, 1%, 50%
    assert select_regions(boxes, (100, 100)) == [1, 2]
    assert select_regions(boxes, (100, 100), max_area_fraction=0.49) == [1]


def test_select_regions_merges_duplicates_keeping_the_earlier() -> None:
    boxes = [
        Box(10, 10, 50, 50),
        Box(12, 11, 52, 49),  # IoU ~0.86 with #0
        Box(200, 200, 240, 240),
        Box(205, 205, 235, 235),  # 100% inside #2, area ratio 0.56, IoU 0.56 < 0.6
        Box(60, 60, 64, 64),
    ]
    assert select_regions(boxes, (500, 500)) == [0, 2, 4]
    assert select_regions(boxes, (500, 500), merge_iou=0.9) == [0, 2, 4]  # containment still
    assert select_regions(boxes[1:2] + boxes[0:1], (500, 500)) == [0]


def test_select_regions_keeps_small_detail_inside_large_region() -> None:
    face, eye = Box(100, 100, 300, 300), Box(150, 150, 180, 170)
    assert select_regions([face, eye], (1000, 1000)) == [0, 1]


def test_select_regions_order_and_max_regions() -> None:
    boxes = [Box(100 * i, 0, 100 * i + 50, 50) for i in range(6)]
    assert select_regions(boxes, (1000, 1000)) == [0, 1, 2, 3]
    assert select_regions(boxes, (1000, 1000), max_regions=2) == [0, 1]
    assert select_regions(boxes, (1000, 1000), max_regions=None) == [0, 1, 2, 3, 4, 5]
    assert select_regions(list(reversed(boxes)), (1000, 1000), max_regions=3) == [0, 1, 2]
    # dropped boxes do not use up the budget and indices still refer to the input
    assert select_regions([Box(0, 0, 1000, 1000)] + boxes, (1000, 1000)) == [1, 2, 3, 4]


def test_select_regions_skips_unusable_boxes() -> None:
    boxes = [Box(2000, 2000, 2100, 2100), Box(5, 5, 5, 90), Box(30, 40, 10, 20)]
    assert select_regions(boxes, (100, 100)) == [2]  # an inverted box is fine once ordered
    assert select_regions([], (100, 100)) == []


def test_select_regions_validates_arguments() -> None:
    with pytest.raises(ValueError, match="max_area_fraction"):
        select_regions([], (10, 10), max_area_fraction=0)
    with pytest.raises(ValueError, match="merge_iou"):
        select_regions([], (10, 10), merge_iou=1.5)
    with pytest.raises(ValueError, match="max_regions"):
        select_regions([], (10, 10), max_regions=-1)


def test_box_and_from_model_accept_numpy() -> None:
    np = pytest.importorskip("numpy")
    assert Box.from_list(np.array([1, 2, 3, 4], dtype=np.float32)) == Box(1, 2, 3, 4)
    assert Qwen3RelativeSpace().from_model(np.array([0, 0, 500, 500]), (10, 10)) == Box(0, 0, 5, 5)
    assert Qwen3RelativeSpace().from_model(np.float64(3.0), (10, 10)) is None  # type: ignore[arg-type]
