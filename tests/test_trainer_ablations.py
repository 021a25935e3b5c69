"""`lte-train eval --ablations`: located vs random vs none close-ups on the same images in one run,
one table, with the tiny taught Qwen2.5-VL (real model output)."""

from __future__ import annotations

import argparse
import json

import pytest

from trainer.evaluate import register
from trainer.records import record_for_image, write_records


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lte-train")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def test_ablations_run_every_mode_on_the_same_images_and_write_one_table(
    taught_case, tmp_path, capsys
):
    photo = taught_case.image_path
    records = tmp_path / "test.jsonl"
    boxes = [list(b) for b in taught_case.boxes]
    write_records(records, [record_for_image(photo, "ai-generated", "Artifacts.", boxes, "gen")])
    out = tmp_path / "ablations.json"
    args = _parser().parse_args([
        "eval", str(taught_case.model_dir), str(records), "--ablations", "--device", "cpu",
        "--max-new-tokens", "300", "--closeup-seed", "5", "-o", str(out),
    ])
    assert args.func(args) == 0
    report = json.loads(out.read_text())
    md = out.with_suffix(".md").read_text()
    assert md in capsys.readouterr().out
    runs = report["runs"]
    assert list(runs) == ["located", "random", "none"]
    assert [runs[m]["policy"]["mode"] for m in runs] == ["located", "random", "none"]
    assert runs["random"]["policy"]["seed"] == 5
    located, random_, none = (runs[m]["samples"][0] for m in runs)
    # the same Query 1 in every mode (greedy, same image): only what Query 2 sees differs
    assert located["initial"] == random_["initial"] == none["initial"] == "real"
    assert located["pred_boxes"] == random_["pred_boxes"] == none["pred_boxes"]
    assert located["final"] == "ai-generated" and located["changed"] is True  # taught to correct
    assert none["final"] == "real" and "none" in none["examine_skipped"]
    assert random_["examine_skipped"] is None  # Query 2 ran, on the random boxes
    lines = [line for line in md.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| Close-ups | Degradation | Acc | I-Acc | C-Acc | C-Cases | IoU |")
    assert lines[1].startswith("| located | clean | 1.000 | 0.000 | 1.000 | 100.0% |")
    assert lines[2].startswith("| random | clean |")
    assert lines[3].startswith("| none | clean | 0.000 | 0.000 | n/a | 0.0% |")
    assert "random cropping Acc 0.842" in md


def test_ablations_take_a_mode_already_run_instead_of_running_it_again(taught_case, tmp_path):
    # the demo recipe has just evaluated its final model with located close-ups: its ablation
    # run takes that report and runs only random and none
    from trainer.evaluate import evaluate, evaluate_ablations, open_model

    records = tmp_path / "test.jsonl"
    boxes = [list(b) for b in taught_case.boxes]
    write_records(records, [record_for_image(taught_case.image_path, "ai-generated",
                                             "Artifacts.", boxes, "gen")])
    backend = open_model(taught_case.model_dir, 300, device="cpu")
    located = evaluate(backend, records)
    lines: list[str] = []
    report = evaluate_ablations(backend, records, done={"located": located},
                                on_progress=lines.append)
    assert report["runs"]["located"] is located
    assert list(report["runs"]) == ["located", "random", "none"]
    assert lines and not any(line.startswith("[located]") for line in lines)
    assert {line.split("]")[0] for line in lines} == {"[random", "[none"}
    assert report["runs"]["none"]["samples"][0]["initial"] == located["samples"][0]["initial"]
    # the recipe's recorded time adds the located report's own time once, not again here
    made_here = report["runs"]["random"]["seconds_total"] + report["runs"]["none"]["seconds_total"]
    assert report["seconds_total"] == pytest.approx(made_here, abs=0.01)
