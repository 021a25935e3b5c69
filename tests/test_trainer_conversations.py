"""Training conversations: targets parse back to the ground truth; TRL rows are consistent."""

from __future__ import annotations

import random

import pytest
from PIL import Image

from inspector.core.closeups import CloseupPolicy
from inspector.core.geometry import Box
from inspector.core.protocol import (
    LOCATE_INSTRUCTION,
    LOCATE_INSTRUCTION_VARIANTS,
    RawRegion,
    parse_examine,
    parse_locate,
    serialize_locate,
)
from trainer.conversations import (
    NOTHING_PLANTED,
    answer_boxes,
    examine_sample,
    examined_finding,
    gt_model_boxes,
    locate_sample,
    space_for,
    trl_row,
)
from trainer.records import Record, Region
from trainer.rewards import format_reward_examine, format_reward_locate, iou_reward

SIZE = (640, 480)
SPACES = [
    ("qwen2_5_vl", 4 * 28 * 28, 36 * 28 * 28),
    ("qwen2_5_vl", 56 * 56, 28 * 28 * 1280),
    ("qwen3_vl", 56 * 56, 28 * 28 * 1280),
]


def _record(label="ai-generated") -> Record:
    return Record(
        image="photo.png", sha256="0" * 64, width=SIZE[0], height=SIZE[1], label=label,
        explanation="The left hand has six fingers and the sign is unreadable.",
        regions=[
            Region([33.5, 40.25, 151, 190], "six-fingered hand", "structure"),
            Region([400, 300, 610, 470], "garbled sign", "texture"),
            Region([250, 10, 330, 80]),
        ],
        source="gen-a",
    )


@pytest.fixture
def image():
    return Image.new("RGB", SIZE, (90, 140, 60))


@pytest.mark.parametrize(("model_type", "min_px", "max_px"), SPACES)
def test_locate_target_parses_back_to_ground_truth(image, model_type, min_px, max_px):
    space = space_for(model_type, min_px, max_px)
    record = _record()
    messages, target = locate_sample(record, space, random.Random(0), image=image)
    answer = parse_locate(target)
    assert answer.problems == []
    assert answer.verdict == record.label
    assert answer.explanation == record.explanation
    assert [r.label for r in answer.regions] == ["six-fingered hand", "garbled sign",
                                                 "detail to examine"]
    for raw, region in zip(answer.regions, record.regions, strict=True):
        back = space.from_model(raw.coords, SIZE)
        unit_x = SIZE[0] / space.resized_size(SIZE)[0] if "pixels" in space.name else SIZE[0] / 1000
        unit_y = SIZE[1] / space.resized_size(SIZE)[1] if "pixels" in space.name else SIZE[1] / 1000
        for got, want, unit in zip(back.to_list(), region.box, (unit_x, unit_y) * 2, strict=True):
            assert abs(got - want) <= unit + 1e-6
    assert messages[1]["content"][0]["image"] is image
    assert format_reward_locate([target]) == [1.0]
    assert iou_reward([target], gt_boxes=[gt_model_boxes(record, space)]) == [1.0]


def test_instruction_variants_are_drawn_with_the_rng(image):
    space = space_for("qwen3_vl", 56 * 56, 28 * 28 * 1280)
    seen = set()
    for seed in range(30):
        messages, _ = locate_sample(_record(), space, random.Random(seed), image=image)
        seen.add(messages[1]["content"][1]["text"])
    assert len(seen) == len(LOCATE_INSTRUCTION_VARIANTS)
    canonical, _ = locate_sample(_record(), space, None, image=image)
    hint = "on a 0-1000 scale relative to the image width and height"
    assert canonical[1]["content"][1]["text"] == LOCATE_INSTRUCTION.format(coordinate_hint=hint)


@pytest.mark.parametrize(("model_type", "min_px", "max_px"), SPACES)
def test_examine_sample_images_and_trl_row(image, model_type, min_px, max_px):
    space = space_for(model_type, min_px, max_px)
    record = _record()
    messages, images, target = examine_sample(
        record, space, CloseupPolicy(), random.Random(1), image=image
    )
    assert len(images) == len(record.regions) + 1
    assert images[0] is image
    answer = parse_examine(target, region_count=len(record.regions))
    assert answer.problems == []
    assert answer.verdict == record.label
    assert [f.points_to for f in answer.findings] == [record.label] * 3
    assert answer.findings[0].observation == "six-fingered hand"
    assert answer.tags == ["structure", "texture"]
    assert format_reward_examine([target], region_count=[3]) == [1.0]
    # the Query-1 answer in the prefix is the locate target
    assert parse_locate(messages[2]["content"][0]["text"]).verdict == record.label

    row = trl_row(messages, target, label=record.label, explanation=record.explanation,
                  gt_boxes=gt_model_boxes(record, space))
    placeholders = sum(
        1 for m in row["prompt"] for p in m["content"] if p["type"] == "image"
    )
    assert placeholders == len(row["images"]) == len(images)
    assert all("image" not in p for m in row["prompt"] for p in m["content"])
    assert row["images"] == images
    assert row["completion"][0]["content"][0]["text"] == target
    # TRL (data_utils.prepare_multimodal_messages) fills placeholders in message order; the
    # placeholders must sit where the protocol put the images (not imported here: importing
    # trl costs seconds).
    original = [p["type"] for m in messages for p in m["content"]]
    assert [p["type"] for m in row["prompt"] for p in m["content"]] == original


def test_snapped_answer_boxes_are_grid_aligned_in_reading_order(image):
    """With a grid (the locate warm-up's, SFT's --box-grid), Query 1 writes each box on the
    merged-token grid and the boxes top to bottom, then left to right: one right answer that the
    pointer taught by the where answers can write; Query 2's findings still name each box's own
    region."""
    space = space_for("qwen2_5_vl", 4 * 28 * 28, 36 * 28 * 28)
    record = _record()
    exact = answer_boxes(record, space)
    assert [i for _, i in exact] == [0, 1, 2]
    assert [box for box, _ in exact] == gt_model_boxes(record, space)
    # the where answers keep reading order without a grid too (the third region is highest)
    assert answer_boxes(record, space, reading_order=True) == [exact[2], exact[0], exact[1]]
    snapped = answer_boxes(record, space, 28, reading_order=True)
    width, height = space.resized_size(SIZE)
    # the hand and the third region both start on the top grid line: left to right, then the sign
    assert [i for _, i in snapped] == [0, 2, 1]
    for box, i in snapped:
        assert all(v % 28 == 0 or v in (width, height) for v in box)
        assert box[0] < box[2] and box[1] < box[3]
        # each snapped side lies within half a cell of the exact one
        assert all(abs(a - b) <= 14 for a, b in zip(box, exact[i][0], strict=True))

    _, target = locate_sample(record, space, None, image=image, grid=28)
    answer = parse_locate(target)
    assert [r.label for r in answer.regions] == ["six-fingered hand", "detail to examine",
                                                 "garbled sign"]
    assert [list(map(int, r.coords)) for r in answer.regions] == [b for b, _ in snapped]
    messages, images, target = examine_sample(record, space, CloseupPolicy(), None, image=image,
                                              grid=28)
    findings = parse_examine(target, region_count=3).findings
    assert [f.observation for f in findings] == ["six-fingered hand", "detail to examine",
                                                 "garbled sign"]
    captions = "".join(p.get("text", "") for p in messages[-1]["content"])
    assert "Close-up 2: detail to examine" in captions


def test_examine_skips_regions_too_large_for_a_closeup(image):
    record = _record()
    record.regions = [Region([0, 0, 640, 480], "whole scene"), Region([10, 10, 60, 60], "eye")]
    space = space_for("qwen3_vl", 56 * 56, 28 * 28 * 1280)
    messages, images, target = examine_sample(record, space, CloseupPolicy(), None, image=image)
    assert len(images) == 2
    answer = parse_examine(target, region_count=1)
    assert [f.observation for f in answer.findings] == ["eye"]
    assert "Close-up 1: eye" in messages[-1]["content"][0]["text"]


def test_image_size_mismatch_is_refused():
    space = space_for("qwen3_vl", 56 * 56, 28 * 28 * 1280)
    with pytest.raises(ValueError, match="record says 640x480"):
        locate_sample(_record(), space, None, image=Image.new("RGB", (10, 10)))


def test_samples_load_the_image_relative_to_the_dataset(tmp_path, image):
    from trainer.records import record_for_image

    path = tmp_path / "imgs" / "p.png"
    path.parent.mkdir()
    image.save(path)
    record = record_for_image(path, "real", "Fine.", [[10, 10, 100, 100]], "coco")
    record.image = "imgs/p.png"
    space = space_for("qwen2_5_vl", 56 * 56, 28 * 28 * 1280)
    messages, target = locate_sample(record, space, None, dataset_path=tmp_path / "d.jsonl")
    assert messages[1]["content"][0]["image"].size == SIZE


def test_query2_on_a_models_own_answer_cuts_its_boxes_and_says_what_they_show(image):
    """E15: a Query-2 row built on the model's Query-1 answer (trainer/impressions.py) keeps
    that answer verbatim, cuts the close-ups from its boxes (as the app does) and says per
    close-up what is really there; the verdict stays the record's."""
    space = space_for("qwen2_5_vl", 56 * 56, 28 * 28 * 1280)
    record = _record()
    first = record.regions[0].box  # the six-fingered hand, in image pixels
    # the model found the hand (a loose box) and looked at an empty corner; it said "real"
    found = space.to_model(Box(first[0] - 10, first[1] - 10, first[2] + 10, first[3] + 10), SIZE)
    missed = space.to_model(Box(500, 20, 600, 120), SIZE)
    answer = serialize_locate("Sharp, natural detail.", [
        RawRegion(list(found), "hand"), RawRegion(list(missed), "sky")], "real")
    messages, images, target = examine_sample(record, space, CloseupPolicy(), random.Random(0),
                                              image=image, model_answer=answer)
    assert messages[2]["content"][0]["text"] == answer  # the context is the model's own words
    assert len(images) == 3  # the whole image and one close-up per model box
    captions = [p["text"] for p in messages[3]["content"] if p["type"] == "text"]
    assert captions[0].startswith("Close-up 1: hand") and captions[1].startswith("Close-up 2: sky")
    parsed = parse_examine(target, region_count=2)
    assert parsed.problems == []
    assert [(f.observation, f.points_to) for f in parsed.findings] == [
        ("six-fingered hand", "ai-generated"), (NOTHING_PLANTED, "real")]
    assert parsed.verdict == "ai-generated"  # the record's label, not the first impression's
    assert parsed.explanation == record.explanation


def test_examined_finding_needs_the_box_to_show_a_region():
    record = _record()
    assert examined_finding(record, Box(40, 50, 140, 180)) == ("six-fingered hand", "ai-generated")
    # a large box around the small unlabelled region still shows it
    assert examined_finding(record, Box(200, 0, 380, 120)) == ("detail to examine", "ai-generated")
    assert examined_finding(record, Box(160, 200, 390, 290)) == (NOTHING_PLANTED, "real")
    real = _record(label="real")
    assert examined_finding(real, Box(40, 50, 140, 180)) == ("six-fingered hand", "real")
