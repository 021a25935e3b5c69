"""Does a dense per-cell signal train a vision tower from nothing better than the label alone?

    python benchmarks/vision_marks.py MODEL_DIR TRAIN.jsonl CHECK.jsonl [--epochs 4]
        [--label-only] [--json OUT]

Trains the tower and projector of MODEL_DIR (e.g. ``lte-train init-tiny``'s random weights)
through the warm-ups' own heads (:mod:`trainer.vision_heads`) on the whole images of TRAIN —
the image label from a max over its tokens, plus, unless ``--label-only``, each token's cell
marks (regions and planted artifacts) — with AdamW, batch 16, a cosine schedule and the same
seed, and reports on the images of CHECK (made with another seed): the label head's accuracy,
per source, and how often the top artifact mark lies in an artifact on the ai-generated ones.
Used for issue 12 (docs/decisions/0004-demo-checkpoint.md, E17). Whole images only: the
recipe's warm-up also trains on the ground-truth close-ups (label only).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _encode(path: Path, processor, merge: int):
    from trainer.conversations import load_record_image
    from trainer.records import read_records
    from trainer.vision_heads import cell_targets

    items = []
    for record in read_records(path):
        encoded = processor(images=[load_record_image(record, path)], return_tensors="pt")
        grid = encoded["image_grid_thw"][0]
        cells = cell_targets(record, int(grid[1]) // merge, int(grid[2]) // merge)
        items.append((record, encoded["pixel_values"], encoded["image_grid_thw"], cells))
    return items


def _batch(items):
    import torch

    from trainer.vision_heads import LABELS

    return (torch.cat([i[1] for i in items]), torch.cat([i[2] for i in items]),
            torch.cat([i[3] for i in items]),
            torch.tensor([LABELS.index(i[0].label) for i in items]))


def _check(marker, items, merge: int) -> dict:
    import torch

    per_source: dict[str, list[int]] = {}
    hits: list[int] = []
    marker.eval()
    with torch.no_grad():
        for k in range(0, len(items), 32):
            pixels, grids, cells, labels = _batch(items[k : k + 32])
            out = marker(pixels, grids)
            right = (out["logits"].argmax(-1) == labels).tolist()
            counts = (grids.prod(-1) // merge**2).tolist()
            marks = out["cell_logits"][:, 1].split(counts)
            covers = cells[:, 1].split(counts)
            for j, item in enumerate(items[k : k + 32]):
                per_source.setdefault(item[0].source, []).append(int(right[j]))
                if item[0].label == "ai-generated":
                    hits.append(int(covers[j][int(marks[j].argmax())] > 0))
    total = [r for v in per_source.values() for r in v]
    return {"accuracy": round(sum(total) / len(total), 4),
            "mark_hit": round(sum(hits) / max(1, len(hits)), 4),
            "per_source": {s: round(sum(v) / len(v), 4) for s, v in sorted(per_source.items())},
            "images": len(total)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("train", type=Path)
    parser.add_argument("check", type=Path)
    parser.add_argument("--epochs", type=float, default=4.0)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--label-only", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import torch
    from _marker_training import train_marker
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from trainer.vision_heads import marker_class

    torch.manual_seed(args.seed)
    model = AutoModelForImageTextToText.from_pretrained(args.model)
    vision = model.config.vision_config
    merge = vision.spatial_merge_size
    processor = AutoProcessor.from_pretrained(args.model).image_processor
    train, check = _encode(args.train, processor, merge), _encode(args.check, processor, merge)
    marker = marker_class()(model.model.visual, vision.out_hidden_size, merge)
    steps = math.ceil(len(train) / 16 * args.epochs)
    started = time.perf_counter()

    def batch_loss(indices: list[int]):
        pixels, grids, cells, labels = _batch([train[i] for i in indices])
        return marker(pixels, grids, cells=None if args.label_only else cells,
                      labels=labels)["loss"]

    train_marker(marker, batch_loss, len(train), steps, args.learning_rate, args.seed)
    result = {"cells": not args.label_only, "epochs": args.epochs, "steps": steps,
              "train_images": len(train), "seconds": round(time.perf_counter() - started, 1),
              "train": _check(marker, train[:400], merge), "check": _check(marker, check, merge)}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
