"""A model's own Query-1 answers ("first impressions") and the Query-2 rows built on them."""

from __future__ import annotations

import argparse

import pytest

from inspector.core.closeups import CloseupPolicy
from inspector.core.protocol import parse_examine
from trainer.cli import _build_parser as _parser
from trainer.impressions import read_impressions
from trainer.records import read_records, record_for_image, write_records
from trainer.rows import model_space, sft_rows


@pytest.fixture(scope="module")
def records_path(taught_case, tmp_path_factory):
    """The taught photo as an AI-generated record whose artifacts are the taught boxes (the
    taught model says "real" and boxes them: a wrong first impression with the right boxes)."""
    path = tmp_path_factory.mktemp("impressions") / "train.jsonl"
    record = record_for_image(taught_case.image_path, "ai-generated", "Tiled skin, melted seams.",
                              [list(b) for b in taught_case.boxes], "gen-x")
    for region, caption in zip(record.regions, ["tiled skin", "melted seams"], strict=True):
        region.caption = caption
    write_records(path, [record])
    return path


def _run(*argv: str) -> int:
    args: argparse.Namespace = _parser().parse_args(["impressions", *argv])
    return args.func(args)


def test_cli_records_the_models_answer_and_resumes(taught_case, records_path, tmp_path, capsys):
    out = tmp_path / "impressions.jsonl"
    common = (str(taught_case.model_dir), str(records_path), "-o", str(out), "--device", "cpu",
              "--max-new-tokens", "400")
    assert _run(*common) == 0
    sha = read_records(records_path)[0].sha256
    assert read_impressions(out) == {sha: taught_case.locate_answer}
    assert "1 first impressions in" in capsys.readouterr().out
    # a second run asks nothing again; a line cut short by a crash is asked again
    assert _run(*common) == 0
    assert len(out.read_text().splitlines()) == 1
    out.write_text(out.read_text()[:40])
    assert read_impressions(out) == {}
    assert _run(*common) == 0
    assert read_impressions(out) == {sha: taught_case.locate_answer}


def test_batched_first_looks_equal_one_at_a_time(taught_case, tmp_path, capsys):
    """--batch-size 3: three images' Query 1s batched give the answers asked one by one, every
    record covered once, in any order of finishing."""
    from PIL import Image, ImageOps

    photo = Image.open(taught_case.image_path).convert("RGB")
    records = []
    for name, image in [("same.png", photo), ("mirror.png", ImageOps.mirror(photo)),
                        ("grey.png", ImageOps.grayscale(photo).convert("RGB")),
                        ("flip.png", ImageOps.flip(photo))]:
        image.save(tmp_path / name)
        records.append(record_for_image(tmp_path / name, "real", "A photograph.", [], "camera"))
    path = tmp_path / "four.jsonl"
    write_records(path, records)
    common = (str(taught_case.model_dir), str(path), "--device", "cpu", "--max-new-tokens", "400")
    assert _run(*common, "-o", str(tmp_path / "one.jsonl")) == 0
    assert _run(*common, "-o", str(tmp_path / "batched.jsonl"), "--batch-size", "3") == 0
    one, batched = read_impressions(tmp_path / "one.jsonl"), read_impressions(
        tmp_path / "batched.jsonl")
    assert batched == one and len(one) == 4
    assert one[records[0].sha256] == taught_case.locate_answer
    assert len((tmp_path / "batched.jsonl").read_text().splitlines()) == 4
    assert "[4/4]" in capsys.readouterr().err
    assert _run(*common, "-o", str(tmp_path / "x.jsonl"), "--batch-size", "0") == 2
    assert "--batch-size must be at least 1" in capsys.readouterr().err


def test_cli_refuses_bad_input_clearly(taught_case, records_path, tmp_path, capsys):
    out = tmp_path / "x.jsonl"
    assert _run(str(taught_case.model_dir), str(tmp_path / "none.jsonl"), "-o", str(out)) == 2
    assert "lte-train impressions: error:" in capsys.readouterr().err
    assert _run(str(taught_case.model_dir), str(records_path), "-o", str(out), "--limit",
                "0") == 2
    assert "--limit must be at least 1" in capsys.readouterr().err
    assert _run(str(tmp_path), str(records_path), "-o", str(out), "--device", "cpu") == 2
    assert "lte-train impressions: error:" in capsys.readouterr().err
    assert not out.exists()


def test_query2_rows_are_built_on_the_recorded_answer(taught_case, records_path):
    record = read_records(records_path)[0]
    answers = {record.sha256: taught_case.locate_answer}
    space = model_space(taught_case.model_dir)
    rows = sft_rows([record], space, CloseupPolicy(), dataset_path=records_path,
                    queries="examine", flip_rate=1.0, model_answers=answers)
    (row,) = rows
    # the model's words (verdict "real"), never a flipped ground truth, and its two close-ups
    assert row["prompt"][2]["content"][0]["text"] == taught_case.locate_answer
    assert len(row["images"]) == 3
    target = parse_examine(row["completion"][0]["content"][0]["text"], region_count=2)
    assert [(f.observation, f.points_to) for f in target.findings] == [
        ("tiled skin", "ai-generated"), ("melted seams", "ai-generated")]
    assert target.verdict == "ai-generated"
    # a record without an answer keeps the ground-truth context
    plain = sft_rows([record], space, CloseupPolicy(), dataset_path=records_path,
                     queries="examine", flip_rate=0.0)
    assert "<verdict>ai-generated</verdict>" in plain[0]["prompt"][2]["content"][0]["text"]


def test_own_first_look_rows_hold_query1_on_the_models_answer(taught_case, records_path):
    # The examine step's Query-1 row of a record with an impression asks the app's own question
    # and targets the model's own answer (verdict "real" here, against the record's label), so
    # training Query 2 on that impression does not move the first look; records without an
    # impression keep the ground truth.
    record = read_records(records_path)[0]
    answers = {record.sha256: taught_case.locate_answer}
    space = model_space(taught_case.model_dir)
    held = sft_rows([record], space, CloseupPolicy(), dataset_path=records_path,
                    queries="both", model_answers=answers, own_first_look=True)
    locate, examine = held
    assert locate["completion"][0]["content"][0]["text"] == taught_case.locate_answer
    assert locate["prompt"] == examine["prompt"][:2]  # the same question Query 2 builds on
    assert len(locate["images"]) == 1
    truth = sft_rows([record], space, CloseupPolicy(), dataset_path=records_path,
                     queries="locate", model_answers=answers)
    assert "<verdict>ai-generated</verdict>" in truth[0]["completion"][0]["content"][0]["text"]
    unanswered = sft_rows([record], space, CloseupPolicy(), dataset_path=records_path,
                          queries="locate", model_answers={}, own_first_look=True)
    assert unanswered[0]["completion"] == truth[0]["completion"]


def test_truth_contexts_hold_query1_and_keep_query2_on_the_ground_truth(taught_case,
                                                                        records_path):
    # The read step (decision 0004, E33): Query 1 targets the model's own answer, as with
    # own_first_look, while Query 2's context is the record's ground truth, not that answer; the
    # same Query-2 row as a record without an impression gets.
    record = read_records(records_path)[0]
    answers = {record.sha256: taught_case.locate_answer}
    space = model_space(taught_case.model_dir)
    locate, examine = sft_rows([record], space, CloseupPolicy(), dataset_path=records_path,
                               queries="both", model_answers=answers, own_first_look=True,
                               truth_contexts=True, flip_rate=0.0)
    assert locate["completion"][0]["content"][0]["text"] == taught_case.locate_answer
    context = examine["prompt"][2]["content"][0]["text"]
    assert context != taught_case.locate_answer
    assert "<verdict>ai-generated</verdict>" in context
    (truth,) = sft_rows([record], space, CloseupPolicy(), dataset_path=records_path,
                        queries="examine", flip_rate=0.0)
    assert examine == truth
    with pytest.raises(ValueError, match="truth_contexts keeps Query 2 on the ground truth"):
        sft_rows([record], space, CloseupPolicy(), dataset_path=records_path,
                 model_answers=answers, truth_contexts=True)


def test_the_findings_benchmark_scores_each_finding_against_its_closeup(taught_case,
                                                                        records_path):
    # benchmarks/closeup_findings.py (decision 0004, E20/E28) through the app's pipeline: the
    # taught model's two close-ups cover the record's two planted regions and its findings both
    # point to "ai-generated", so both artifact close-ups are called so and the final verdict
    # ("ai-generated") follows the findings.
    from benchmarks.closeup_findings import finding_rows, summary

    rows = finding_rows(taught_case.model_dir, records_path, 1, max_new_tokens=400)
    assert [(r["shows"], r["said"]) for r in rows] == [("ai-generated", "ai-generated")] * 2
    assert rows[0]["observation"] == "the skin texture repeats in tiles"
    assert summary(rows) == {
        "closeups": 2, "artifact_closeups": 2, "artifact_called_ai": 2, "clean_closeups": 0,
        "clean_called_real": 0, "images_judged": 1, "verdict_follows_findings": 1}
    # a clean close-up called "real" and an image whose verdict goes against its findings
    clean = [dict(rows[0], image="b.png", shows="real", said="real", final="ai-generated")]
    assert summary(clean)["clean_called_real"] == 1
    assert summary(clean)["verdict_follows_findings"] == 0


def test_the_teacher_forced_findings_score_is_one_probability_per_closeup(taught_case,
                                                                          records_path):
    from benchmarks.closeup_findings import auc, clean_scores

    scores = clean_scores(taught_case.model_dir, records_path, 1)
    assert len(scores) == 2 and all(0.0 <= p <= 1.0 for _, p in scores)
    # the taught model never wrote "natural detail": a clean close-up is not likely to it
    assert all(p < 0.5 for _, p in scores)
    assert auc([(True, 0.9), (True, 0.6), (False, 0.6), (False, 0.1)]) == 0.875
    assert auc([(True, 0.9)]) is None
