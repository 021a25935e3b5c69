"""Does a task give close-ups anything to add? Whole images against close-ups, one tower.

    python benchmarks/closeup_premise.py MODEL_DIR TRAIN.jsonl CHECK.jsonl [--steps 1500]
        [--json OUT]

Locate-Then-Examine pays when a close-up shows what the whole image, seen at the model's
resolution, does not. This trains the tower and projector of MODEL_DIR (e.g. the demo's random
init) as the vision warm-up's phase 1 does — the label of every training image and of its
ground-truth close-ups, plus each whole image's cell marks (:mod:`trainer.vision_heads`),
AdamW lr 3e-4, batch 16, cosine schedule, seed 0 — and then asks the same label head, on
CHECK (another seed):

* of each whole image: its label;
* of close-ups cut as the app cuts them (:func:`inspector.core.closeups.plan_closeups` at the
  model's view scale) from each artifact's box and from two random boxes per image: does it
  show a planted artifact (:func:`trainer.conversations.examined_finding`)?

Per source, side by side. Used for issue 12 (docs/decisions/0004-demo-checkpoint.md, E21):
on the demo's 224-px task the close-ups are read *worse* than the whole images; on 448-px
images with fine artifacts (``lte-train synth --size 448 --fine-artifacts``) the checkerboard
is lost in the 224-px view and found in the close-ups.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RANDOM_BOXES = 2  # per image, besides its artifacts' own boxes


def _closeups(record, image, space, policy, rng: random.Random):
    """[(close-up image, what it shows)] for the artifact boxes and RANDOM_BOXES random ones."""
    from inspector.core.closeups import plan_closeups, render_closeup
    from inspector.core.geometry import Box
    from inspector.core.protocol import AI_GENERATED
    from trainer.conversations import examined_finding

    width, height = image.size
    boxes = [Box(*map(float, r.box)) for r in record.regions if record.label == AI_GENERATED]
    for _ in range(RANDOM_BOXES):
        w, h = rng.randint(width // 5, width * 2 // 5), rng.randint(height // 5, height * 2 // 5)
        x, y = rng.randint(0, width - w), rng.randint(0, height - h)
        boxes.append(Box(x, y, x + w, y + h))
    scale = space.view_scale((width, height))
    return [(render_closeup(image, plan_closeups([box], (width, height), scale, policy)[0]),
             examined_finding(record, box)[1]) for box in boxes]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("train", type=Path)
    parser.add_argument("check", type=Path)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import torch
    from _marker_training import train_marker
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from inspector.core.closeups import CloseupPolicy
    from trainer.record_images import load_record_image, pixels
    from trainer.records import read_records
    from trainer.rows import model_space
    from trainer.vision_heads import LABELS, cell_batch, marker_class
    from trainer.warmup import warmup_examples

    torch.manual_seed(0)
    model = AutoModelForImageTextToText.from_pretrained(args.model)
    processor = AutoProcessor.from_pretrained(args.model).image_processor
    merge = model.config.vision_config.spatial_merge_size
    space, policy = model_space(args.model), CloseupPolicy()
    examples = warmup_examples(read_records(args.train), space, policy, args.train)
    marker = marker_class()(model.model.visual, model.config.vision_config.out_hidden_size, merge)
    started = time.perf_counter()

    def batch_loss(indices: list[int]):
        batch = [examples[i] for i in indices]
        encoded = processor(images=[pixels(b[0]) for b in batch], return_tensors="pt")
        cells, mask = cell_batch([b[2] for b in batch], encoded["image_grid_thw"], merge)
        return marker(encoded["pixel_values"], encoded["image_grid_thw"], cells=cells,
                      cell_mask=mask, labels=torch.tensor([b[1] for b in batch]))["loss"]

    train_marker(marker, batch_loss, len(examples), args.steps)
    train_seconds = time.perf_counter() - started

    def label_of(image) -> str:
        encoded = processor(images=[image], return_tensors="pt")
        with torch.no_grad():
            logits = marker(encoded["pixel_values"], encoded["image_grid_thw"])["logits"]
        return LABELS[int(logits.argmax(-1))]

    whole: dict[str, list[int]] = defaultdict(list)
    close: dict[str, list[int]] = defaultdict(list)
    box_rng = random.Random(99)
    check = read_records(args.check)
    for record in check:
        image = load_record_image(record, args.check)
        whole[record.source].append(int(label_of(image) == record.label))
        for crop, shows in _closeups(record, image, space, policy, box_rng):
            key = record.source if shows == record.label and shows != "real" else "nothing"
            close[key].append(int(label_of(crop) == shows))

    def rate(values: list[int]) -> float:
        return round(sum(values) / max(1, len(values)), 3)

    result = {
        "model": str(args.model), "train": str(args.train), "check": str(args.check),
        "steps": args.steps, "train_examples": len(examples),
        "train_seconds": round(train_seconds, 1),
        "view_scale": space.view_scale((check[0].width, check[0].height)),
        "whole": {"accuracy": rate([v for vs in whole.values() for v in vs]),
                  "per_source": {s: rate(v) for s, v in sorted(whole.items())},
                  "images": sum(map(len, whole.values()))},
        # per source: close-ups that show that source's artifact; "nothing": those that show none
        "closeups": {"accuracy": rate([v for vs in close.values() for v in vs]),
                     "per_source": {s: rate(v) for s, v in sorted(close.items())},
                     "closeups": sum(map(len, close.values()))},
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
