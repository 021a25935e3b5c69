"""Evaluation: degradations, LTE metrics from the app's pipeline on a taught model, table, CLI."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import shutil
import threading

import numpy as np
import pytest
from PIL import Image

from inspector.core.backends.base import GenerationSettings
from inspector.core.backends.local import LocalBackend, LocalModelSpec
from inspector.core.pipeline import AnalysisCancelled
from inspector.core.protocol import parse_examine
from trainer.degrade import DEGRADATIONS, crop_boxes, degrade, degrade_to_bytes
from trainer.evaluate import (
    aggregate,
    artifact_line,
    evaluate,
    markdown_table,
    mean_best_iou,
    register,
    summarize,
    write_report,
)
from trainer.records import read_records, record_for_image, write_records
from trainer.rewards import bleu2_score, rouge_l_score

SETTINGS = GenerationSettings(max_new_tokens_locate=400, max_new_tokens_examine=400)
PHOTO_EXPLANATION = "An ordinary photograph of an astronaut in a white suit."


# --------------------------------------------------------------------------------------------
# Degradations (no model)


def _square_image(size=(200, 160), box=(60, 50, 120, 100)) -> Image.Image:
    a = np.full((size[1], size[0], 3), 20, np.uint8)
    x1, y1, x2, y2 = box
    a[y1:y2, x1:x2] = 240
    return Image.fromarray(a)


def _bright_bbox(image: Image.Image) -> list[int] | None:
    a = np.asarray(image.convert("L")) > 128
    ys, xs = np.nonzero(a)
    if not len(xs):
        return None
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def test_crop_moves_boxes_with_the_content():
    image, box = _square_image(), [60.0, 50.0, 120.0, 100.0]
    sizes = set()
    for seed in range(25):
        out, boxes, suffix = degrade(image, [box], "crop", random.Random(seed))
        w, h = out.size
        sizes.add((w, h))
        assert suffix == ".png"
        assert 0.7 * 200 - 1 <= w <= 0.9 * 200 + 1 and 0.7 * 160 - 1 <= h <= 0.9 * 160 + 1
        bright = _bright_bbox(out)
        if boxes:  # the bright square (clipped by the crop) sits exactly under its box
            assert boxes[0] == pytest.approx(bright, abs=0.01)
        else:  # dropped: less than half of the square is still visible
            visible = 0 if bright is None else (bright[2] - bright[0]) * (bright[3] - bright[1])
            assert visible < 0.5 * 60 * 50
    assert len(sizes) > 5  # the crop really is random
    again = degrade(image, [box], "crop", random.Random(3))
    first = degrade(image, [box], "crop", random.Random(3))
    assert again[1] == first[1] and again[0].tobytes() == first[0].tobytes()  # and seeded


def test_crop_boxes_clips_and_drops_mostly_outside():
    crop = (50, 40, 150, 140)
    assert crop_boxes([[60, 50, 100, 90]], crop) == [[10, 10, 50, 50]]
    assert crop_boxes([[40, 50, 100, 90]], crop) == [[0, 10, 50, 50]]  # 5/6 inside: clipped
    assert crop_boxes([[0, 50, 60, 90]], crop) == []  # 1/6 inside: dropped
    assert crop_boxes([[0, 0, 10, 10]], crop) == []  # outside


def test_downsample_scales_boxes():
    image, box = _square_image(), [60.0, 50.0, 120.0, 100.0]
    out, boxes, suffix = degrade(image, [box], "down0.5", random.Random(0))
    assert out.size == (100, 80) and suffix == ".png"
    assert boxes == [[30.0, 25.0, 60.0, 50.0]]
    bright = _bright_bbox(out)
    assert bright == pytest.approx(boxes[0], abs=1)


def test_jpeg_degradations_are_real_jpeg_at_their_quality(photo_path):
    photo = Image.open(photo_path).convert("RGB")
    box = [[10.0, 20.0, 30.0, 40.0]]
    sizes, errors = {}, {}
    for name, quality in (("jpeg80", 80), ("jpeg30", 30)):
        data, boxes, suffix = degrade_to_bytes(photo, box, name, random.Random(0))
        assert suffix == ".jpg" and boxes == box and data[:2] == b"\xff\xd8"
        expected = io.BytesIO()
        photo.save(expected, format="JPEG", quality=quality)
        assert data == expected.getvalue()
        out, _, _ = degrade(photo, box, name, random.Random(0))
        assert out.format == "JPEG" and out.size == photo.size
        sizes[name] = len(data)
        diff = np.asarray(out, np.float64) - np.asarray(photo, np.float64)
        errors[name] = float(np.abs(diff).mean())
    assert sizes["jpeg30"] < sizes["jpeg80"]
    assert 0 < errors["jpeg80"] < errors["jpeg30"]  # lossy, and more so at quality 30
    clean, boxes, suffix = degrade(photo, box, "clean", random.Random(0))
    assert suffix == ".png" and boxes == box and clean.tobytes() == photo.tobytes()
    with pytest.raises(ValueError, match="unknown degradation"):
        degrade(photo, box, "blur", random.Random(0))


# --------------------------------------------------------------------------------------------
# Metric arithmetic (no model)


def _row(label, initial, final, iou=None, source="s", **kw):
    row = dict(image="x.png", source=source, degradation="clean", label=label, initial=initial,
               final=final, changed=initial != final, iou=iou, bleu2=0.5, rouge_l=0.25,
               seconds=2.0, problems=[])
    row.update(kw)
    return row


def test_aggregate_definitions():
    rows = [
        _row("ai-generated", "real", "ai-generated", iou=1.0),  # corrected
        _row("real", "real", "ai-generated", iou=None),  # broken by the change
        _row("real", "real", "real", iou=0.0),
        _row("ai-generated", None, None, problems=["query 1: no verdict"]),  # unparsed: wrong
        {**_row("real", None, None), "error": "cannot read"},  # a failure, not a sample
    ]
    m = aggregate(rows)
    assert m["n"] == 4 and m["failures"] == 1
    assert m["acc"] == pytest.approx(2 / 4)
    assert m["i_acc"] == pytest.approx(2 / 4)
    assert m["c_cases"] == pytest.approx(2 / 4) and m["changed"] == 2
    assert m["c_acc"] == pytest.approx(1 / 2)
    assert m["iou"] == pytest.approx(0.5) and m["iou_n"] == 2  # samples without GT left out
    assert m["bleu2"] == 0.5 and m["rouge_l"] == 0.25 and m["seconds"] == 2.0
    assert m["parse_problem_rate"] == pytest.approx(1 / 4)
    # an unparsed Query 2 after a parsed Query 1 is a change, and a wrong one
    assert aggregate([_row("real", "real", None)])["c_acc"] == 0.0


def test_artifact_counts_say_which_artifacts_a_box_overlaps():
    two = _row("ai-generated", "ai-generated", "ai-generated",
               gt_boxes=[[0, 0, 50, 50], [100, 100, 150, 150]],
               pred_boxes=[[10, 10, 60, 60], [0, 100, 40, 140]])  # the second box misses
    both = _row("ai-generated", "real", "real", gt_boxes=[[0, 0, 50, 50], [100, 100, 150, 150]],
                pred_boxes=[[100, 100, 150, 150], [0, 0, 50, 50]])
    same = _row("ai-generated", "real", "real", gt_boxes=[[0, 0, 50, 50]],
                pred_boxes=[[0, 0, 50, 50], [100, 100, 150, 150]])  # both's boxes, in order
    photo = _row("real", "real", "real", gt_boxes=[[0, 0, 50, 50]], pred_boxes=[[0, 0, 50, 50]])
    m = aggregate([two, both, same, photo])
    assert (m["artifacts"], m["artifacts_hit"]) == (5, 4)  # the photo's detail box not counted
    assert (m["ai_images"], m["ai_box_sets"]) == (3, 2)  # box order does not make a new set
    assert (m["two_artifact_images"], m["both_hit"]) == (2, 1)
    assert "4 of 5 artifacts overlapped" in artifact_line(m)
    nothing = aggregate([_row("ai-generated", "real", "real", gt_boxes=[[0, 0, 9, 9]])])
    assert nothing["artifacts_hit"] == 0 and nothing["ai_box_sets"] == 1


def test_final_verdicts_against_their_own_findings_are_counted_and_said():
    rows = [_row("ai-generated", "real", "ai-generated", follows_findings=False),
            _row("real", "real", "real", follows_findings=True),
            _row("real", "real", "real", follows_findings=None),  # no finding names a verdict
            _row("real", "real", "real")]  # a row written before the field existed
    m = aggregate(rows)
    assert (m["findings_compared"], m["against_findings"]) == (2, 1)
    report = {"degradations": summarize(rows, ["clean"])}
    assert ("- clean: the final verdict follows none of its own findings on 1 of 2 answers "
            "whose findings name a verdict") in markdown_table(report)
    quiet = {"degradations": summarize(rows[2:], ["clean"])}
    assert "follows none" not in markdown_table(quiet)  # nothing compared, nothing said


def test_c_acc_is_none_without_changes_and_empty_sets_are_none():
    m = aggregate([_row("real", "real", "real"), _row("real", "ai-generated", "ai-generated")])
    assert m["c_cases"] == 0.0 and m["changed"] == 0 and m["c_acc"] is None
    assert m["acc"] == 0.5 and m["iou"] is None and m["iou_n"] == 0
    empty = aggregate([{**_row("real", None, None), "error": "x"}])
    assert empty["n"] == 0 and empty["failures"] == 1 and empty["acc"] is None


def test_mean_best_iou_over_predicted_boxes():
    gt = [[0, 0, 10, 10], [20, 0, 30, 10]]
    assert mean_best_iou([[0, 0, 10, 10], [5, 0, 15, 10]], gt) == pytest.approx((1 + 1 / 3) / 2)
    assert mean_best_iou([[0, 0, 10, 10]], gt) == 1.0  # extra GT costs nothing (LTE)
    assert mean_best_iou([], gt) == 0.0  # GT but no prediction
    assert mean_best_iou([[0, 0, 10, 10]], []) is None  # no GT: not counted


def test_plain_text_scores():
    ref = "the left hand has six fingers and the text is garbled"
    assert bleu2_score(ref, ref) == pytest.approx(1.0)
    assert rouge_l_score(ref, ref) == pytest.approx(1.0)
    assert 0 < bleu2_score("the left hand has five fingers", ref) < 1
    assert 0 < rouge_l_score("the left hand has five fingers", ref) < 1
    assert bleu2_score("purple zebras dance", ref) == 0.0
    assert bleu2_score("", ref) == rouge_l_score(None, ref) == 0.0


# --------------------------------------------------------------------------------------------
# The real pipeline on the taught model


@pytest.fixture(scope="module")
def backend(taught_case):
    return LocalBackend(LocalModelSpec(source=str(taught_case.model_dir), device="cpu"), SETTINGS)


@pytest.fixture(scope="module")
def taught_explanation(taught_case) -> str:
    return parse_examine(taught_case.examine_answer).explanation


@pytest.fixture(scope="module")
def dataset(taught_case, taught_explanation, tmp_path_factory):
    """Records for the taught photo (labelled ai-generated with the taught boxes, and real), an
    image that is broken after its record was made, and one replaced by another picture."""
    folder = tmp_path_factory.mktemp("evalset")
    photo = taught_case.image_path
    ai = record_for_image(photo, "ai-generated", taught_explanation,
                          [list(b) for b in taught_case.boxes], "gen-x")
    real = record_for_image(photo, "real", PHOTO_EXPLANATION, [], "camera")
    broken_path = folder / "broken.jpg"
    shutil.copy(photo, broken_path)
    broken = record_for_image(broken_path, "ai-generated", "Generator artifacts.", [], "gen-x")
    broken_path.write_bytes(b"this is not a picture any more")
    swapped_path = folder / "swapped.png"
    Image.open(photo).save(swapped_path)
    swapped = record_for_image(swapped_path, "real", PHOTO_EXPLANATION, [], "camera")
    Image.open(photo).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(swapped_path)
    path = folder / "test.jsonl"
    write_records(path, [ai, real, broken, swapped])
    return path


@pytest.fixture(scope="module")
def clean_run(backend, dataset, taught_case, tmp_path_factory):
    before = taught_case.image_path.stat()
    progress: list[str] = []
    work = tmp_path_factory.mktemp("work-clean")
    report = evaluate(backend, dataset, ("clean",), work_dir=work, on_progress=progress.append)
    return report, progress, before, work


def test_clean_metrics_follow_the_taught_answers(clean_run, taught_case):
    report, _, _, _ = clean_run
    clean = report["degradations"]["clean"]
    overall, per_source = clean["overall"], clean["per_source"]
    gen, cam = per_source["gen-x"], per_source["camera"]
    # the model says real, then ai-generated after the close-ups, on both records of the photo
    assert (overall["n"], overall["failures"]) == (2, 2)
    assert overall["acc"] == 0.5 and overall["i_acc"] == 0.5
    assert overall["c_cases"] == 1.0 and overall["c_acc"] == 0.5
    # labelled ai-generated: corrected by the examination
    assert (gen["n"], gen["failures"]) == (1, 1)
    assert gen["acc"] == 1.0 and gen["i_acc"] == 0.0 and gen["c_cases"] == 1.0
    assert gen["c_acc"] == 1.0
    # the returned boxes are the taught ones, up to the model grid's rounding
    assert gen["iou"] == pytest.approx(1.0, abs=0.05) and gen["iou_n"] == 1
    assert gen["bleu2"] == pytest.approx(1.0) and gen["rouge_l"] == pytest.approx(1.0)
    # labelled real: the change broke a correct first verdict
    assert (cam["n"], cam["failures"]) == (1, 1)
    assert cam["acc"] == 0.0 and cam["i_acc"] == 1.0 and cam["c_acc"] == 0.0
    assert cam["iou"] is None and cam["iou_n"] == 0  # no ground-truth boxes
    assert cam["bleu2"] < 0.5 and cam["rouge_l"] < 0.5
    assert overall["iou"] == gen["iou"]
    assert overall["parse_problem_rate"] == 0.0 and overall["seconds"] > 0
    sample = report["samples"][0]
    assert sample["initial"] == "real" and sample["final"] == "ai-generated" and sample["changed"]
    assert sample["gt_boxes"] == [list(b) for b in taught_case.boxes]
    assert len(sample["pred_boxes"]) == 2 and sample["problems"] == []
    # both findings point to ai-generated, as the final verdict does
    assert sample["follows_findings"] is True
    assert (overall["findings_compared"], overall["against_findings"]) == (2, 0)
    assert report["model"]["model_type"] == "qwen2_5_vl" and report["n_records"] == 4
    json.dumps(report)  # serializable as is


def test_failing_images_are_counted_and_the_run_goes_on(clean_run, taught_case):
    report, progress, before, work = clean_run
    rows = report["samples"]
    assert [r["image"].rsplit("/", 1)[-1] for r in rows] == [
        "astronaut.jpg", "astronaut.jpg", "broken.jpg", "swapped.png"
    ]
    assert "broken.jpg" in rows[2]["error"]
    assert "SHA-256" in rows[3]["error"]
    assert "initial" not in rows[2] and "initial" not in rows[3]
    assert len(progress) == 4 and progress[0].startswith("[1/4] clean ")
    assert "real -> ai-generated" in progress[0] and "FAILED" in progress[2]
    # the evidence was only read
    data = taught_case.image_path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == read_records(report["records"])[0].sha256
    assert taught_case.image_path.stat().st_mtime_ns == before.st_mtime_ns
    assert list(work.iterdir()) == []  # clean analyses the evidence itself, no copy


def test_every_degradation_produces_rows(backend, dataset, tmp_path):
    names = [d for d in DEGRADATIONS if d != "clean"]
    report = evaluate(backend, dataset, names, limit=1, seed=5, work_dir=tmp_path)
    assert list(report["degradations"]) == names and report["n_records"] == 1
    rows = {r["degradation"]: r for r in report["samples"]}
    assert set(rows) == set(names)
    for name in names:
        block = report["degradations"][name]
        assert block["overall"]["n"] == 1 and list(block["per_source"]) == ["gen-x"]
        row = rows[name]
        assert row["final"] in ("real", "ai-generated", None)
        assert row["iou"] == pytest.approx(mean_best_iou(row["pred_boxes"], row["gt_boxes"]))
    files = {p.parent.name: p for p in tmp_path.glob("*/*")}
    assert set(files) == set(names)
    assert Image.open(files["jpeg30"]).format == "JPEG"
    assert files["jpeg30"].stat().st_size < files["jpeg80"].stat().st_size
    assert Image.open(files["down0.5"]).size == (160, 120)
    assert rows["down0.5"]["gt_boxes"] == [[v / 2 for v in b] for b in rows["jpeg80"]["gt_boxes"]]
    cw, ch = Image.open(files["crop"]).size
    assert 0.7 * 320 - 1 <= cw <= 0.9 * 320 + 1 and 0.7 * 240 - 1 <= ch <= 0.9 * 240 + 1
    for b in rows["crop"]["gt_boxes"]:
        assert 0 <= b[0] < b[2] <= cw and 0 <= b[1] < b[3] <= ch


def test_markdown_table_and_report_files(clean_run, tmp_path):
    report = clean_run[0]
    text = markdown_table(report)
    lines = text.splitlines()
    assert lines[0] == (
        "| Degradation | Subset | Acc | I-Acc | C-Acc | C-Cases | IoU | BLEU-2 | ROUGE-L | n |"
    )
    assert lines[2].startswith("| clean | overall | 0.500 | 0.500 | 0.500 | 100.0% | ")
    assert lines[2].endswith(" | 2 |")
    assert lines[3].startswith("| clean | camera | 0.000 | 1.000 | 0.000 | 100.0% | n/a |")
    assert lines[4].startswith("| clean | gen-x | 1.000 | 0.000 | 1.000 | 100.0% | ")
    assert "Failed images (not counted in n): clean 2." in text
    out_json, out_md = tmp_path / "r" / "eval.json", tmp_path / "r" / "eval.md"
    write_report(report, out_json, out_md)
    assert json.loads(out_json.read_text()) == json.loads(json.dumps(report))
    assert out_md.read_text() == text


def _cancel_after(checks: int):
    """A cancel check that turns true after ``checks`` calls (a few tokens into the run)."""
    calls = 0

    def cancelled() -> bool:
        nonlocal calls
        calls += 1
        return calls > checks

    return cancelled


def test_cancel_and_interrupt_stop_the_run(backend, dataset):
    with pytest.raises(AnalysisCancelled):
        evaluate(backend, dataset, ("clean",), is_cancelled=_cancel_after(5))

    class Interrupting:  # the real backend, but Ctrl-C arrives during the first answer
        def __getattr__(self, name):
            return getattr(backend, name)

        def generate_turn(self, *args, **kwargs):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate(Interrupting(), dataset, ("clean",))


def _without_times(rows):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def test_batched_evaluation_gives_the_same_rows_in_the_same_order(backend, dataset, clean_run):
    one_at_a_time, progress_one, _, _ = clean_run
    progress: list[str] = []
    report = evaluate(backend, dataset, ("clean",), batch_size=3, on_progress=progress.append)
    # the same answers (greedy), failures included, rows and progress in the records' order
    assert _without_times(report["samples"]) == _without_times(one_at_a_time["samples"])
    for key in ("acc", "i_acc", "c_acc", "c_cases", "iou", "failures", "n"):
        assert (report["degradations"]["clean"]["overall"][key]
                == one_at_a_time["degradations"]["clean"]["overall"][key])
    assert [line.split(":")[0] for line in progress] == [
        line.split(":")[0] for line in progress_one]
    # the report says the turns were batched
    assert report["model"]["generation"]["batch_size"] == 3
    assert "batch_size" not in one_at_a_time["model"]["generation"]


def test_a_cancelled_batched_run_leaves_no_analysis_running(backend, dataset):
    with pytest.raises(AnalysisCancelled):
        evaluate(backend, dataset, ("clean", "jpeg80"), batch_size=2,
                 is_cancelled=_cancel_after(8))
    for thread in threading.enumerate():
        if thread.name.startswith("lte-analyze"):
            thread.join(timeout=30)
            assert not thread.is_alive()
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        evaluate(backend, dataset, ("clean",), batch_size=0)


def test_unknown_degradation_is_refused(backend, dataset):
    with pytest.raises(ValueError, match="degradations must be among"):
        evaluate(backend, dataset, ("clean", "blur"))


def _parser():
    parser = argparse.ArgumentParser(prog="lte-train")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_writes_json_and_markdown(taught_case, dataset, tmp_path, capsys):
    out = tmp_path / "out" / "eval.json"
    args = _parser().parse_args([
        "eval", str(taught_case.model_dir), str(dataset), "--degradations", "clean",
        "--limit", "2", "--max-regions", "0", "--device", "cpu", "--max-new-tokens", "300",
        "-o", str(out),
    ])
    assert args.func(args) == 0
    captured = capsys.readouterr()
    report = json.loads(out.read_text())
    md = out.with_suffix(".md").read_text()
    assert md in captured.out
    assert "[1/2] clean " in captured.err and "wrote" in captured.err
    # --max-regions 0: Query 1 only, so the initial verdict (real) stands and nothing changes
    overall = report["degradations"]["clean"]["overall"]
    assert overall["n"] == 2 and overall["acc"] == 0.5 and overall["i_acc"] == 0.5
    assert overall["c_cases"] == 0.0 and overall["c_acc"] is None
    assert "| clean | overall | 0.500 | 0.500 | n/a | 0.0% |" in md
    assert report["model"]["generation"]["max_new_tokens_locate"] == 300
    assert report["examine"] is False


def test_cli_usage_errors(taught_case, dataset, tmp_path, capsys):
    parser = _parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["eval", "m", str(dataset), "--degradations", "clean",
                           "--all-degradations", "-o", "x.json"])
    with pytest.raises(SystemExit):
        parser.parse_args(["eval", "m", str(dataset), "--degradations", "blur", "-o", "x.json"])
    args = parser.parse_args(["eval", "m", str(dataset), "--all-degradations", "-o", "x.json"])
    assert args.all_degradations
    args = parser.parse_args(["eval", str(taught_case.model_dir), str(tmp_path / "none.jsonl"),
                              "-o", str(tmp_path / "x.json")])
    assert args.func(args) == 2
    assert "none.jsonl" in capsys.readouterr().err
    args = parser.parse_args(["eval", str(tmp_path / "no-model"), str(dataset), "--limit", "1",
                              "-o", str(tmp_path / "x.json")])
    assert args.func(args) == 2
    assert "does not exist" in capsys.readouterr().err
    args = parser.parse_args(["eval", str(taught_case.model_dir), str(dataset), "--batch-size",
                              "0", "-o", str(tmp_path / "x.json")])
    assert args.func(args) == 2
    assert "--batch-size must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
