"""The LTE paper's ablations as switches: close-up mode (located / random / none), region order
(answer / largest) and the close-up vision-token budget, in the planner and the pipeline."""

from __future__ import annotations

import json

import pytest

from inspector.core.backends.base import GenerationSettings
from inspector.core.backends.local import LocalBackend, LocalModelSpec
from inspector.core.closeups import CloseupPolicy, closeup_budget, plan_closeups
from inspector.core.geometry import Box
from inspector.core.pipeline import CloseupReady, Pipeline, PipelineOptions
from inspector.core.region_choice import random_stand_ins, region_order
from inspector.core.results import Analysis

SHA = "ab" * 32
SIZE = (640, 480)
BOXES = [Box(10, 10, 40, 40), Box(100, 100, 300, 250), Box(400, 300, 480, 400)]


def test_random_stand_ins_keep_sizes_stay_inside_and_repeat_per_image():
    first = random_stand_ins(BOXES, SIZE, "k:1")
    assert [(b.width, b.height) for b in first] == [(b.width, b.height) for b in BOXES]
    assert all(b.x1 >= 0 and b.x2 <= 640 and b.y1 >= 0 and b.y2 <= 480 for b in first)
    assert random_stand_ins(BOXES, SIZE, "k:1") == first  # same key: same places
    assert random_stand_ins(BOXES, SIZE, "k:2") != first  # another seed or image: others


def test_largest_order_sorts_by_area_and_keeps_answer_order_on_ties():
    assert region_order(BOXES, SIZE, "answer") == [0, 1, 2]
    assert region_order(BOXES, SIZE, "largest") == [1, 2, 0]
    twins = [Box(0, 0, 10, 10), Box(50, 50, 60, 60), Box(0, 0, 20, 20)]
    assert region_order(twins, SIZE, "largest") == [2, 0, 1]
    with pytest.raises(ValueError, match="region order must be one of answer, largest"):
        region_order(BOXES, SIZE, "confident")


def test_largest_order_changes_which_regions_are_kept():
    answer = plan_closeups(BOXES, SIZE, 1.0, CloseupPolicy(max_regions=2))
    largest = plan_closeups(BOXES, SIZE, 1.0, CloseupPolicy(max_regions=2, region_order="largest"))
    assert [p.region_index for p in answer] == [0, 1]
    assert [p.region_index for p in largest] == [1, 2]  # examined in that order


def test_random_mode_plans_same_size_boxes_elsewhere_seeded_by_image_and_seed():
    located = plan_closeups(BOXES, SIZE, 1.0, CloseupPolicy())
    policy = CloseupPolicy(mode="random", seed=7)
    shuffled = plan_closeups(BOXES, SIZE, 1.0, policy, image_sha256=SHA)
    assert [p.region_index for p in shuffled] == [p.region_index for p in located]
    assert [(p.box.width, p.box.height) for p in shuffled] == [
        (b.width, b.height) for b in BOXES
    ]
    assert [p.box for p in shuffled] != [p.box for p in located]
    assert plan_closeups(BOXES, SIZE, 1.0, policy, image_sha256=SHA) == shuffled
    other_image = plan_closeups(BOXES, SIZE, 1.0, policy, image_sha256="cd" * 32)
    other_seed = plan_closeups(BOXES, SIZE, 1.0, CloseupPolicy(mode="random", seed=8),
                               image_sha256=SHA)
    assert other_image != shuffled and other_seed != shuffled
    with pytest.raises(ValueError, match="SHA-256"):
        plan_closeups(BOXES, SIZE, 1.0, policy)
    assert plan_closeups(BOXES, SIZE, 1.0, CloseupPolicy(mode="none")) == []


def test_bad_switch_values_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="located, random, none"):
        CloseupPolicy(mode="shuffled")
    with pytest.raises(ValueError, match="budget"):
        CloseupPolicy(budget=0)


def test_budget_caps_closeup_pixels_but_never_goes_below_native_resolution():
    # the global view at full resolution (scale 1): close-ups are asked at 2x
    boxes = [Box(100, 100, 200, 200), Box(300, 200, 380, 260), Box(20, 300, 120, 420)]
    free = plan_closeups(boxes, SIZE, 1.0, CloseupPolicy())
    free_cost = closeup_budget(free, SIZE, 1.0, CloseupPolicy())
    assert free_cost["global_view_pixels"] == 640 * 480
    assert free_cost["closeup_pixels"] > 0.5 * free_cost["global_view_pixels"]  # the problem
    assert free_cost["budget_pixels"] is None

    policy = CloseupPolicy(budget=0.5)
    capped = plan_closeups(boxes, SIZE, 1.0, policy)
    cost = closeup_budget(capped, SIZE, 1.0, policy)
    assert cost["budget_pixels"] == 640 * 480 // 2
    # rounding each side up to whole pixels adds at most a row and a column per close-up
    assert cost["budget_pixels"] * 0.95 < cost["closeup_pixels"] <= cost["budget_pixels"] + sum(
        p.output_size[0] + p.output_size[1] + 1 for p in capped)
    assert all(1.0 <= p.scale < q.scale for p, q in zip(capped, free, strict=True))
    assert [p.crop_box for p in capped] == [p.crop_box for p in free]  # same view, fewer pixels

    # a budget too small for native resolution: native resolution wins, the record shows it
    tight = CloseupPolicy(budget=0.1)
    native = plan_closeups(boxes, SIZE, 1.0, tight)
    assert all(p.scale >= 1.0 for p in native)
    assert closeup_budget(native, SIZE, 1.0, tight)["closeup_share"] > 0.1


def test_budget_counts_the_vision_tokens_the_processor_really_makes():
    """A processor with a 64-token minimum lifts small close-ups back up: counted in pixels the
    budget is met on paper and exceeded in tokens; counted in tokens it holds, and no close-up
    is rendered above the processor's maximum."""
    from inspector.core.geometry import Qwen25PixelSpace

    processor = Qwen25PixelSpace(min_pixels=64 * 28 * 28, max_pixels=640 * 28 * 28)
    size = (800, 600)
    scale = processor.view_scale(size)
    boxes = [Box(100, 100, 300, 300), Box(400, 300, 560, 420), Box(50, 400, 80, 430),
             Box(500, 50, 530, 80), Box(300, 350, 330, 380)]  # two large, three small
    policy = CloseupPolicy(budget=0.75, max_pixels=2048 * 2048, max_regions=5)
    in_pixels = plan_closeups(boxes, size, scale, policy)
    record = closeup_budget(in_pixels, size, scale, policy, processor)
    assert record["closeup_share"] <= 0.76  # within the pixel budget ...
    assert record["closeup_token_share"] > 0.9  # ... but not in the tokens the model reads

    in_tokens = plan_closeups(boxes, size, scale, policy, processor=processor)
    record = closeup_budget(in_tokens, size, scale, policy, processor)
    assert record["budget_tokens"] == round(0.75 * record["global_view_tokens"])
    assert 0.85 * record["budget_tokens"] <= record["closeup_tokens"] <= record["budget_tokens"]
    assert all(p.output_size[0] * p.output_size[1] <= processor.max_pixels for p in in_tokens)
    assert all(p.scale >= 1.0 for p in in_tokens)  # never below native resolution
    assert [p.crop_box for p in in_tokens] == [p.crop_box for p in in_pixels]
    # without a budget the processor changes nothing (the plans are today's)
    free = CloseupPolicy(max_pixels=2048 * 2048, max_regions=5)
    assert plan_closeups(boxes, size, scale, free, processor=processor) == plan_closeups(
        boxes, size, scale, free)


# --------------------------------------------------------------------------------------------
# The pipeline, with the tiny taught Qwen2.5-VL (real model output)


@pytest.fixture(scope="module")
def taught_backend(taught_case):
    settings = GenerationSettings(max_new_tokens_locate=400, max_new_tokens_examine=400)
    return LocalBackend(LocalModelSpec(source=str(taught_case.model_dir), device="cpu"), settings)


def _analyze(backend, path, policy):
    events = []
    analysis = Pipeline(backend, PipelineOptions(policy=policy)).analyze(path, events.append)
    return analysis, [e for e in events if isinstance(e, CloseupReady)]


def test_random_closeups_examine_stand_ins_and_the_record_says_so(taught_backend, taught_case):
    located, _ = _analyze(taught_backend, taught_case.image_path, CloseupPolicy())
    policy = CloseupPolicy(mode="random", seed=3)
    shuffled, ready = _analyze(taught_backend, taught_case.image_path, policy)
    assert located.closeup_policy["mode"] == "located"
    assert all(c.box is None for c in located.closeups)
    assert shuffled.closeup_policy["mode"] == "random" and shuffled.closeup_policy["seed"] == 3
    assert shuffled.query2 is not None  # Query 2 ran, on the stand-ins
    assert [r.box for r in shuffled.regions] == [r.box for r in located.regions]
    assert len(ready) == len(shuffled.closeups) == len(located.closeups)
    for closeup in shuffled.closeups:
        region = shuffled.regions[closeup.region - 1]
        assert closeup.box is not None and closeup.box != region.box
        assert closeup.box[2] - closeup.box[0] == pytest.approx(region.box[2] - region.box[0],
                                                               abs=0.5)
    assert [c.crop_box for c in shuffled.closeups] != [c.crop_box for c in located.closeups]
    again, _ = _analyze(taught_backend, taught_case.image_path, policy)
    assert [c.box for c in again.closeups] == [c.box for c in shuffled.closeups]
    # the record survives a round trip through JSON with the switch in it
    restored = Analysis.from_dict(shuffled.to_dict())
    assert restored.closeup_policy == shuffled.closeup_policy
    assert restored.closeups == shuffled.closeups


def test_no_closeups_skip_query2_and_keep_the_initial_verdict(taught_backend, taught_case):
    analysis, ready = _analyze(
        taught_backend, taught_case.image_path, CloseupPolicy(mode="none"))
    assert ready == [] and analysis.closeups == [] and analysis.query2 is None
    assert analysis.final_verdict == analysis.initial_verdict and analysis.changed is False
    assert "none" in analysis.examine_skipped
    assert analysis.closeup_policy["mode"] == "none"


def test_cli_switches_reach_the_record(taught_case, tmp_path, capsys):
    from inspector.cli import main

    out = tmp_path / "r.jsonl"
    code = main([
        "analyze", str(taught_case.image_path), "--model", str(taught_case.model_dir),
        "--device", "cpu", "--max-new-tokens", "400", "--json", str(out),
        "--closeups", "random", "--closeup-seed", "4", "--region-order", "largest",
        "--closeup-budget", "0.5",
    ])
    assert code == 0
    assert "research ablation" in capsys.readouterr().err
    analysis = Analysis.from_dict(json.loads(out.read_text().splitlines()[0])["analysis"])
    policy = analysis.closeup_policy
    assert (policy["mode"], policy["seed"], policy["region_order"], policy["budget"]) == (
        "random", 4, "largest", 0.5)
    assert policy["closeup_pixels"] > 0 and policy["budget_pixels"] > 0
    assert analysis.closeups and all(c.box is not None for c in analysis.closeups)


def test_cli_refuses_an_unknown_mode_and_a_bad_budget(capsys):
    from inspector.cli import main

    with pytest.raises(SystemExit):
        main(["analyze", "x.png", "--closeups", "shuffled"])
    assert "located, random, none" in capsys.readouterr().err.replace("'", "")
    assert main(["analyze", "x.png", "--model", "m", "--closeup-budget", "-1"]) == 2
    assert "budget must be None or a fraction" in capsys.readouterr().err
