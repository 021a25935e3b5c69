"""The locate warm-up on a tiny model: per-token region targets, snapped boxes, both phases."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
from PIL import Image
from safetensors.torch import load_file

from trainer.conversations import snap_box
from trainer.locate_warmup import (
    LocateWarmupSettings,
    run_locate_warmup,
    where_rows,
    where_target,
)
from trainer.pointer_losses import PointerLosses, box_cells, token_places
from trainer.records import Record, Region, read_records
from trainer.vision_heads import cell_targets

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from trainer.synth import generate
    from trainer.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("locate")
    base = build_tiny_model(root / "base", seed=0)
    records = generate(root / "data", count=6, seed=0)
    return SimpleNamespace(root=root, base=base, records=records)


def _record(label: str, boxes: list[list[int]]) -> Record:
    return Record(image="x.png", sha256="0" * 64, width=56, height=56, label=label, explanation="e",
                  regions=[Region(box=b, caption="c") for b in boxes])


def test_snap_box_moves_sides_to_grid_lines_and_keeps_a_cell():
    assert snap_box([30, 50, 100, 130], 28, 224, 224) == [28, 56, 112, 140]
    assert snap_box([30, 50, 100, 130], 0, 224, 224) == [30, 50, 100, 130]
    # thinner than a cell: the cell around its centre, inside the image
    assert snap_box([60, 215, 66, 224], 28, 224, 224) == [56, 196, 84, 224]
    assert snap_box([0, 0, 10, 10], 28, 224, 224) == [0, 0, 28, 28]


def test_cell_targets_cover_regions_and_mark_artifacts_only_in_ai_images():
    ai = cell_targets(_record("ai-generated", [[0, 0, 28, 28]]), rows=2, cols=2)
    assert ai.shape == (4, 2)
    assert ai[:, 0].tolist() == [1.0, 0.0, 0.0, 0.0]  # row-major: only the top-left cell
    assert ai[:, 1].tolist() == [1.0, 0.0, 0.0, 0.0]
    half = cell_targets(_record("ai-generated", [[28, 28, 56, 42]]), rows=2, cols=2)
    assert half[3, 0].item() == pytest.approx(0.5)  # half of the bottom-right cell
    real = cell_targets(_record("real", [[0, 0, 28, 28]]), rows=2, cols=2)
    assert real[0, 0].item() == 1.0 and real[:, 1].sum().item() == 0.0


def test_token_places_are_row_major_cell_centres():
    places = token_places(rows=2, cols=3)
    assert places.shape == (6, 2)
    assert places[0].tolist() == pytest.approx([0.25, 1 / 6])
    assert places[5].tolist() == pytest.approx([0.75, 5 / 6])  # last row, last column


def test_where_target_is_the_protocols_box_notation():
    from inspector.core.protocol import parse_regions

    text = where_target([[28, 56, 112, 140], [0, 0, 28, 28]])
    problems: list[str] = []
    regions = parse_regions(text, problems)
    assert [r.coords for r in regions] == [[28, 56, 112, 140], [0, 0, 28, 28]]


def test_where_rows_ask_the_where_question_or_query_1_with_the_same_boxes(workspace):
    # --where-prompt query1 (decision 0004, E53): phase 2 learns the boxes where the app asks
    # for them, after the system prompt, the Query-1 instruction and the explanation
    from dataclasses import replace

    from inspector.core.protocol import SYSTEM_PROMPT, parse_locate
    from trainer.conversations import WHERE_QUESTION, answer_boxes, load_record_image
    from trainer.rows import model_space

    records = read_records(workspace.records)
    images = [load_record_image(r, workspace.records) for r in records]
    space = model_space(workspace.base)
    settings = LocateWarmupSettings(model=workspace.base, train=workspace.records,
                                    output_dir=workspace.root / "rows")
    where = where_rows(records, images, space, settings)
    query1 = where_rows(records, images, space, replace(settings, where_prompt="query1"))
    assert len(where) == len(query1) == len(records)

    def text(turn) -> str:
        return "".join(p["text"] for p in turn["content"] if p["type"] == "text")

    for record, w, q in zip(records, where, query1, strict=True):
        boxes = [b for b, _ in answer_boxes(record, space, 28, reading_order=True)]
        assert [t["role"] for t in w["prompt"]] == ["user"]
        assert text(w["prompt"][0]) == WHERE_QUESTION
        assert text(w["completion"][0]) == where_target(boxes)
        assert [t["role"] for t in q["prompt"]] == ["system", "user"]
        assert text(q["prompt"][0]) == SYSTEM_PROMPT
        answer = parse_locate(text(q["completion"][0]))
        assert answer.verdict == record.label and not answer.problems
        assert [r.coords for r in answer.regions] == boxes
        assert len(w["images"]) == len(q["images"]) == 1
    with pytest.raises(ValueError, match="where_prompt"):
        replace(settings, where_prompt="query2").validate()


def test_mark_trains_the_tower_only_and_where_the_language_model(workspace):
    from tests.test_trainer_training import _changed_by_part

    lines: list[str] = []
    marked = run_locate_warmup(LocateWarmupSettings(
        model=workspace.base, train=workspace.records, output_dir=workspace.root / "mark",
        mark_epochs=1, mark_batch_size=3, where_steps=0, logging_steps=1, positions=True,
    ), print_fn=lines.append)
    base = load_file(workspace.base / "model.safetensors")
    changed = _changed_by_part(base, load_file(marked.output_dir / "model.safetensors"))
    assert any(changed["vision"]) and any(changed["projector"])
    assert not any(changed["language"]), "phase 1 must not touch the language model"
    assert len(marked.mark_losses) == 2 and marked.where_losses == []
    assert any("locate warm-up (mark) step 2/2" in line for line in lines)
    assert 0.0 <= marked.mark_hit_rate <= 1.0  # the synthetic set has ai-generated records
    assert any("top marked cell inside an artifact" in line for line in lines)

    plain = run_locate_warmup(LocateWarmupSettings(  # without the row/column targets
        model=workspace.base, train=workspace.records, output_dir=workspace.root / "plain",
        mark_epochs=1, mark_batch_size=6, where_steps=0, logging_steps=1,
    ), print_fn=lines.append)
    assert len(plain.mark_losses) == 1 and 0.0 <= plain.mark_hit_rate <= 1.0

    where = run_locate_warmup(LocateWarmupSettings(
        model=marked.output_dir, train=workspace.records, output_dir=workspace.root / "where",
        mark_epochs=0, where_steps=3, where_batch_size=2, logging_steps=1,
    ), print_fn=lines.append)
    changed = _changed_by_part(load_file(marked.output_dir / "model.safetensors"),
                               load_file(where.output_dir / "model.safetensors"))
    assert any(changed["language"]) and any(changed["projector"])
    assert not any(changed["vision"]), "phase 2 keeps the tower phase 1 trained"
    assert len(where.where_losses) == 3 and where.mark_hit_rate is None
    info = json.loads((where.output_dir / "training_info.json").read_text(encoding="utf-8"))
    assert info["stage"] == "locate-warmup" and info["examples"] == 6
    assert not (where.output_dir / "locate-run").exists()


def test_where_places_and_point_add_their_losses_and_save_no_head(workspace):
    lines: list[str] = []
    placed = run_locate_warmup(LocateWarmupSettings(
        model=workspace.base, train=workspace.records, output_dir=workspace.root / "places",
        mark_epochs=0, where_steps=3, where_batch_size=2, logging_steps=1,
        pointer=PointerLosses(places=1.0, places_layer=1, point=1.0),
    ), print_fn=lines.append)
    assert len(placed.where_place_losses) == 3  # one loss of each kind per step
    assert len(placed.where_point_losses) == 3
    assert all(loss > 0 for loss in placed.where_place_losses + placed.where_point_losses)
    assert any("image-token place (MSE) loss" in line for line in lines)
    assert any("first-box centre (MSE) loss" in line for line in lines)
    base, saved = load_file(workspace.base / "model.safetensors"), load_file(
        placed.output_dir / "model.safetensors")
    assert set(saved) == set(base), "the temporary place head must not reach the checkpoint"
    info = json.loads((placed.output_dir / "training_info.json").read_text(encoding="utf-8"))
    assert info["where_place_losses"] == placed.where_place_losses
    assert info["where_point_losses"] == placed.where_point_losses
    with pytest.raises(ValueError, match="places_layer 99"):
        run_locate_warmup(LocateWarmupSettings(
            model=workspace.base, train=workspace.records, output_dir=workspace.root / "bad",
            mark_epochs=0, where_steps=1, pointer=PointerLosses(places=1.0, places_layer=99)))


def test_box_cells_are_the_tokens_a_box_overlaps():
    # a 3 x 4 grid of 28-px cells; the box covers columns 1-2 of rows 0-1 (edges on grid lines)
    inside = box_cells([28, 0, 84, 56], 28, cols=4, count=12).reshape(3, 4)
    assert inside.tolist() == [[False, True, True, False], [False, True, True, False],
                               [False, False, False, False]]
    # a box off the grid touches every cell it overlaps, however little
    cells = box_cells([27, 55, 29, 57], 28, cols=4, count=12)
    assert cells.nonzero().squeeze(1).tolist() == [4, 5, 8, 9]


def test_where_attend_teaches_a_pointer_head_and_leaves_the_model_as_it_was(workspace):
    lines: list[str] = []
    settings = LocateWarmupSettings(
        model=workspace.base, train=workspace.records, output_dir=workspace.root / "attend",
        mark_epochs=0, where_steps=12, where_batch_size=2, logging_steps=1,
        pointer=PointerLosses(attend=1.0, attend_layer=1), where_learning_rate=3e-3,
    )
    pointed = run_locate_warmup(settings, print_fn=lines.append)
    losses = pointed.where_attend_losses
    assert len(losses) == 12 and all(loss > 0 for loss in losses)
    # the supervised head moves its attention into the boxes: -log(mass) falls
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    assert any("pointer attention" in line for line in lines)
    base, saved = load_file(workspace.base / "model.safetensors"), load_file(
        pointed.output_dir / "model.safetensors")
    assert set(saved) == set(base)
    # the pointer scaffolding (heads, hooks) was for training only
    assert "eager" not in (pointed.output_dir / "config.json").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="attend_layer 9"):
        run_locate_warmup(LocateWarmupSettings(
            model=workspace.base, train=workspace.records, output_dir=workspace.root / "bad2",
            mark_epochs=0, where_steps=1, pointer=PointerLosses(attend=1.0, attend_layer=9)))


def test_locate_warmup_refuses_an_adapter_and_bad_settings(tmp_path, workspace):
    (tmp_path / "adapter_config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match="adapter"):
        run_locate_warmup(LocateWarmupSettings(model=tmp_path, train=workspace.records,
                                               output_dir=tmp_path / "o"))
    with pytest.raises(ValueError, match="snap"):
        run_locate_warmup(LocateWarmupSettings(model=workspace.base, train=workspace.records,
                                               output_dir=tmp_path / "o", snap=-1))
    with pytest.raises(ValueError, match="where_places"):
        run_locate_warmup(LocateWarmupSettings(model=workspace.base, train=workspace.records,
                                               output_dir=tmp_path / "o",
                                               pointer=PointerLosses(places=-1)))


def test_cli_locate_warmup_reports_missing_records(tmp_path, capsys):
    from trainer.cli import main

    code = main(["locate-warmup", str(tmp_path), str(tmp_path / "none.jsonl"),
                 "-o", str(tmp_path / "out")])
    assert code == 2
    assert "training records not found" in capsys.readouterr().err


def test_cli_locate_warmup_passes_the_pointer_options(workspace):
    from trainer.cli import main

    out = workspace.root / "cli-pointer"
    code = main(["locate-warmup", str(workspace.base), str(workspace.records), "-o", str(out),
                 "--mark-epochs", "0", "--where-steps", "1", "--where-places", "1",
                 "--where-attend", "2", "--attend-layer", "0", "--where-read", "5",
                 "--where-learning-rate", "1e-3", "--mark-learning-rate", "2e-4",
                 "--where-prompt", "query1"])
    assert code == 0
    info = json.loads((out / "training_info.json").read_text(encoding="utf-8"))
    # the demo's phase-2 rate can be asked for (its default 5e-4 is half the recipe's)
    assert info["settings"]["where_learning_rate"] == 1e-3
    assert info["settings"]["mark_learning_rate"] == 2e-4
    assert info["settings"]["where_prompt"] == "query1"
    pointer = info["settings"]["pointer"]
    assert pointer["attend"] == 2 and pointer["attend_layer"] == 0 and pointer["read"] == 5
    assert pointer["places"] == 1
    assert len(info["where_attend_losses"]) == len(info["where_read_losses"]) == 1
    assert info["allocator"] in ("tcmalloc", "glibc, kept")  # its own process, as in the recipe


def test_pointer_head_weights_equal_the_eager_attentions_and_the_model_keeps_sdpa(workspace):
    # the pointer loss needs head 0's attention weights; the eager attention that returns them
    # made a training step about 5x slower (the tower's), so one head is recomputed instead
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from trainer.pointer_losses import auxiliary_loss_trainer, head_zero_attention

    model = AutoModelForImageTextToText.from_pretrained(workspace.base).eval()
    processor = AutoProcessor.from_pretrained(workspace.base)
    images = [Image.open(workspace.records.parent / r.image).convert("RGB")
              for r in read_records(workspace.records)[:2]]
    texts = [processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": words}]}],
        tokenize=False) for words in ("where is it?", "a much longer question " * 6)]
    inputs = processor(text=texts, images=images, return_tensors="pt", padding=True)
    assert (inputs["attention_mask"] == 0).any()  # a padded batch: the mask matters
    layer = model.model.language_model.layers[1].self_attn
    seen: dict[str, torch.Tensor] = {}

    def keep(module, args, kwargs, output):
        seen[module.config._attn_implementation] = head_zero_attention(
            module, kwargs["hidden_states"], kwargs["position_embeddings"],
            kwargs.get("attention_mask"))
        if output[1] is not None:
            seen["returned"] = output[1][:, :1]

    hook = layer.register_forward_hook(keep, with_kwargs=True)
    with torch.no_grad():
        model(**inputs)  # sdpa
        model.set_attn_implementation({"text_config": "eager"})
        model(**inputs)
    hook.remove()
    real = inputs["attention_mask"].bool()  # compare where queries and keys are real tokens
    pairs = real[:, None, :, None] & real[:, None, None, :]
    for name in ("sdpa", "eager"):
        assert torch.allclose(seen[name][pairs], seen["returned"][pairs], atol=1e-5), name

    model.set_attn_implementation("sdpa")
    _, cleanup = auxiliary_loss_trainer(model, PointerLosses(attend=1.0, attend_layer=1), {})
    assert model.config.text_config._attn_implementation == "sdpa"
    assert model.config.vision_config._attn_implementation == "sdpa"
    cleanup()
    assert not hasattr(model, "locate_attend_head")


def test_vision_warmup_marks_cells_on_whole_images_only(workspace):
    # The vision warm-up's dense signal (decision 0004, E17): a whole image carries its record,
    # whose regions give per-token cell targets; a close-up carries none, and its tokens are
    # left out of the cell loss instead of being taught "nothing here".
    import numpy as np
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from inspector.core.closeups import CloseupPolicy
    from trainer.record_images import ImageFile, load_record_image, pixels
    from trainer.rows import model_space
    from trainer.vision_heads import marker_class
    from trainer.warmup import warmup_examples

    records = read_records(workspace.records)
    examples = warmup_examples(records, model_space(workspace.base), CloseupPolicy(),
                               workspace.records)
    whole = [e for e in examples if e[2] is not None]
    assert [e[2].sha256 for e in whole] == [r.sha256 for r in records]
    assert len(examples) > len(whole)  # the close-ups, without a record
    # whole images stay on disk until a batch needs them (8000 of 448 px held 6.4 GB), and
    # come back as the app decodes them
    assert all(isinstance(e[0], ImageFile) for e in whole)
    first = load_record_image(records[0], workspace.records)
    assert np.array_equal(np.asarray(pixels(whole[0][0])), np.asarray(first))

    model = AutoModelForImageTextToText.from_pretrained(workspace.base)
    vision = model.config.vision_config
    merge = vision.spatial_merge_size
    marker = marker_class()(model.model.visual, vision.out_hidden_size, merge)
    encoded = AutoProcessor.from_pretrained(workspace.base).image_processor(
        images=[first], return_tensors="pt")
    grid = encoded["image_grid_thw"][0]
    cells = cell_targets(whole[0][2], int(grid[1]) // merge, int(grid[2]) // merge)
    labels = torch.tensor([whole[0][1]])
    with torch.no_grad():
        label_only = marker(encoded["pixel_values"], encoded["image_grid_thw"], labels=labels)
        none_kept = marker(encoded["pixel_values"], encoded["image_grid_thw"], cells=cells,
                           cell_mask=torch.zeros(len(cells), dtype=torch.bool), labels=labels)
        kept = marker(encoded["pixel_values"], encoded["image_grid_thw"], cells=cells,
                      cell_mask=torch.ones(len(cells), dtype=torch.bool), labels=labels)
    assert none_kept["loss"].item() == pytest.approx(label_only["loss"].item())
    bce = torch.nn.functional.binary_cross_entropy_with_logits(kept["cell_logits"], cells)
    assert kept["loss"].item() == pytest.approx(label_only["loss"].item() + bce.item(), rel=1e-5)

    # and the warm-up trains with it: close-ups and whole images in the same batches
    from trainer.warmup import WarmupSettings, run_warmup

    result = run_warmup(WarmupSettings(
        model=workspace.base, train=workspace.records, output_dir=workspace.root / "warm-cells",
        epochs=1, batch_size=4, read_steps=0, cells=True, logging_steps=1,
    ), print_fn=lambda line: None)
    assert result.steps == -(-len(examples) // 4) and all(map(math.isfinite, result.losses))
