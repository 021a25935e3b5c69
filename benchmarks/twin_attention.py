"""Can the tower tell a clone once its attention is taught where the copy is? (issue 12)

    python benchmarks/twin_attention.py MODEL_DIR TRAIN.jsonl CHECK.jsonl [--steps 500]
        [--block 3] [--heads 0] [--weight 1] [--full 2,3] [--others] [--json OUT]

As :mod:`vision_marks` (the tower and projector of MODEL_DIR trained through the warm-ups' heads:
the image label and each token's cell marks, AdamW, batch 16), plus a cross-entropy that makes
the attention of ``--heads`` in vision block ``--block`` look from every patch of a cloned tile
at the patch its copy sits on in the other tile (bilinear over the 14-px patch grid; the twin,
never the patch itself). ``--full`` gives the blocks that attend over the whole image instead of
112-px windows; ``--others`` also spreads the attention of every other patch evenly over the
rest. Data: ``lte-train synth --kinds clone`` (clones whose regions synth captions "cloned patch"
or "repeated patch"). Reports the twin loss (a uniform look: ln 256 = 5.5) and, on CHECK, the
label head's accuracy per source and how often the top mark lies in the clone's box
(decision 0004, "Teaching the tower where the copy is").
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from _marker_training import train_marker
from transformers import AutoModelForImageTextToText, AutoProcessor
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import apply_rotary_pos_emb_vision
from transformers.vision_utils import get_vision_position_ids, get_vision_window_index
from vision_marks import _batch, _check, _encode

from trainer.synth import _CAPTIONS
from trainer.vision_heads import marker_class

CLONE_CAPTIONS = set(_CAPTIONS["clone"])  # how synth captions a planted clone
PATCH = 14


def twin_targets(record, rows: int, cols: int) -> torch.Tensor:
    """(rows*cols, rows*cols) row-major patch grid: row q = where patch q's twin lies (sums to
    1), zero rows for patches outside any clone tile."""
    target = torch.zeros(rows * cols, rows * cols)
    for region in record.regions:
        if region.caption not in CLONE_CAPTIONS or record.label != "ai-generated":
            continue
        x1, y1, x2, y2 = region.box
        w, h = x2 - x1, y2 - y1
        vertical = w >= h
        tile = ((w if vertical else h) - 1) // 2
        for r in range(rows):
            for c in range(cols):
                cx, cy = PATCH * c + 7, PATCH * r + 7
                if not (x1 <= cx < x2 and y1 <= cy < y2):
                    continue
                along = (cx - x1) if vertical else (cy - y1)
                if along < tile:
                    shift = tile + 1
                elif tile + 1 <= along < 2 * tile + 1:
                    shift = -(tile + 1)
                else:
                    continue
                tx, ty = (cx + shift, cy) if vertical else (cx, cy + shift)
                u, v = (tx - 7) / PATCH, (ty - 7) / PATCH
                c0, r0 = int(u // 1), int(v // 1)
                fu, fv = u - c0, v - r0
                for rr, cc, wgt in ((r0, c0, (1 - fv) * (1 - fu)), (r0, c0 + 1, (1 - fv) * fu),
                                    (r0 + 1, c0, fv * (1 - fu)), (r0 + 1, c0 + 1, fv * fu)):
                    if 0 <= rr < rows and 0 <= cc < cols and wgt > 0:
                        target[r * cols + c, rr * cols + cc] += wgt
    sums = target.sum(-1, keepdim=True)
    return torch.where(sums > 0, target / sums.clamp_min(1e-9), target)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("model", type=Path)
    p.add_argument("train", type=Path)
    p.add_argument("check", type=Path)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--block", type=int, default=3)
    p.add_argument("--heads", default="0")
    p.add_argument("--weight", type=float, default=1.0)
    p.add_argument("--full", default="")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--others", action="store_true")
    p.add_argument("--self-heads", default="", help="heads taught to look at the patch itself")
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    torch.manual_seed(0)
    model = AutoModelForImageTextToText.from_pretrained(a.model)
    visual = model.model.visual
    if a.full:
        visual.fullatt_block_indexes = [int(v) for v in a.full.split(",")]
    vision = model.config.vision_config
    merge = vision.spatial_merge_size
    processor = AutoProcessor.from_pretrained(a.model).image_processor
    train, check = _encode(a.train, processor, merge), _encode(a.check, processor, merge)
    heads = [int(h) for h in a.heads.split(",")]
    self_heads = [int(h) for h in a.self_heads.split(",") if h]
    marker = marker_class()(visual, vision.out_hidden_size, merge)
    captured: dict = {}

    def hook(module, args, kwargs, output):
        hidden = args[0] if args else kwargs["hidden_states"]
        captured["hidden"] = hidden
        captured["pos"] = kwargs["position_embeddings"]

    visual.blocks[a.block].attn.register_forward_hook(hook, with_kwargs=True)
    attn = visual.blocks[a.block].attn
    stats = {"twin_loss": []}

    def twin_loss(records, grids):
        hidden, (cos, sin) = captured["hidden"], captured["pos"]
        n = hidden.shape[0]
        qkv = attn.qkv(hidden).reshape(n, 3, attn.num_heads, -1).permute(1, 0, 2, 3)
        q, k = apply_rotary_pos_emb_vision(qkv[0], qkv[1], cos, sin)
        window_index, _ = get_vision_window_index(grids, merge, vision.window_size, PATCH)
        pos = get_vision_position_ids(grids, merge)  # (n, 2) pre-window order
        unit = merge * merge
        pos = pos.reshape(n // unit, unit, 2)[window_index].reshape(n, 2)
        total, count, start = 0.0, 0, 0
        for record, grid in zip(records, grids.tolist(), strict=True):
            _, rows, cols = grid
            m = rows * cols
            target = twin_targets(record, rows, cols)
            if a.others:
                empty = target.sum(-1) == 0
                spread = (1 - torch.eye(m)) / (m - 1)
                target[empty] = spread[empty]
            if target.sum() > 0:
                order = (pos[start:start + m, 0] * cols + pos[start:start + m, 1]).long()
                t = target[order][:, order]  # block order both ways
                keep = t.sum(-1) > 0
                for h in heads:
                    logits = q[start:start + m, h] @ k[start:start + m, h].T * attn.scaling
                    logp = torch.log_softmax(logits[keep], -1)
                    total = total - (t[keep] * logp).sum(-1).mean()
                    count += 1
            for h in self_heads:  # the patch itself: beside a twin head, a difference to read
                logits = q[start:start + m, h] @ k[start:start + m, h].T * attn.scaling
                total = total - torch.log_softmax(logits, -1).diagonal().mean()
                count += 1
            start += m
        return total / count if count else None

    def batch_loss(indices):
        items = [train[i] for i in indices]
        pixels, grids, cells, labels = _batch(items)
        loss = marker(pixels, grids, cells=cells, labels=labels)["loss"]
        extra = twin_loss([i[0] for i in items], grids)
        if extra is not None and a.weight > 0:
            stats["twin_loss"].append(float(extra.detach()))
            loss = loss + a.weight * extra
        return loss

    t0 = time.perf_counter()
    train_marker(marker, batch_loss, len(train), a.steps, a.lr, 0)
    tl = stats["twin_loss"]
    result = {"args": vars(a) | {"model": str(a.model), "train": str(a.train),
                                 "check": str(a.check), "json": str(a.json)},
              "seconds": round(time.perf_counter() - t0, 1),
              "twin_loss_first_last": [round(sum(tl[:20]) / max(1, len(tl[:20])), 3),
                                       round(sum(tl[-20:]) / max(1, len(tl[-20:])), 3)],
              "train": _check(marker, train[:400], merge), "check": _check(marker, check, merge)}
    print(json.dumps(result, indent=1))
    if a.json:
        a.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
