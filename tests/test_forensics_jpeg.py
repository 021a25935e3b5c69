"""JPEG structure and double-JPEG analyses, on skimage photographs saved with known settings.

Every claim is tested both ways: the quality Pillow saved with is read back, and custom tables
are told apart from IJG ones; a photo saved twice (first coarser) is flagged with its first
quality and a photo saved once is not.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from inspector.core.forensics import double_jpeg, jpeg
from inspector.core.forensics.base import ForensicInput
from inspector.core.imageio import load_image
from tests.conftest import skimage_photo

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def photo(name: str) -> Image.Image:
    """A 400x300 crop, offset so that any grid the source photo once had is not ours."""
    return skimage_photo(name).crop((3, 5, 403, 305))


def encode(image: Image.Image, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", **options)
    return buf.getvalue()


def resave(data: bytes, **options) -> bytes:
    """Decode a JPEG to RGB and save it again (the re-save of an edited or shared photo)."""
    return encode(Image.open(io.BytesIO(data)).convert("RGB"), **options)


def evidence(tmp_path: Path, data: bytes, name: str = "evidence.jpg") -> ForensicInput:
    path = tmp_path / name
    path.write_bytes(data)
    return ForensicInput.from_loaded(load_image(path))


def as_json(result) -> dict:
    return json.loads(json.dumps(result.to_dict()))  # plain python types only


# --------------------------------------------------------------------------------------------
# JPEG structure


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_quality_read_back_exactly_for_pillow_qualities_40_to_95(tmp_path, name):
    image = photo(name)
    for quality in range(40, 96):
        ind = jpeg.analyze(evidence(tmp_path, encode(image, quality=quality))).indicators
        assert ind["standard_tables"] is True, quality
        assert ind["quality"] == quality  # exact tables -> exact quality (the spec asks +-2)
        assert ind["quality_match_error"] == 0.0


def test_every_ijg_quality_gives_distinct_tables_and_is_recovered():
    for quality in range(1, 101):
        match = jpeg.estimate_ijg_quality(
            list(jpeg.ijg_tables(quality)), list(jpeg.ijg_tables(quality, jpeg.ANNEX_K_CHROMA))
        )
        assert (match.quality, match.exact) == (quality, True)


def test_tables_are_in_natural_order_like_this_pillow(tmp_path):
    # Pillow >= 8.3 returns natural order (python-pillow/Pillow#4989); we parse DQT ourselves.
    data = encode(photo("astronaut"), quality=83)
    ind = jpeg.analyze(evidence(tmp_path, data)).indicators
    pillow = Image.open(io.BytesIO(data)).quantization
    assert ind["tables"] == [list(pillow[k]) for k in sorted(pillow)]
    assert ind["tables"][0] == [int(v) for v in jpeg.ijg_tables(83)]
    natural_to_zigzag = JpegImagePlugin.zigzag_index  # Pillow's: natural index -> file position
    assert all(jpeg.ZIGZAG[natural_to_zigzag[n]] == n for n in range(64))


def test_custom_tables_are_not_standard_and_get_the_nearest_quality(tmp_path):
    luma = [int(v) + (i % 3) for i, v in enumerate(jpeg.ijg_tables(80))]  # camera-like tweak
    data = encode(photo("coffee"), qtables=[luma, luma])
    ind = jpeg.analyze(evidence(tmp_path, data)).indicators
    assert ind["standard_tables"] is False
    assert ind["quality_match_error"] > 0
    assert abs(ind["quality"] - 80) <= 3
    flat = encode(photo("coffee"), qtables=[[10] * 64, [10] * 64])
    assert jpeg.analyze(evidence(tmp_path, flat)).indicators["standard_tables"] is False


@pytest.mark.parametrize(
    ("subsampling", "expected", "pillow_code"),
    [("4:4:4", "4:4:4", 0), ("4:2:2", "4:2:2", 1), ("4:2:0", "4:2:0", 2)],
)
def test_subsampling_as_saved(tmp_path, subsampling, expected, pillow_code):
    data = encode(photo("chelsea"), quality=85, subsampling=subsampling)
    ind = jpeg.analyze(evidence(tmp_path, data)).indicators
    assert ind["subsampling"] == expected
    assert JpegImagePlugin.get_sampling(Image.open(io.BytesIO(data))) == pillow_code


def test_progressive_baseline_scans_and_restart_markers(tmp_path):
    image = photo("rocket")
    base = jpeg.analyze(evidence(tmp_path, encode(image, quality=80)))
    assert base.indicators["progressive"] is False and base.indicators["scans"] == 1
    assert base.indicators["restart_interval"] == 0 and base.indicators["restart_markers"] == 0
    assert "baseline" in base.statement and "quality 80" in base.statement
    prog = jpeg.analyze(evidence(tmp_path, encode(image, quality=80, progressive=True)))
    assert prog.indicators["progressive"] is True and prog.indicators["scans"] > 1
    assert "progressive" in prog.statement
    restarts = jpeg.analyze(evidence(tmp_path, encode(image, quality=80, restart_marker_rows=1)))
    assert restarts.indicators["restart_interval"] > 0
    # 300 px high, 4:2:0 -> 16-px MCU rows -> 19 rows -> one RST between consecutive rows
    assert restarts.indicators["restart_markers"] == 18


def test_greyscale_jpeg(tmp_path):
    data = encode(photo("astronaut").convert("L"), quality=70)
    ind = jpeg.analyze(evidence(tmp_path, data)).indicators
    assert ind["quality"] == 70 and ind["standard_tables"] is True
    assert len(ind["tables"]) == 1 and "greyscale" in ind["subsampling"]


def test_png_is_not_applicable(tmp_path):
    buf = io.BytesIO()
    photo("astronaut").save(buf, format="PNG")
    for module in (jpeg, double_jpeg):
        result = module.analyze(evidence(tmp_path, buf.getvalue(), "evidence.png"))
        assert result.applicable is False
        assert result.statement.startswith("Not a JPEG file")
        assert result.map is None
    ind = jpeg.analyze(evidence(tmp_path, buf.getvalue(), "evidence.png")).indicators
    assert {"quality", "tables", "subsampling", "progressive", "standard_tables",
            "restart_interval", "quality_match_error"} <= set(ind)  # fmt: skip
    assert all(value is None for value in ind.values())


def test_jpeg_result_is_plain_json(tmp_path):
    result = jpeg.analyze(evidence(tmp_path, encode(photo("coffee"), quality=90)))
    assert as_json(result)["indicators"]["quality"] == 90


# --------------------------------------------------------------------------------------------
# Double JPEG


@pytest.mark.parametrize("name", PHOTOS)
@pytest.mark.parametrize(("first", "second"), [(60, 90), (75, 95)])
def test_double_compression_detected_with_first_quality(tmp_path, name, first, second):
    data = resave(encode(photo(name), quality=first), quality=second)
    result = double_jpeg.analyze(evidence(tmp_path, data))
    ind = as_json(result)["indicators"]
    assert ind["detected"] is True, ind["score"]
    assert ind["score"] >= 2 * double_jpeg.DETECTION_THRESHOLD  # not a borderline call
    assert ind["first_quality"] is not None and abs(ind["first_quality"] - first) <= 2
    assert f"quality {second}" in result.statement
    assert result.map is not None and result.map.dtype == np.float32
    assert float(result.map.min()) >= 0.0 and float(result.map.max()) <= 1.0
    assert result.map.mean() > 0.6  # the whole picture was saved twice


@pytest.mark.parametrize("name", PHOTOS)
@pytest.mark.parametrize("quality", [75, 90, 95])
def test_single_compression_stays_quiet(tmp_path, name, quality):
    result = double_jpeg.analyze(evidence(tmp_path, encode(photo(name), quality=quality)))
    ind = as_json(result)["indicators"]
    assert ind["detected"] is False and ind["judged"] is True
    assert ind["score"] < double_jpeg.DETECTION_THRESHOLD / 2
    assert ind["first_quality"] is None and result.map is None


def test_map_points_at_a_pasted_single_compressed_patch(tmp_path):
    base = Image.open(io.BytesIO(encode(skimage_photo("chelsea"), quality=60))).convert("RGB")
    base.paste(photo("coffee").crop((100, 100, 260, 228)), (160, 96))  # 8-aligned, 5x4 tiles
    result = double_jpeg.analyze(evidence(tmp_path, encode(base, quality=90)))
    assert result.indicators["detected"] is True
    tiles = result.map  # 32-px tiles over 451x300
    assert tiles.shape == (300 // 32, 451 // 32)
    inside = tiles[3:6, 5:8].mean()  # tiles wholly within the patch (x 160-320, y 96-224)
    outside = tiles[:, :4].mean()  # the left third, well away from the patch
    assert inside < 0.2 and outside > 0.8


def test_resave_off_the_grid_is_not_seen(tmp_path):
    first = Image.open(io.BytesIO(encode(photo("astronaut"), quality=60))).convert("RGB")
    shifted = encode(first.crop((3, 3, first.width, first.height)), quality=90)
    assert double_jpeg.analyze(evidence(tmp_path, shifted)).indicators["detected"] is False
    aligned = encode(first.crop((8, 8, first.width, first.height)), quality=90)
    assert double_jpeg.analyze(evidence(tmp_path, aligned)).indicators["detected"] is True


def test_exif_rotation_is_undone_to_find_the_grid(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # the loader rotates by 90 degrees for display
    first = Image.open(io.BytesIO(encode(photo("camera"), quality=60))).convert("RGB")
    result = double_jpeg.analyze(evidence(tmp_path, encode(first, quality=90, exif=exif)))
    assert result.indicators["detected"] is True
    assert result.map is not None and result.map.shape[0] > result.map.shape[1]  # portrait


def test_custom_first_tables_detected_without_a_first_quality(tmp_path):
    first = encode(photo("coffee"), qtables=[[12] * 64, [12] * 64])
    result = double_jpeg.analyze(evidence(tmp_path, resave(first, quality=90)))
    assert result.indicators["detected"] is True
    assert result.indicators["first_quality"] is None
    steps = [f["q1"] for f in result.indicators["frequencies"][:8]]
    assert steps.count(12) >= 6  # the flat first table is read per frequency


def test_graphics_with_few_distinct_blocks_are_not_judged(tmp_path):
    from skimage import data

    board = Image.fromarray(data.checkerboard()).convert("RGB")
    result = double_jpeg.analyze(evidence(tmp_path, encode(board, quality=90)))
    assert result.indicators["judged"] is False and result.indicators["detected"] is False
    assert "Too little distinct texture" in result.statement
