"""GRPO reward functions: hand-computed IoU, BLEU-2 bounds, format checks, staged weights."""

from __future__ import annotations

import pytest

from inspector.core.protocol import Finding, RawRegion, serialize_examine, serialize_locate
from trainer.rewards import (
    bleu2_reward,
    findings_reward,
    format_reward_examine,
    format_reward_locate,
    iou_reward,
    locate_verdict_reward,
    make_relaxed_iou_reward,
    make_verdict_reward,
    make_weighted,
    only_on,
    recall_iou_reward,
    relaxed_iou_reward,
    rouge_l,
    staged_rewards,
    staged_weights,
    verdict_reward,
)


def locate(*boxes, verdict="real") -> str:
    return serialize_locate("Because.", [RawRegion(list(b), "r") for b in boxes], verdict)


def examine(verdict="ai-generated", explanation="the hand has six fingers") -> str:
    return serialize_examine([Finding(1, "odd", verdict)], explanation, verdict, ["structure"])


def test_iou_reward_is_mean_over_predictions_of_best_gt_iou():
    gt = [[0, 0, 10, 10], [20, 0, 30, 10]]
    # exact hit (1.0) + half-overlapping box [5,0,15,10] vs [0,0,10,10]: 50/150 = 1/3
    out = iou_reward([locate([0, 0, 10, 10], [5, 0, 15, 10])], gt_boxes=[gt])
    assert out == [pytest.approx((1 + 1 / 3) / 2)]
    assert iou_reward([locate()], gt_boxes=[gt]) == [0.0]  # empty prediction
    assert iou_reward([locate([0, 0, 1, 1])], gt_boxes=[[]]) == [None]  # no ground truth
    assert iou_reward(["garbage"], gt_boxes=[gt]) == [0.0]
    # corners written backwards are ordered, as the app's parser does
    assert iou_reward([locate([10, 10, 0, 0])], gt_boxes=[gt]) == [1.0]


def test_recall_and_relaxed_iou():
    gt = [[0, 0, 10, 10], [20, 0, 30, 10]]
    pred = locate([0, 0, 10, 10])
    assert recall_iou_reward([pred], gt_boxes=[gt]) == [pytest.approx(0.5)]
    assert iou_reward([pred], gt_boxes=[gt]) == [1.0]
    # union IoU: pred area 100, gt union 200, intersection 100 -> 0.5; eta 2 -> 1.0
    assert relaxed_iou_reward([pred], gt_boxes=[gt]) == [pytest.approx(1.0)]
    assert make_relaxed_iou_reward(1.5)([pred], gt_boxes=[gt]) == [pytest.approx(0.75)]
    # overlapping predictions count once in the union
    two = locate([0, 0, 10, 10], [0, 0, 10, 10])
    assert make_relaxed_iou_reward(1.0)([two], gt_boxes=[gt]) == [pytest.approx(0.5)]


def test_bleu2_bounds_and_rouge():
    same = "the left hand has six fingers and the text is garbled"
    assert bleu2_reward([examine(explanation=same)], explanation=[same]) == [pytest.approx(1.0)]
    assert bleu2_reward([examine(explanation="purple zebras dance")],
                        explanation=[same]) == [0.0]
    partial = bleu2_reward([examine(explanation="the left hand has five fingers")],
                           explanation=[same])[0]
    assert 0 < partial < 1
    assert bleu2_reward(["no tags at all"], explanation=[same]) == [0.0]
    assert rouge_l([examine(explanation=same)], explanation=[same]) == [pytest.approx(1.0)]


def test_format_rewards_valid_truncated_garbage():
    good = locate([0, 0, 10, 10])
    assert format_reward_locate([good, good[:-12], "lorem ipsum", ""]) == [1.0, 0.0, 0.0, 0.0]
    ok = examine()
    assert format_reward_examine([ok, ok[: len(ok) // 2], "???"]) == [1.0, 0.0, 0.0]
    # a finding about a region that was not shown breaks the format when region_count is given
    assert format_reward_examine([ok, ok], region_count=[1, 0]) == [1.0, 0.0]


def test_conversational_completions_accepted():
    conv = [[{"role": "assistant", "content": locate([0, 0, 10, 10])}]]
    assert format_reward_locate(conv) == [1.0]
    assert iou_reward(conv, gt_boxes=[[[0, 0, 10, 10]]]) == [1.0]
    parts = [[{"role": "assistant", "content": [{"type": "text", "text": examine()}]}]]
    assert verdict_reward(parts, label=["ai-generated"]) == [1.0]


def test_verdict_reward_asymmetric():
    comps = [examine("ai-generated"), examine("real"), "nothing"]
    labels = ["ai-generated"] * 3
    assert verdict_reward(comps, label=labels) == [1.0, 0.0, 0.0]
    assert make_verdict_reward(2.0, -1.0)(comps, label=labels) == [2.0, -1.0, -1.0]


def test_dual_verdict_reward_reads_the_query1_verdict():
    """The "dual verdict reward" ablation: Query 1's verdict, read with the Query-1 parser."""
    comps = [locate((1, 1, 5, 5), verdict="ai-generated"), locate((1, 1, 5, 5)), "garbage"]
    labels = ["ai-generated"] * 3
    assert locate_verdict_reward(comps, label=labels) == [1.0, 0.0, 0.0]
    assert locate_verdict_reward.__name__ == "locate_verdict_reward"
    # the Query-2 reward does not read a Query-1 answer's verdict position the same way: the
    # two rewards are different functions of the same completion
    assert verdict_reward([examine("real")], label=["real"]) == [1.0]
    assert make_verdict_reward(2.0, -1.0, query="locate")(comps, label=labels) == [2.0, -1.0, -1.0]
    with pytest.raises(ValueError, match="locate' or 'examine"):
        make_verdict_reward(query="both")


def test_findings_reward_is_the_share_of_closeups_read_right():
    """Our Query-2 reward: each finding against what its close-up really holds."""
    def answer(*points_to):
        return serialize_examine([Finding(i, "seen", p) for i, p in enumerate(points_to, 1)],
                                 "because", "ai-generated", ["texture"])

    truth = ["ai-generated", "real"]
    out = findings_reward(
        [answer("ai-generated", "real"), answer("real", "real"), answer("ai-generated"),
         "garbage", answer("real", "ai-generated"), answer("real")],
        finding_truth=[truth, truth, truth, truth, truth, []],
    )
    # both right; the artifact missed; the second finding missing; nothing parsable; both
    # wrong; no close-ups shown (does not apply)
    assert out == [1.0, 0.5, 0.5, 0.0, 0.0, None]


def test_a_scoped_reward_scores_only_its_querys_rows():
    """One segment holding both queries: each answer is scored by its own query's reward."""
    first, second = locate([0, 0, 10, 10]), examine("real")
    columns = {"query": ["locate", "examine", "locate"], "label": ["real"] * 3,
               "gt_boxes": [[[0, 0, 10, 10]], [], [[20, 0, 30, 10]]], "trainer_state": object()}
    comps = [first, second, first]
    iou = only_on("locate", iou_reward)
    assert iou(comps, **columns) == [1.0, None, 0.0]
    assert only_on("examine", verdict_reward)(comps, **columns) == [None, 1.0, None]
    assert iou.__name__ == "iou_reward"  # what TRL logs
    assert only_on("examine", verdict_reward)([first], query=["locate"], label=["real"]) == [None]


def test_staged_weights_and_weighted_sum():
    alpha, beta, gamma = (staged_weights(s) for s in ("alpha", "beta", "gamma"))
    assert alpha["format"] > alpha["iou"] == alpha["verdict"] == 1.0
    assert alpha["verdict_values"] == (1.0, -1.0)
    assert beta["iou"] == 1.5 and beta["verdict_values"] == (2.0, -1.0)
    assert gamma["iou"] == 2.0
    assert gamma["verdict_values"] == gamma["format_values"] == (0.5, -1.0)
    # gamma: correct label and format -> 0 before the IoU term
    assert gamma["base"] + 0.5 * gamma["verdict"] + 0.5 * gamma["format"] == 0.0
    assert staged_weights("γ") == gamma
    with pytest.raises(ValueError):
        staged_weights("delta")

    fns, weights = staged_rewards("gamma", query="examine")
    combined = make_weighted(fns, weights)
    assert combined([examine("ai-generated")], label=["ai-generated"]) == [0.0]
    assert combined(["junk"], label=["ai-generated"]) == [-3.0]
    fns, weights = staged_rewards("beta", query="locate", relaxed=True)
    assert weights == [1.0, 1.5]
    by_name = make_weighted([iou_reward, format_reward_locate],
                            {"iou_reward": 2.0, "format_reward_locate": 1.0})
    assert by_name([locate([0, 0, 10, 10])], gt_boxes=[[[0, 0, 10, 10]]]) == [3.0]
    # a None term is left out
    assert by_name([locate([0, 0, 10, 10])], gt_boxes=[[]]) == [1.0]
