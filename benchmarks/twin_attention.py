"""Can the tower tell a clone once its attention is taught where the copy is? (issue 12)

    python benchmarks/twin_attention.py MODEL_DIR TRAIN.jsonl CHECK.jsonl [--steps 500]
        [--block 3] [--heads 0] [--weight 1] [--full 2,3] [--others] [--self-heads 1]
        [--difference-init SCALE [--freeze-difference]] [--json OUT]

As :mod:`vision_marks` (the tower and projector of MODEL_DIR trained through the warm-ups' heads:
the image label and each token's cell marks, AdamW, batch 16), plus a cross-entropy that makes
the attention of ``--heads`` in vision block ``--block`` look from every patch of a cloned tile
at the patch its copy sits on in the other tile (bilinear over the 14-px patch grid; the twin,
never the patch itself). ``--full`` gives the blocks that attend over the whole image instead of
112-px windows; ``--others`` also spreads the attention of every other patch evenly over the
rest; ``--self-heads`` are taught to look at the patch itself; ``--difference-init`` builds a
copy detector into the taught block (:func:`difference_init`), ``--freeze-difference`` keeps it
as built. Data: ``lte-train synth --kinds clone`` (clones whose regions synth captions "cloned
patch" or "repeated patch"). Reports the twin loss (a uniform look: ln 256 = 5.5), on CHECK the
label head's accuracy per source and how often the top mark lies in the clone's box, and the
circuit (:func:`circuit` inside ``main``: where the taught heads look, and the detector's output
on patches with a byte-identical twin against the rest). Decision 0004, "Teaching the tower
where the copy is"; the runs in docs/twin_attention.json.
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


def difference_init(visual, index: int, twin: int, itself: int, scale: float,
                    dims: int = 16) -> None:
    """Weights that make block ``index`` report, per patch, how far what its twin head sees is
    from what its self head sees (0 for an exact copy): ``dims`` residual dimensions kept empty
    until then (nothing before writes them), equal values for both heads, opposite output
    projections into those dimensions, and their squared norm from 2 x ``dims`` gated MLP units
    (silu(d) * d + silu(-d) * -d = d^2) written to the last residual dimension."""
    block = visual.blocks[index]
    attn, mlp = block.attn, block.mlp
    dim, hd = attn.dim, attn.head_dim
    with torch.no_grad():
        visual.patch_embed.proj.weight[:dims] = 0.0
        for earlier in visual.blocks[:index]:
            for layer in (earlier.attn.proj, earlier.mlp.down_proj):
                layer.weight[:dims] = 0.0
                layer.bias[:dims] = 0.0
        v = slice(2 * dim + itself * hd, 2 * dim + (itself + 1) * hd)
        vt = slice(2 * dim + twin * hd, 2 * dim + (twin + 1) * hd)
        attn.qkv.weight[vt] = attn.qkv.weight[v]
        attn.qkv.bias[vt] = attn.qkv.bias[v]
        attn.proj.weight[:dims] = 0.0
        attn.proj.bias[:dims] = 0.0
        out = torch.zeros(dim, hd)
        out[:dims, :dims] = scale * torch.eye(dims)
        attn.proj.weight[:, twin * hd:(twin + 1) * hd] = out
        attn.proj.weight[:, itself * hd:(itself + 1) * hd] = -out
        for i in range(dims):
            for j, sign in ((2 * i, 1.0), (2 * i + 1, -1.0)):
                mlp.gate_proj.weight[j] = 0.0
                mlp.up_proj.weight[j] = 0.0
                mlp.gate_proj.weight[j, i] = sign * 4.0
                mlp.up_proj.weight[j, i] = sign * 4.0
                mlp.gate_proj.bias[j] = 0.0
                mlp.up_proj.bias[j] = 0.0
        mlp.down_proj.weight[:, : 2 * dims] = 0.0
        mlp.down_proj.weight[dim - 1, : 2 * dims] = 1.0 / dims  # the "differs" dimension


def freeze_difference(visual, index: int, twin: int, itself: int, dims: int = 16) -> None:
    """Keep :func:`difference_init`'s circuit as it was built: its weights get no gradient
    (AdamW without weight decay then leaves them as they are)."""
    block = visual.blocks[index]
    attn, mlp = block.attn, block.mlp
    dim, hd = attn.dim, attn.head_dim
    values = [slice(2 * dim + h * hd, 2 * dim + (h + 1) * hd) for h in (twin, itself)]
    heads = [slice(h * hd, (h + 1) * hd) for h in (twin, itself)]

    def masked(parameter, *regions):
        mask = torch.ones_like(parameter)
        for region in regions:
            mask[region] = 0.0
        parameter.register_hook(lambda grad: grad * mask)

    masked(visual.patch_embed.proj.weight, slice(0, dims))
    for earlier in visual.blocks[:index]:
        for layer in (earlier.attn.proj, earlier.mlp.down_proj):
            masked(layer.weight, slice(0, dims))
            masked(layer.bias, slice(0, dims))
    masked(attn.qkv.weight, *values)
    masked(attn.qkv.bias, *values)
    masked(attn.proj.weight, slice(0, dims), *[(slice(None), h) for h in heads])
    masked(attn.proj.bias, slice(0, dims))
    for layer in (mlp.gate_proj, mlp.up_proj):
        masked(layer.weight, slice(0, 2 * dims))
        masked(layer.bias, slice(0, 2 * dims))
    masked(mlp.down_proj.weight, slice(0, dims), (slice(None), slice(0, 2 * dims)))
    masked(mlp.down_proj.bias, slice(0, dims))
    masked(block.norm2.weight, slice(0, dims))


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
    p.add_argument("--freeze-difference", action="store_true",
                   help="with --difference-init: its circuit's weights are not trained")
    p.add_argument("--difference-init", type=float, default=0.0, metavar="SCALE",
                   help="start the taught block as a copy detector: the first twin head's "
                   "values equal the first self head's, the output projection subtracts them "
                   "into 16 residual dimensions, and 32 MLP units square that difference")
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
    if a.difference_init:
        difference_init(visual, a.block, heads[0], self_heads[0], a.difference_init)
        if a.freeze_difference:
            freeze_difference(visual, a.block, heads[0], self_heads[0])
    marker = marker_class()(visual, vision.out_hidden_size, merge)
    captured: dict = {}

    def hook(module, args, kwargs, output):
        hidden = args[0] if args else kwargs["hidden_states"]
        captured["hidden"] = hidden
        captured["pos"] = kwargs["position_embeddings"]

    visual.blocks[a.block].attn.register_forward_hook(hook, with_kwargs=True)
    attn = visual.blocks[a.block].attn
    stats = {"twin_loss": []}

    unit = merge * merge

    def block_view(grids):
        """From the taught block's last forward: its rotated queries and keys, the tower's
        window permutation (of merge units) and each patch's (row, column) in the block's
        order."""
        hidden, (cos, sin) = captured["hidden"], captured["pos"]
        n = hidden.shape[0]
        qkv = attn.qkv(hidden).reshape(n, 3, attn.num_heads, -1).permute(1, 0, 2, 3)
        q, k = apply_rotary_pos_emb_vision(qkv[0], qkv[1], cos, sin)
        window_index, _ = get_vision_window_index(grids, merge, vision.window_size, PATCH)
        pos = get_vision_position_ids(grids, merge)  # (n, 2) pre-window order
        pos = pos.reshape(n // unit, unit, 2)[window_index].reshape(n, 2)
        return q, k, window_index, pos

    def head_logits(q, k, h):
        return q[:, h] @ k[:, h].T * attn.scaling

    def twin_loss(records, grids):
        q, k, _, pos = block_view(grids)
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
                    logits = head_logits(q[start:start + m], k[start:start + m], h)
                    logp = torch.log_softmax(logits[keep], -1)
                    total = total - (t[keep] * logp).sum(-1).mean()
                    count += 1
            for h in self_heads:  # the patch itself: beside a twin head, a difference to read
                logits = head_logits(q[start:start + m], k[start:start + m], h)
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

    mlp_out: dict = {}
    visual.blocks[a.block].mlp.register_forward_hook(lambda m, i, o: mlp_out.update(o=o))

    def circuit(items) -> dict:
        """On the clone images of ``items``: the twin heads' attention on the twin, the self
        heads' on the patch itself, and the block's last residual output dimension (the
        difference-init's "differs") on patches whose twin is byte-identical against the rest."""
        twin_mass, self_mass, exact_vals, other_vals = [], [], [], []
        with torch.no_grad():
            for item in [i for i in items if i[0].label == "ai-generated"][:60]:
                pixels, grids, _, _ = _batch([item])
                marker(pixels, grids)
                q, k, window_index, pos = block_view(grids)
                n = q.shape[0]
                _, rows, cols = grids[0].tolist()
                order = (pos[:, 0] * cols + pos[:, 1]).long()
                t = twin_targets(item[0], rows, cols)[order][:, order]
                has = t.sum(-1) > 0
                probs = [torch.softmax(head_logits(q, k, h), -1) for h in range(attn.num_heads)]
                for h in heads:
                    twin_mass += (probs[h][has] * t[has]).sum(-1).tolist()
                for h in self_heads:
                    self_mass += probs[h].diagonal().tolist()
                emb = visual.patch_embed(pixels).reshape(n // unit, unit, -1)
                emb = emb[window_index].reshape(n, -1)
                twin_of = t.argmax(-1)
                exact = has & ((emb - emb[twin_of]).abs().amax(-1) < 1e-4)
                differs = mlp_out["o"][:, -1]
                exact_vals += differs[exact].tolist()
                other_vals += differs[~has].tolist()

        def mean(v):
            return round(sum(v) / len(v), 4) if v else None

        low = [round(sum(x < 1.0 for x in v) / len(v), 3) if v else None
               for v in (exact_vals, other_vals)]
        return {"twin_attention_on_twin": mean(twin_mass),
                "self_attention_on_self": mean(self_mass),
                "differs_identical_twins": mean(exact_vals),
                "differs_other_patches": mean(other_vals),
                "share_below_1_identical_other": low, "identical_twin_patches": len(exact_vals)}

    t0 = time.perf_counter()
    train_marker(marker, batch_loss, len(train), a.steps, a.lr, 0)
    tl = stats["twin_loss"]
    result = {"args": vars(a) | {"model": str(a.model), "train": str(a.train),
                                 "check": str(a.check), "json": str(a.json)},
              "seconds": round(time.perf_counter() - t0, 1),
              "twin_loss_first_last": [round(sum(tl[:20]) / max(1, len(tl[:20])), 3),
                                       round(sum(tl[-20:]) / max(1, len(tl[-20:])), 3)],
              "train": _check(marker, train[:400], merge), "check": _check(marker, check, merge),
              "circuit": circuit(check)}
    print(json.dumps(result, indent=1))
    if a.json:
        a.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
