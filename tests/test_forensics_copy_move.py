"""Copy-move detection on skimage photos with known clones, and on the same photos untouched."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from inspector.core.forensics import copy_move, run_forensics
from inspector.core.forensics.base import ForensicInput

PATCH = 96
# photo: 400x300 crop origin (x, y); a textured source patch and where it is pasted (crop coords)
CLONES = {
    "astronaut": ((100, 0), (110, 20), (280, 180)),  # hair and forehead -> by the shuttle model
    "coffee": ((100, 50), (240, 200), (20, 20)),  # the spoon -> the saucer's far rim
    "chelsea": ((40, 0), (100, 60), (280, 180)),  # the left eye -> the cheek
    "rocket": ((0, 120), (10, 160), (200, 20)),  # lit lattice tower -> the night sky
}


def _photo(name: str, x: int = 0, y: int = 0) -> np.ndarray:
    pixels = getattr(data, name)()
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    return np.ascontiguousarray(pixels[y : y + 300, x : x + 400, :3])


def _evidence(pixels: np.ndarray, quality: int | None = None) -> ForensicInput:
    """The pixels as a file would deliver them: PNG, or JPEG at ``quality`` (decoded again)."""
    buf = io.BytesIO()
    if quality is None:
        Image.fromarray(pixels).save(buf, format="PNG")
    else:
        Image.fromarray(pixels).save(buf, format="JPEG", quality=quality)
    raw = buf.getvalue()
    image = Image.open(io.BytesIO(raw))
    sha256 = hashlib.sha256(raw).hexdigest()
    return ForensicInput(Path(f"evidence.{image.format.lower()}"), raw, image.convert("RGB"),
                         image.format, sha256)  # fmt: skip


def _forged(name: str) -> tuple[np.ndarray, list[int], list[int]]:
    origin, (sx, sy), (tx, ty) = CLONES[name]
    pixels = _photo(name, *origin)
    pixels[ty : ty + PATCH, tx : tx + PATCH] = pixels[sy : sy + PATCH, sx : sx + PATCH].copy()
    return pixels, [sx, sy, sx + PATCH, sy + PATCH], [tx, ty, tx + PATCH, ty + PATCH]


def _iou(a: list[int], b: list[int]) -> float:
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union


def _ends_found(pair: dict, source: list[int], target: list[int]) -> tuple[float, float]:
    """IoU of the true source and target with the pair's ends (which end is which is unknowable)."""
    straight = (_iou(pair["source"], source), _iou(pair["target"], target))
    swapped = (_iou(pair["target"], source), _iou(pair["source"], target))
    return max(straight, swapped, key=min)


@pytest.mark.parametrize("quality", [None, 90], ids=["png", "jpeg90"])
@pytest.mark.parametrize("name", sorted(CLONES))
def test_a_cloned_patch_is_found_and_outlined(name: str, quality: int | None) -> None:
    pixels, source, target = _forged(name)
    result = copy_move.analyze(_evidence(pixels, quality))
    assert result.indicators["detected"] is True
    pairs = result.indicators["pairs"]
    assert len(pairs) == 1
    source_iou, target_iou = _ends_found(pairs[0], source, target)
    assert target_iou >= 0.5 and source_iou >= 0.5, (pairs[0], source, target)
    assert pairs[0]["matches"] >= copy_move.MIN_INLIERS
    assert abs(pairs[0]["rotation"]) < 1 and abs(pairs[0]["scale"] - 1) < 0.01
    assert [r.label for r in result.regions] == ["clone source 1", "clone target 1"]
    assert [r.box for r in result.regions] == [pairs[0]["source"], pairs[0]["target"]]
    # the map (here at full size) is lit on the two ends and dark elsewhere
    assert result.map is not None and result.map.shape == (300, 400)
    assert result.map.dtype == np.float32
    for x1, y1, x2, y2 in (source, target):
        assert result.map[y1:y2, x1:x2].mean() > 0.5
    assert result.map.mean() < 0.25
    json.dumps(result.to_dict("map.png"))  # JSON-ready: no numpy scalars anywhere


@pytest.mark.parametrize(
    ("name", "x", "y"),
    [
        ("astronaut", 100, 0), ("astronaut", 0, 200), ("coffee", 100, 50), ("chelsea", 40, 0),
        ("rocket", 0, 120), ("rocket", 200, 0), ("camera", 50, 100),
        # repetitive textures (whole 512x512 textures are no clean case: gravel() and grass()
        # hold areas cloned when they were made tileable, which this analysis finds)
        ("brick", 0, 0), ("brick", 100, 200), ("gravel", 0, 0),
    ],
)  # fmt: skip
def test_untouched_photos_give_none(name: str, x: int, y: int) -> None:
    for quality in (None, 90):
        result = copy_move.analyze(_evidence(_photo(name, x, y), quality))
        assert result.indicators == {"detected": False, "pairs": []}, result.indicators
        assert result.regions == [] and result.map is None
        assert result.statement.startswith("No cloned regions")


def test_rotated_and_resized_clones_report_their_transform() -> None:
    pixels = _photo("astronaut", 100, 0)
    patch = pixels[20:116, 110:206].copy()
    turned = pixels.copy()
    turned[180:276, 280:376] = np.rot90(patch)  # a quarter turn
    resized = pixels.copy()
    resized[170:290, 270:390] = cv2.resize(patch, (120, 120), interpolation=cv2.INTER_CUBIC)

    (pair,) = copy_move.analyze(_evidence(turned, 90)).indicators["pairs"]
    assert abs(abs(pair["rotation"]) - 90) < 2 and abs(pair["scale"] - 1) < 0.02
    (pair,) = copy_move.analyze(_evidence(resized, 90)).indicators["pairs"]
    assert abs(pair["rotation"]) < 2 and abs(max(pair["scale"], 1 / pair["scale"]) - 1.25) < 0.03
    small, large = sorted((pair["source"], pair["target"]), key=lambda b: b[2] - b[0])
    assert _iou(small, [110, 20, 206, 116]) >= 0.5 and _iou(large, [270, 170, 390, 290]) >= 0.5


def test_a_large_image_is_examined_reduced_and_boxes_come_back_in_its_pixels() -> None:
    pixels, source, target = _forged("astronaut")
    big = np.asarray(Image.fromarray(pixels).resize((1200, 900), Image.Resampling.BICUBIC))
    result = copy_move.analyze(_evidence(big, 90))
    assert result.parameters["reduction"] == 2 and result.parameters["working_size"] == [600, 450]
    (pair,) = result.indicators["pairs"]
    source_iou, target_iou = _ends_found(pair, [3 * v for v in source], [3 * v for v in target])
    assert source_iou >= 0.5 and target_iou >= 0.5, pair
    assert result.map is not None and result.map.shape == (450, 600)


def test_a_patch_pasted_twice_gives_three_pairs() -> None:
    pixels = _photo("astronaut", 100, 0)
    patch = pixels[20:116, 110:206].copy()
    pixels[180:276, 280:376] = patch
    pixels[190:286, 10:106] = patch  # exact copies: the generalised 2NN test keeps both matches
    result = copy_move.analyze(_evidence(pixels))
    ends = {tuple(p[end]) for p in result.indicators["pairs"] for end in ("source", "target")}
    assert len(result.indicators["pairs"]) == 3
    for truth in ([110, 20, 206, 116], [280, 180, 376, 276], [10, 190, 106, 286]):
        assert max(_iou(list(end), truth) for end in ends) >= 0.5


def test_keypoints_agreeing_where_pixels_do_not_are_no_clone() -> None:
    """A chequerboard turned 90 degrees matches its corners but has its colours swapped."""
    board = np.stack([data.checkerboard()] * 3, axis=-1)
    result = copy_move.analyze(_evidence(board))
    assert result.parameters["unconfirmed_transforms"] >= 1
    assert result.indicators["detected"] is False


@pytest.mark.parametrize(
    "pixels",
    [np.full((300, 400, 3), 128, np.uint8), _photo("astronaut", 200, 100)[:16, :16],
     np.zeros((1, 1, 3), np.uint8)],
    ids=["flat-grey", "16x16", "1x1"],
)  # fmt: skip
def test_blank_and_tiny_images_are_handled(pixels: np.ndarray) -> None:
    result = copy_move.analyze(_evidence(np.ascontiguousarray(pixels)))
    assert result.applicable and result.error is None
    assert result.indicators == {"detected": False, "pairs": []}
    assert result.statement.startswith("Too little detail")
    json.dumps(result.to_dict())


def test_g2nn_keeps_distinct_matches_and_drops_close_or_ambiguous_ones() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 60, (6, 128)).astype(np.float32)
    nudges = 20 * np.eye(128, dtype=np.float32)[:3]  # three mutually equidistant variants
    descriptors = np.concatenate([
        base[[0, 0, 0]],  # three exact copies far apart: all three pairs pass
        base[[1, 1]],  # an exact copy only 5 px away: the same structure, dropped
        base[2] + nudges,  # each has two equally near neighbours (d1/d2 = 1): ambiguous
        base[3:6],  # unrelated
    ])  # fmt: skip
    points = np.array(
        [[0, 0], [100, 0], [0, 100], [50, 50], [53, 54], [200, 0], [0, 200], [200, 200],
         [300, 0], [0, 300], [300, 300]], np.float32,
    )  # fmt: skip
    pairs = {tuple(p) for p in copy_move._g2nn_pairs(points, descriptors).tolist()}
    assert pairs == {(0, 1), (0, 2), (1, 2)}


def test_runs_through_the_forensics_runner() -> None:
    pixels, _, _ = _forged("coffee")
    (result,) = run_forensics(_evidence(pixels, 90), only=["copy_move"])
    assert result.name == "copy_move" and result.title == copy_move.TITLE and result.error is None
    assert result.indicators["detected"] is True and result.seconds > 0
