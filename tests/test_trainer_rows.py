"""TRL rows from records: what SFT and each GRPO segment are trained on."""

from __future__ import annotations

import json

import pytest

from inspector.core.closeups import CloseupPolicy
from inspector.core.geometry import Box
from inspector.core.protocol import RawRegion, parse_examine, parse_locate, serialize_locate
from trainer.conversations import NOTHING_PLANTED, WHERE_QUESTION, gt_model_boxes
from trainer.records import read_records
from trainer.rows import examine_rows, locate_rows, model_space, sft_rows, with_first_looks
from trainer.synth import generate


@pytest.fixture(scope="module")
def data(tmp_path_factory, tiny_model_dir):
    path = generate(tmp_path_factory.mktemp("rows") / "synth", count=40, seed=5)
    return path, read_records(path), model_space(tiny_model_dir)


def _context_and_target(row):
    """(verdict of the Query-1 answer in the prompt, verdict of the target)."""
    answer1 = next(m for m in row["prompt"] if m["role"] == "assistant")
    return (parse_locate(answer1["content"][0]["text"]).verdict,
            parse_examine(row["completion"][0]["content"][0]["text"]).verdict)


def test_some_query2_contexts_carry_a_wrong_first_verdict_but_targets_never_do(data):
    path, records, space = data
    rows = sft_rows(records, space, CloseupPolicy(), dataset_path=path, queries="examine",
                    flip_rate=0.5)
    pairs = [_context_and_target(r) for r in rows]
    assert all(target == rec.label for (_, target), rec in zip(pairs, records, strict=True))
    flipped = sum(context != target for context, target in pairs)
    assert 10 <= flipped <= 30  # about half of 40, seeded
    # Same seed, same rows; no flips when turned off.
    again = sft_rows(records, space, CloseupPolicy(), dataset_path=path, queries="examine",
                     flip_rate=0.5)
    assert [_context_and_target(r) for r in again] == pairs
    plain = sft_rows(records, space, CloseupPolicy(), dataset_path=path, queries="examine",
                     flip_rate=0.0)
    assert all(c == t for c, t in map(_context_and_target, plain))


def test_a_wrong_first_impression_carries_no_trace_of_the_true_class(data):
    # The whole Query-1 answer of a flipped context is another class's (explanation, region
    # labels, verdict); the boxes stay the record's and the target keeps the record's own words.
    path, records, space = data
    rows = sft_rows(records, space, CloseupPolicy(), dataset_path=path, queries="examine",
                    flip_rate=1.0)
    other_class = {
        label: {r.explanation for r in records if r.label != label}
        for label in ("real", "ai-generated")
    }
    for row, record in zip(rows, records, strict=True):
        answer1 = next(m for m in row["prompt"] if m["role"] == "assistant")
        context = parse_locate(answer1["content"][0]["text"])
        target = parse_examine(row["completion"][0]["content"][0]["text"])
        assert context.verdict != record.label
        assert context.explanation in other_class[record.label]
        assert {r.label for r in context.regions}.isdisjoint(r.caption for r in record.regions)
        assert [r.coords for r in context.regions] == [
            [float(v) for v in b] for b in gt_model_boxes(record, space)
        ]
        assert target.explanation == record.explanation
        assert {f.observation for f in target.findings} <= {r.caption for r in record.regions}


def test_query1_rows_always_teach_the_true_label(data):
    path, records, space = data
    rows = sft_rows(records, space, CloseupPolicy(), dataset_path=path, queries="locate",
                    flip_rate=1.0)
    verdicts = [parse_locate(r["completion"][0]["content"][0]["text"]).verdict for r in rows]
    assert verdicts == [r.label for r in records]


def test_where_rows_rehearse_the_locate_warmups_answer_boxes_only(data):
    # With `where`, each record adds the where? question after its Query-1 row; the answer is its
    # boxes snapped to the grid in reading order, the same target the locate warm-up trains on.
    path, records, space = data
    rows = sft_rows(records[:6], space, CloseupPolicy(), dataset_path=path, queries="locate",
                    grid=28, where=True)
    assert len(rows) == 12
    for record, where in zip(records[:6], rows[1::2], strict=True):
        assert where["prompt"][-1]["content"][-1]["text"] == WHERE_QUESTION
        assert len(where["images"]) == 1
        boxes = [b["bbox_2d"] for b in json.loads(where["completion"][0]["content"][0]["text"])]
        assert len(boxes) == len(record.regions)
        assert all(v % 28 == 0 or v == 224 for b in boxes for v in b)  # snapped to the grid
        assert boxes == sorted(boxes, key=lambda b: (b[1], b[0]))  # reading order
        for box, truth in zip(sorted(boxes), sorted(gt_model_boxes(record, space)), strict=True):
            # the snapped box covers the cells the exact one touches
            assert box[0] <= truth[0] + 14 and box[2] >= truth[2] - 14
    assert len(sft_rows(records[:6], space, CloseupPolicy(), dataset_path=path,
                        queries="locate", grid=28)) == 6  # off by default


def test_grpo_rows_carry_the_reward_columns(data):
    path, records, space = data
    loc = locate_rows(records[:4], space, dataset_path=path)
    assert [len(r["gt_boxes"]) for r in loc] == [len(r.regions) for r in records[:4]]
    assert all(r["images"] and r["label"] in ("real", "ai-generated") for r in loc)
    exa = examine_rows(records[:4], space, CloseupPolicy(), dataset_path=path)
    for row, record in zip(exa, records[:4], strict=True):
        assert row["explanation"] == record.explanation
        assert row["region_count"] == len(row["images"]) - 1 >= 1
        images_in_prompt = sum(
            p["type"] == "image" for m in row["prompt"] for p in m["content"]
        )
        assert images_in_prompt == len(row["images"])


def test_grpo_examine_rows_know_what_each_closeup_of_the_models_own_boxes_holds(data):
    """The findings reward's column: on a model's own first look, a close-up of the planted
    artifact supports the image's label and a close-up elsewhere supports "real"."""
    path, records, space = data
    record = next(r for r in records if r.label == "ai-generated" and len(r.regions) == 1)
    x0, y0, x1, y1 = record.regions[0].box
    # a box of the same size in the opposite corner of the image, clear of the artifact
    w, h = x1 - x0, y1 - y0
    far = [0, 0, w, h] if x0 > record.width / 2 or y0 > record.height / 2 else [
        record.width - w, record.height - h, record.width, record.height]
    boxes = [gt_model_boxes(record, space)[0],
             space.to_model(Box(*map(float, far)), (record.width, record.height))]
    answer = serialize_locate("odd texture", [RawRegion(b, "texture") for b in boxes],
                              "ai-generated")
    (row,) = examine_rows([record], space, CloseupPolicy(), dataset_path=path,
                          model_answers={record.sha256: answer})
    assert row["region_count"] == 2
    assert row["finding_truth"] == ["ai-generated", "real"]
    photo = next(r for r in records if r.label == "real")
    (row,) = examine_rows([photo], space, CloseupPolicy(), dataset_path=path,
                          model_answers={photo.sha256: answer})
    assert row["finding_truth"] and set(row["finding_truth"]) == {"real"}


def test_segment_2_can_hold_the_first_look_with_query1_rows(data):
    path, records, space = data
    exa = examine_rows(records[:20], space, CloseupPolicy(), dataset_path=path)
    loc = locate_rows(records[:20], space, dataset_path=path)
    held = with_first_looks(exa, loc, 0.5, seed=3)
    queries = [r["query"] for r in held]
    assert queries.count("examine") == 20 and 5 <= queries.count("locate") <= 15
    # each Query-1 row follows its own record's Query-2 row, and every row has every column
    for i, row in enumerate(held):
        assert set(row) == set(held[0])
        if row["query"] == "locate":
            assert held[i - 1]["query"] == "examine" and row["label"] == held[i - 1]["label"]
            assert row["finding_truth"] == [] and row["gt_boxes"] is not None
    assert with_first_looks(exa, loc, 0.5, seed=3) == held  # seeded
    assert [r["query"] for r in with_first_looks(exa, loc, 0.0, seed=3)] == ["examine"] * 20
    with pytest.raises(ValueError, match="between 0 and 1"):
        with_first_looks(exa, loc, 1.5, seed=3)


def test_flip_rate_out_of_range_is_an_error(data):
    path, records, space = data
    with pytest.raises(ValueError, match="flip_rate"):
        sft_rows(records[:1], space, CloseupPolicy(), dataset_path=path, flip_rate=1.5)


def test_decoy_boxes_make_each_finding_depend_on_its_closeup(data):
    # With decoys, some boxes of the ground-truth Query-1 context are moved where their close-up
    # shows no planted region (same size, same label); each finding then says what its own
    # close-up holds, so on an AI-generated image some findings point to "ai-generated" and some
    # to "real" while the verdict stays the record's label.
    path, records, space = data
    ai = [r for r in records if r.label == "ai-generated"]
    moved = sft_rows(ai, space, CloseupPolicy(), dataset_path=path, queries="examine",
                     flip_rate=0.0, grid=28, decoy_rate=1.0)
    kept = sft_rows(ai, space, CloseupPolicy(), dataset_path=path, queries="examine",
                    flip_rate=0.0, grid=28)
    pointing = {"ai-generated": 0, "real": 0}
    for row, plain in zip(moved, kept, strict=True):
        answer1 = next(m for m in row["prompt"] if m["role"] == "assistant")
        context = parse_locate(answer1["content"][0]["text"])
        plain_context = parse_locate(next(
            m for m in plain["prompt"] if m["role"] == "assistant")["content"][0]["text"])
        # same number of boxes, same sizes and labels, on the grid; the close-ups follow them
        assert len(context.regions) == len(plain_context.regions)
        for box, truth in zip(context.regions, plain_context.regions, strict=True):
            assert box.label == truth.label
            w, h = box.coords[2] - box.coords[0], box.coords[3] - box.coords[1]
            assert (w, h) == (truth.coords[2] - truth.coords[0], truth.coords[3] - truth.coords[1])
            assert all(v % 28 == 0 or v == 224 for v in box.coords)
        target = parse_examine(row["completion"][0]["content"][0]["text"],
                               region_count=len(row["images"]) - 1)
        assert target.verdict == "ai-generated"
        for finding in target.findings:
            pointing[finding.points_to] += 1
            if finding.points_to == "real":
                assert finding.observation == NOTHING_PLANTED
    # every movable box moved: nearly all close-ups now show nothing (a box too large to fit
    # elsewhere stays on its artifact)
    assert pointing["real"] >= 3 * pointing["ai-generated"] and pointing["real"] > 10
    half = sft_rows(ai, space, CloseupPolicy(), dataset_path=path, queries="examine",
                    flip_rate=0.0, grid=28, decoy_rate=0.5)
    verdicts = [parse_examine(r["completion"][0]["content"][0]["text"],
                              region_count=len(r["images"]) - 1).findings for r in half]
    points = [f.points_to for findings in verdicts for f in findings]
    assert 0.25 < points.count("real") / len(points) < 0.75  # seeded, about half
    again = sft_rows(ai, space, CloseupPolicy(), dataset_path=path, queries="examine",
                     flip_rate=0.0, grid=28, decoy_rate=0.5)
    assert [r["completion"] for r in again] == [r["completion"] for r in half]
    with pytest.raises(ValueError, match="decoy_rate"):
        sft_rows(ai, space, CloseupPolicy(), dataset_path=path, decoy_rate=1.5)


def test_decisive_tokens_are_each_findings_first_word_points_to_and_the_verdict(
        data, tiny_model_dir):
    # The decisive-token loss weighs what only the close-ups can tell; on a real Query-2 target,
    # tokenized as the trainer sees it, exactly those tokens are picked, one per decision.
    from transformers import AutoTokenizer

    from trainer.decisive_tokens import decisive_positions

    path, records, space = data
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = sft_rows(records, space, CloseupPolicy(), dataset_path=path, queries="examine",
                    flip_rate=0.0, grid=28, decoy_rate=0.5)
    for row in rows[:10]:
        text = row["completion"][0]["content"][0]["text"]
        answer = parse_examine(text, region_count=len(row["images"]) - 1)
        pieces = [tokenizer.decode([i]) for i in tokenizer.encode(text)]
        picked = [pieces[i] for i in decisive_positions(pieces)]
        expected = []
        for finding in answer.findings:
            expected += [finding.observation, finding.points_to]
        expected.append(answer.verdict)
        assert len(picked) == len(expected)
        for piece, value in zip(picked, expected, strict=True):
            # the token holding the value's first character (it may carry the opener, ">ai")
            assert piece.strip().lstrip('">') and value.startswith(piece.strip().lstrip('">'))
    assert decisive_positions(["<verdict", ">"]) == []  # nothing after it
    assert decisive_positions(["x", "<verdict>", "real"]) == [2]


def test_to_dataset_gives_back_every_image_pixel_for_pixel(data):
    """The training set stores images losslessly (fast PNG) whatever their mode, alone or in
    lists, next to the text columns: the trainer sees exactly the pixels the rows were built
    with."""
    import numpy as np
    from PIL import Image

    from trainer.record_images import pixels
    from trainer.rows import to_dataset

    path, records, space = data
    rows = sft_rows(records[:4], space, CloseupPolicy(), dataset_path=path)
    rng = np.random.default_rng(0)
    gray = Image.fromarray(rng.integers(0, 256, (9, 7), dtype=np.uint8), mode="L")
    depth = Image.fromarray(rng.integers(0, 65535, (5, 6), dtype=np.uint16))  # TIFF in datasets
    extra = [{**rows[0], "images": [gray, depth], "single": gray},
             {**rows[1], "single": rows[1]["images"][0]}]
    dataset = to_dataset(extra + rows)
    assert len(dataset) == len(rows) + 2
    for row, back in zip(extra + rows, dataset, strict=True):
        assert back["completion"] == row["completion"]
        assert len(back["images"]) == len(row["images"])
        for sent, got in zip(row["images"], back["images"], strict=True):
            sent = pixels(sent)  # a whole synthetic image is its file (the next test)
            assert got.mode == sent.mode and np.array_equal(np.asarray(got), np.asarray(sent))
    assert np.array_equal(np.asarray(dataset[0]["single"]), np.asarray(gray))
    assert dataset[1]["single"].size == rows[1]["images"][0].size
    assert dataset[2]["single"] is None


def test_whole_images_stay_on_disk_and_come_back_as_the_app_decodes_them(data, tmp_path):
    """A row showing a plain PNG whole stores its path, not its pixels (8000 448-px images
    decoded and re-encoded held 21 GB in the locate step); the trainer gets the app's pixels
    back. A file whose plain decode is not the app's (EXIF orientation, JPEG, a palette) is
    decoded by the app's decoder and stored as pixels."""
    import numpy as np
    from PIL import Image

    from inspector.core.imageio import load_image
    from trainer.record_images import ImageFile, row_image
    from trainer.records import Record
    from trainer.rows import to_dataset

    path, records, space = data
    rows = sft_rows(records[:6], space, CloseupPolicy(), dataset_path=path)
    whole = [row["images"][0] for row in rows]
    assert all(isinstance(image, ImageFile) for image in whole)
    closeups = [image for row in rows for image in row["images"][1:]]
    assert closeups and all(isinstance(image, Image.Image) for image in closeups)
    table = to_dataset(rows).data.to_pydict()["images"]
    assert [cell[0]["bytes"] for cell in table] == [None] * len(rows)
    assert [cell[0]["path"] for cell in table] == [str(image.path) for image in whole]
    for row, back in zip(rows, to_dataset(rows), strict=True):
        app = load_image(row["images"][0].path).image
        assert np.array_equal(np.asarray(back["images"][0]), np.asarray(app))

    source = Image.open(whole[0].path).convert("RGB")
    turned = Image.Exif()
    turned[0x0112] = 6  # rotate 90° clockwise to show
    odd = {"turned.png": dict(format="PNG", exif=turned.tobytes()),
           "photo.jpg": dict(format="JPEG", quality=95), "palette.png": dict(format="PNG")}
    for name, options in odd.items():
        image = source.convert("P") if name == "palette.png" else source
        image.save(tmp_path / name, **options)
        app = load_image(tmp_path / name).image
        record = Record(image=name, sha256="", width=app.width, height=app.height,
                        label="real", explanation="")
        got = row_image(record, tmp_path / "records.jsonl")
        assert isinstance(got, Image.Image), name
        assert np.array_equal(np.asarray(got), np.asarray(app)), name
        stored = to_dataset([{"images": [got]}])[0]["images"][0]
        assert np.array_equal(np.asarray(stored), np.asarray(app)), name
