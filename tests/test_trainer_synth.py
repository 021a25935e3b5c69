"""Synthetic demo dataset: records, balance, determinism, planted artifacts, real boxes, CLI."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainer.records import read_records, resolve_image
from trainer.synth import (
    KINDS,
    box_side_range,
    generate,
    labels_for,
    make_sample,
    sample_rng,
)
from trainer.synth_artifacts import clone_tiles
from trainer.synth_cli import register

SOURCES = {"synth-photo"} | {f"synth-{k}" for k in KINDS}
TAG_OF = {"checkerboard": "texture", "clone": "texture", "smeared_text": "other",
          "broken_repetition": "structure"}


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _check_boxes(regions, size: int) -> None:
    lo, hi = box_side_range(size)
    assert 1 <= len(regions) <= 2
    for r in regions:
        x1, y1, x2, y2 = r.box
        assert all(isinstance(v, int) for v in r.box), r.box
        assert 0 <= x1 < x2 <= size and 0 <= y1 < y2 <= size, r.box
        assert lo <= x2 - x1 <= hi and lo <= y2 - y1 <= hi, r.box
    if len(regions) == 2:
        assert regions[0].caption != regions[1].caption
        assert not _overlap(regions[0].box, regions[1].box), [r.box for r in regions]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("synth") / "ds", count=12, seed=3, ai_fraction=0.25)


def test_records_validate_read_back_and_match_files(dataset: Path):
    records = read_records(dataset)
    assert dataset.name == "records.jsonl"
    assert len(records) == 12
    assert sum(r.label == "ai-generated" for r in records) == 3  # round(12 * 0.25)
    assert [r.image for r in records] == [f"images/{i:05d}.png" for i in range(12)]
    for r in records:
        path = resolve_image(r, dataset)
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == r.sha256
        with Image.open(path) as im:
            assert im.format == "PNG" and im.mode == "RGB" and im.size == (224, 224)
        assert (r.width, r.height) == (224, 224)
        assert r.source in SOURCES
        assert r.explanation.strip() and len(r.explanation.split()) <= 30
        _check_boxes(r.regions, 224)
        assert all(g.caption and 2 <= len(g.caption.split()) <= 4 for g in r.regions)
        if r.label == "real":
            assert r.source == "synth-photo"
            assert all(g.tag is None for g in r.regions)
        else:
            kind = r.source.removeprefix("synth-")
            assert kind in KINDS
            assert r.regions[0].tag == TAG_OF[kind]
            assert all(g.tag in {"texture", "other", "structure"} for g in r.regions)


def test_written_images_are_the_documented_samples(dataset: Path):
    records = read_records(dataset)
    labels = labels_for(12, 3, 0.25)
    assert [r.label for r in records] == labels
    for i in (0, 5, 11):
        sample = make_sample(sample_rng(3, i), 224, labels[i])
        with Image.open(resolve_image(records[i], dataset)) as im:
            assert np.array_equal(np.asarray(im), np.asarray(sample.image))
        assert [g.box for g in records[i].regions] == [g.box for g in sample.regions]
        assert records[i].explanation == sample.explanation


@pytest.mark.parametrize(("count", "fraction"), [(1, 0.5), (7, 0.5), (10, 0.0), (10, 1.0),
                                                 (9, 0.3), (400, 0.5)])
def test_label_balance_is_exact(count, fraction):
    labels = labels_for(count, seed=1, ai_fraction=fraction)
    assert len(labels) == count
    assert labels.count("ai-generated") == round(count * fraction)


def test_label_order_is_shuffled():
    labels = labels_for(40, seed=0)
    assert labels != sorted(labels) and labels != sorted(labels, reverse=True)
    assert labels != labels_for(40, seed=1)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path):
    a = _files(generate(tmp_path / "a", 6, seed=11, size=112).parent)
    b = _files(generate(tmp_path / "b", 6, seed=11, size=112).parent)
    c = _files(generate(tmp_path / "c", 6, seed=12, size=112).parent)
    assert len(a) == 7 and a == b
    assert a["records.jsonl"] != c["records.jsonl"]
    assert all(a[k] != c[k] for k in a if k.startswith("images/"))


def test_images_made_in_two_processes_are_the_same_files(tmp_path: Path):
    progress: list[tuple[int, int]] = []
    alone = _files(generate(tmp_path / "alone", 9, seed=11, size=112, workers=1).parent)
    shared = _files(generate(tmp_path / "two", 9, seed=11, size=112, workers=2,
                             on_progress=lambda done, n: progress.append((done, n))).parent)
    assert len(alone) == 10 and shared == alone
    assert progress[-1] == (9, 9) and len(progress) > 1  # reported as blocks finish


def _changed(sample) -> np.ndarray:
    clean = np.asarray(sample.clean).astype(int)
    planted = np.asarray(sample.image).astype(int)
    assert clean.shape == planted.shape
    return np.any(clean != planted, axis=2)


def _inside(regions, shape) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for r in regions:
        x1, y1, x2, y2 = r.box
        mask[y1:y2, x1:x2] = True
    return mask


@pytest.mark.parametrize("kind", KINDS)
def test_each_artifact_stays_inside_its_box_and_shows(kind):
    for i in range(3):
        sample = make_sample(sample_rng(100, i), 224, "ai-generated", kinds=[kind])
        assert sample.kinds == [kind] and sample.source == f"synth-{kind}"
        _check_boxes(sample.regions, 224)
        changed = _changed(sample)
        assert not changed[~_inside(sample.regions, changed.shape)].any()
        x1, y1, x2, y2 = sample.regions[0].box
        # Visible, not a few stray pixels: a large share of the box changes.
        assert changed[y1:y2, x1:x2].mean() > 0.3, (kind, changed[y1:y2, x1:x2].mean())
        diff = np.abs(np.asarray(sample.image, float) - np.asarray(sample.clean, float))
        assert diff[y1:y2, x1:x2].mean() > 8, (kind, diff[y1:y2, x1:x2].mean())


def test_random_ai_samples_change_only_their_boxes():
    for i in range(10):
        sample = make_sample(sample_rng(5, i), 160, "ai-generated")
        _check_boxes(sample.regions, 160)
        assert len(sample.kinds) == len(sample.regions)
        assert len(set(sample.kinds)) == len(sample.kinds)
        changed = _changed(sample)
        assert not changed[~_inside(sample.regions, changed.shape)].any()
        for r in sample.regions:
            x1, y1, x2, y2 = r.box
            assert changed[y1:y2, x1:x2].any(), r


def test_clone_box_holds_two_exact_copies_and_a_seam():
    for i in range(4):
        sample = make_sample(sample_rng(7, i), 224, "ai-generated", kinds=["clone"])
        x1, y1, x2, y2 = sample.regions[0].box
        patch = np.asarray(sample.image)[y1:y2, x1:x2]
        if patch.shape[1] < patch.shape[0]:
            patch = patch.transpose(1, 0, 2)
        assert patch.shape[1] % 2 == 1
        tile = patch.shape[1] // 2
        assert np.array_equal(patch[:, :tile], patch[:, tile + 1:])
        # The seam column is neither copy.
        assert not np.array_equal(patch[:, tile], patch[:, tile - 1])
        # clone_tiles (what benchmarks/clone_grid.py measures with) names the same two tiles
        # and the offset from one to the other.
        (ax1, ay1, ax2, ay2), (bx1, by1, bx2, by2), (dx, dy) = clone_tiles(sample.regions[0].box)
        pixels = np.asarray(sample.image)
        assert (bx1 - ax1, by1 - ay1) == (dx, dy) and (bx2 - ax2, by2 - ay2) == (dx, dy)
        assert np.array_equal(pixels[ay1:ay2, ax1:ax2], pixels[by1:by2, bx1:bx2])
        assert (ax2 - ax1) * (ay2 - ay1) == tile * patch.shape[0]


def test_checkerboard_is_periodic():
    sample = make_sample(sample_rng(9, 0), 224, "ai-generated", kinds=["checkerboard"])
    x1, y1, x2, y2 = sample.regions[0].box
    lum = np.asarray(sample.image.convert("L"), float)[y1:y2, x1:x2]
    # A checkerboard has strong alternation: mean |horizontal difference| of neighbours at
    # some lag 1..2 is far larger than in the clean crop.
    clean = np.asarray(sample.clean.convert("L"), float)[y1:y2, x1:x2]
    planted_hf = max(np.abs(np.diff(lum[:, ::lag], axis=1)).mean() for lag in (1, 2))
    clean_hf = max(np.abs(np.diff(clean[:, ::lag], axis=1)).mean() for lag in (1, 2))
    assert planted_hf > clean_hf + 10


def _grid_strength(image: Image.Image, clean: Image.Image, box, scale: float) -> float:
    """How much more neighbour alternation the box has than the clean crop, once both are
    resized by ``scale`` (as a model's view resizes them)."""
    size = (round(image.width * scale), round(image.height * scale))
    x1, y1, x2, y2 = (round(v * scale) for v in box)

    def alternation(img):
        lum = np.asarray(img.convert("L").resize(size, Image.Resampling.BICUBIC), float)
        patch = lum[y1:y2, x1:x2]
        return max(np.abs(patch[:, lag:] - patch[:, :-lag]).mean() for lag in range(1, 5))

    return alternation(image) - alternation(clean)


def test_fine_artifacts_hide_from_a_smaller_view_and_show_at_full_resolution():
    # --fine-artifacts: a 448-px image keeps the 2-4 px checkerboard of the 224-px design, so
    # a model that sees it at 224 px loses the grid that a close-up at full resolution shows;
    # by default the grid grows with the image and survives the same view.
    fine, coarse = [], []
    for i in range(6):
        for out, is_fine in ((fine, True), (coarse, False)):
            sample = make_sample(sample_rng(11, i), 448, "ai-generated", kinds=["checkerboard"],
                                 fine=is_fine)
            box = sample.regions[0].box
            out.append((_grid_strength(sample.image, sample.clean, box, 1.0),
                        _grid_strength(sample.image, sample.clean, box, 0.5)))
    fine_full, fine_view = np.mean(fine, axis=0)
    coarse_full, coarse_view = np.mean(coarse, axis=0)
    assert fine_full > 15 and coarse_full > 15  # at full resolution both grids show
    # the 224-px view loses the fine grids (but a 4-px one, now 2 px: some survive)
    assert fine_view < 4 < 8 < coarse_view, (fine, coarse)
    same = make_sample(sample_rng(11, 0), 224, "ai-generated", kinds=["checkerboard"], fine=True)
    default = make_sample(sample_rng(11, 0), 224, "ai-generated", kinds=["checkerboard"])
    assert same.image.tobytes() == default.image.tobytes()  # at 224 px fine is the design


def test_real_samples_are_the_clean_crop_with_boxes_on_fine_detail():
    for i in range(6):
        sample = make_sample(sample_rng(2, i), 224, "real")
        assert sample.label == "real" and sample.source == "synth-photo" and sample.kinds == []
        assert np.array_equal(np.asarray(sample.image), np.asarray(sample.clean))
        _check_boxes(sample.regions, 224)
        lum = np.asarray(sample.clean.convert("L"), float)
        energy = np.zeros_like(lum)
        energy[:, :-1] += np.diff(lum, axis=1) ** 2
        energy[:-1, :] += np.diff(lum, axis=0) ** 2
        x1, y1, x2, y2 = sample.regions[0].box
        w, h = x2 - x1, y2 - y1
        best = energy[y1:y2, x1:x2].sum()
        # The first box is the window of highest gradient energy of its size.
        for y in range(0, 224 - h + 1, 7):
            for x in range(0, 224 - w + 1, 7):
                assert energy[y:y + h, x:x + w].sum() <= best + 1e-6


def test_make_sample_rejects_bad_kinds():
    with pytest.raises(ValueError, match="kinds must be 1 or 2 of"):
        make_sample(sample_rng(0, 0), 224, "ai-generated", kinds=["blur"])
    with pytest.raises(ValueError, match="label must be"):
        make_sample(sample_rng(0, 0), 224, "fake")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": 0}, "count must be an integer of at least 1, got 0"),
        ({"count": 2.5}, "count must be an integer"),
        ({"size": 100}, "size must be an integer from 112 to 1024 pixels, got 100"),
        ({"size": 2048}, "size must be an integer from 112 to 1024 pixels, got 2048"),
        ({"ai_fraction": 1.5}, "ai_fraction must be a number from 0 to 1, got 1.5"),
        ({"ai_fraction": -0.1}, "ai_fraction must be a number from 0 to 1"),
        ({"seed": -1}, "seed must be a non-negative integer, got -1"),
    ],
)
def test_bad_arguments_give_clear_errors(tmp_path: Path, kwargs, message):
    args = {"count": 2, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        generate(tmp_path / "out", **args)
    assert not (tmp_path / "out").exists()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lte-train")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_writes_a_dataset_and_prints_a_summary(tmp_path: Path, capsys):
    out = tmp_path / "demo"
    args = _parser().parse_args(["synth", str(out), "--count", "10", "--seed", "4",
                                 "--size", "112", "--ai-fraction", "0.3"])
    assert args.func(args) == 0
    captured = capsys.readouterr()
    records = read_records(out / "records.jsonl")
    assert len(records) == 10 and sum(r.label == "ai-generated" for r in records) == 3
    assert "Wrote 10 synthetic DEMO samples (7 real, 3 ai-generated" in captured.out
    assert str((out / "records.jsonl").resolve()) in captured.out
    assert "synth-photo" in captured.out and "not real forensic data" in captured.out
    for source in {r.source for r in records}:
        n = sum(r.source == source for r in records)
        assert any(line.split()[0] == source and line.split()[-1] == str(n)
                   for line in captured.out.splitlines()[3:] if line.strip())
    progress = [line for line in captured.err.splitlines() if line.startswith("[synth]")]
    assert progress[-1] == "[synth] 10/10 images (100%)"
    assert 5 <= len(progress) <= 11
    args = _parser().parse_args(["synth", str(tmp_path / "fine"), "--count", "2", "--seed", "4",
                                 "--size", "448", "--fine-artifacts"])
    assert args.func(args) == 0
    assert "448x448 PNG, fine artifacts, seed 4" in capsys.readouterr().out


def test_kinds_plant_only_those_artifacts_and_keep_the_photos(tmp_path: Path, capsys):
    # a data set to ask whether a model sees one kind at all (decision 0004, E46's clone check)
    mixed = read_records(generate(tmp_path / "mixed", 12, 5))
    args = _parser().parse_args(["synth", str(tmp_path / "clones"), "--count", "12",
                                 "--seed", "5", "--kinds", "clone"])
    assert args.func(args) == 0
    clones = read_records(tmp_path / "clones" / "records.jsonl")
    ai = [r for r in clones if r.label == "ai-generated"]
    assert len(ai) == 6 and {r.source for r in ai} == {"synth-clone"}
    assert all(len(r.regions) == 1 for r in ai)
    assert "synth-clone" in capsys.readouterr().out
    # the photos are the same files as in the set made without --kinds
    assert ([r.sha256 for r in clones if r.label == "real"]
            == [r.sha256 for r in mixed if r.label == "real"])
    with pytest.raises(ValueError, match="kinds must be 1 or 2 of .*different.*got clone, clone"):
        generate(tmp_path / "bad", 2, 0, kinds=["clone", "clone"])
    assert not (tmp_path / "bad").exists()
    with pytest.raises(SystemExit):
        _parser().parse_args(["synth", str(tmp_path / "x"), "--count", "2", "--seed", "1",
                              "--kinds", "blur"])
    assert "invalid choice: 'blur'" in capsys.readouterr().err


def test_cli_help_and_errors(tmp_path: Path, capsys):
    parser = _parser()
    sub = parser._subparsers._group_actions[0].choices["synth"]
    text = " ".join(sub.format_help().split())
    assert "DEMO" in text and "NOT real forensic data" in text and "--ai-fraction" in text
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["synth", str(tmp_path), "--count", "0", "--seed", "1"])
    assert exc.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
    args = parser.parse_args(["synth", str(tmp_path / "x"), "--count", "2", "--seed", "1",
                              "--size", "50"])
    assert args.func(args) == 1
    assert "size must be an integer from 112 to 1024" in capsys.readouterr().err
