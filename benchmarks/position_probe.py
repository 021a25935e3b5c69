"""Can the language model read *where* an image token is? A linear probe on its hidden states.

    python benchmarks/position_probe.py MODEL_DIR FIT.jsonl CHECK.jsonl [--fit-count 200]
        [--check-count 60] [--json OUT]

Qwen2.5-VL puts position into attention scores only (2-D RoPE in the tower, M-RoPE in the
language model), never into the value vectors. To write a box, the language model must copy a
place out of the image tokens it attends to, so the tokens must carry it. This fits a ridge
regression (numpy) from each merged image token's vector to its row and column (as shares of
the grid) on the images of FIT, and reports R^2 on the images of CHECK (and on FIT), for:

* ``tower``: the tower's merged output (what the language model receives),
* ``lm-1``: the language model's hidden state at that image token after its first layer,
* ``lm-last``: after its last layer (final norm applied),

with the WHERE question of the locate warm-up as the text. Alongside, a held-out marker score:
a ridge probe from the tower's tokens to the share of each cell a planted artifact covers; on
CHECK's ai-generated images, how often its top cell lies in an artifact. Used for issue 12
(docs/decisions/0004-demo-checkpoint.md, "Locating").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LAYERS = ("tower", "lm-1", "lm-last")


def token_features(model_dir: Path, records_path: Path, count: int,
                   batch_size: int = 10) -> dict[str, Any]:
    """Per merged image token (all images stacked): the vectors at each of LAYERS, its (row,
    column) share, the artifact cover of its cell, and which image and label it comes from."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from inspector.core.protocol import AI_GENERATED
    from trainer.conversations import load_record_image
    from trainer.locate_warmup import WHERE_QUESTION, cell_targets
    from trainer.pointer_losses import token_places
    from trainer.records import read_records

    processor = AutoProcessor.from_pretrained(model_dir)
    processor.tokenizer.padding_side = "left"
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32).eval()
    merge = model.config.vision_config.spatial_merge_size
    image_token = model.config.image_token_id
    records = read_records(records_path)[:count]
    feats: dict[str, list] = {name: [] for name in LAYERS}
    places, cover, image_of, is_ai = [], [], [], []
    for k in range(0, len(records), batch_size):
        batch = records[k : k + batch_size]
        images = [load_record_image(r, records_path) for r in batch]
        texts = [processor.apply_chat_template(
            [{"role": "user", "content": [{"type": "image", "image": im},
                                          {"type": "text", "text": WHERE_QUESTION}]}],
            tokenize=False, add_generation_prompt=True) for im in images]
        enc = processor(text=texts, images=images, return_tensors="pt", padding=True)
        with torch.no_grad():
            tower = model.model.visual(enc["pixel_values"],
                                       grid_thw=enc["image_grid_thw"]).pooler_output
            hidden = model(**enc, output_hidden_states=True).hidden_states
        at_image = enc["input_ids"] == image_token  # row-major merged tokens, image by image
        feats["tower"].append(tower.numpy())
        feats["lm-1"].append(hidden[1][at_image].numpy())
        feats["lm-last"].append(hidden[-1][at_image].numpy())
        for j, (record, grid) in enumerate(zip(batch, enc["image_grid_thw"], strict=True)):
            rows, cols = int(grid[1]) // merge, int(grid[2]) // merge
            places.append(token_places(rows, cols).numpy())
            cover.append(cell_targets(record, rows, cols)[:, 1].numpy())
            image_of += [k + j] * (rows * cols)
            is_ai.append(record.label == AI_GENERATED)
    out = {name: np.concatenate(v) for name, v in feats.items()}
    out.update(places=np.concatenate(places), cover=np.concatenate(cover),
               image_of=np.array(image_of), is_ai=np.array(is_ai))
    return out


def fit_ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, ...]:
    """Ridge on standardized features with an intercept: (mean, scale, weights, bias)."""
    mean, scale = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / scale
    weights = np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ (y - y.mean(0)))
    return mean, scale, weights, y.mean(0)


def predict(model: tuple[np.ndarray, ...], x: np.ndarray) -> np.ndarray:
    mean, scale, weights, bias = model
    return (x - mean) / scale @ weights + bias


def r_squared(y: np.ndarray, pred: np.ndarray) -> list[float]:
    """Per target column: 1 - SSE / SST."""
    sse = ((y - pred) ** 2).sum(0)
    sst = ((y - y.mean(0)) ** 2).sum(0)
    return [round(float(v), 3) for v in 1 - sse / sst]


def marker_hit_rate(model: tuple[np.ndarray, ...], data: dict[str, Any]) -> float:
    """Share of ai-generated images whose top predicted artifact cell an artifact covers."""
    scores = predict(model, data["tower"])
    hits = [data["cover"][data["image_of"] == i][scores[data["image_of"] == i].argmax()] > 0
            for i in np.flatnonzero(data["is_ai"])]
    return round(float(np.mean(hits)), 3)


def probe(model_dir: Path, fit_path: Path, check_path: Path, fit_count: int, check_count: int,
          alpha: float) -> dict[str, Any]:
    started = time.perf_counter()
    fit = token_features(model_dir, fit_path, fit_count)
    check = token_features(model_dir, check_path, check_count)
    result: dict[str, Any] = {"model": str(model_dir), "fit_images": fit_count,
                              "check_images": check_count, "alpha": alpha}
    for name in LAYERS:
        ridge = fit_ridge(fit[name], fit["places"], alpha)
        result[name] = {"r2_row_col_check": r_squared(check["places"], predict(ridge, check[name])),
                        "r2_row_col_fit": r_squared(fit["places"], predict(ridge, fit[name]))}
    marker = fit_ridge(fit["tower"], fit["cover"][:, None], alpha)
    result["marker_hit_rate_check"] = marker_hit_rate(marker, check)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, metavar="MODEL_DIR")
    parser.add_argument("fit", type=Path, metavar="FIT.jsonl", help="records the probes learn on")
    parser.add_argument("check", type=Path, metavar="CHECK.jsonl", help="held-out records")
    parser.add_argument("--fit-count", type=int, default=200, metavar="N")
    parser.add_argument("--check-count", type=int, default=60, metavar="N")
    parser.add_argument("--alpha", type=float, default=10.0, help="ridge penalty (standardized)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures here")
    args = parser.parse_args(argv)
    result = probe(args.model, args.fit, args.check, args.fit_count, args.check_count, args.alpha)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
