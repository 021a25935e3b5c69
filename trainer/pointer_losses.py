"""Auxiliary losses that teach a language model trained from nothing to point at image tokens.

Qwen2.5-VL puts position into attention scores only (2-D RoPE in the tower, M-RoPE in the
language model), never into the value vectors; a model that must write a box has to find the
marked image token by content and copy a place that some layer has written into it. Trained only
through the answer's digits it learns the box distribution instead (decision 0004, E1–E12). These
losses give that circuit a dense signal; they are added to an ``SFTTrainer``'s loss, per step:

* ``places`` x MSE of each image token's own (row, column), read by a temporary linear head from
  the hidden state after layer ``places_layer`` (1-based): the place a pointer can copy;
* ``point`` x MSE of the first box's centre, read from the last layer's state before the answer;
* ``attend`` x −log of the attention mass that head 0 of layer ``attend_layer`` (0-based) puts,
  from every token that writes box *k*, on the image tokens whose cells box *k* overlaps: the
  pointer itself (:func:`head_zero_attention` recomputes that one head's weights; the model
  keeps its SDPA attention, which returns none);
* ``read`` x MSE of box *k*'s corners read from layer ``attend_layer``'s output at the same
  tokens: the pointer's value must carry the place it points at.

Boxes are read from the answer text (every ``[x1, y1, x2, y2]``, in model pixels); the tokens of
box *k* run from the *k*-th opening brace to its closing one, so where answers (``[{"bbox_2d":
…}]``) and Query-1 answers (``<regions>[{"bbox_2d": …, "label": …}]``) both work. Rows with
other than one image (Query-2 conversations) take part in ``places`` only.

The heads are submodules of the model while it trains (``model.locate_*_head``, so the optimizer
sees them); ``cleanup()`` removes them and the hooks, so nothing of this reaches a saved
checkpoint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["PointerLosses", "answer_pieces", "auxiliary_loss_trainer", "box_cells",
           "head_zero_attention", "token_places"]


@dataclass(frozen=True)
class PointerLosses:
    """Weights (0: off) and layers of the auxiliary losses."""

    places: float = 0.0
    places_layer: int = 1
    point: float = 0.0
    attend: float = 0.0
    attend_layer: int = 1
    read: float = 0.0

    def validate(self) -> None:
        if min(self.places, self.point, self.attend, self.read) < 0:
            raise ValueError("the pointer-loss weights (where_places, where_point, where_attend, "
                             "where_read) must be >= 0")
        if self.places_layer < 1 or self.attend_layer < 0:
            raise ValueError("places_layer must be >= 1 and attend_layer >= 0")

    @property
    def active(self) -> bool:
        return any((self.places, self.point, self.attend, self.read))


LOSS_NAMES = {
    "place": "image-token place (MSE)",
    "point": "first-box centre (MSE)",
    "attend": "pointer attention (-log mass in the box)",
    "read": "box corners read at the pointer (MSE)",
}


def token_places(rows: int, cols: int) -> Any:
    """``(rows*cols, 2)``: each merged token's (row, column) centre as a share of the grid."""
    import torch

    r = (torch.arange(rows, dtype=torch.float32) + 0.5) / rows
    c = (torch.arange(cols, dtype=torch.float32) + 0.5) / cols
    return torch.stack(torch.meshgrid(r, c, indexing="ij"), dim=-1).reshape(-1, 2)


def box_cells(box: list[int], cell: int, cols: int, count: int) -> Any:
    """Boolean ``(count,)``: which merged image tokens (row-major, ``cols`` per row, ``cell``
    pixels square) overlap ``box`` (model pixels)."""
    import torch

    index = torch.arange(count)
    rows, columns = index // cols, index % cols
    return ((columns + 1) * cell > box[0]) & (columns * cell < box[2]) & \
        ((rows + 1) * cell > box[1]) & (rows * cell < box[3])


def all_boxes(text: str) -> list[list[int]]:
    """Every ``[x1, y1, x2, y2]`` of integers in an answer, in order."""
    return [[int(v) for v in found] for found in
            re.findall(r"\[\s*(\d+),\s*(\d+),\s*(\d+),\s*(\d+)\s*\]", text)]


def _single_image_grids(inputs, image_token: int, merge: int) -> list[Any]:
    """Per row its image's ``(t, h, w)`` grid, or None for a row with no or several images
    (the grids of a batch come in the order of its image tokens)."""
    grids, out, g = inputs["image_grid_thw"], [], 0
    for ids in inputs["input_ids"]:
        tokens, mine = int((ids == image_token).sum()), []
        while tokens > 0 and g < len(grids):
            mine.append(grids[g])
            tokens -= int(grids[g].prod()) // merge**2
            g += 1
        out.append(mine[0] if len(mine) == 1 else None)
    return out


def auxiliary_loss_trainer(model, weights: PointerLosses, losses: dict[str, list[float]],
                           base_class=None):
    """``(trainer class, cleanup)``: a subclass of ``base_class`` (TRL's ``SFTTrainer`` by
    default) whose loss adds the active losses of ``weights``; each one's value per training
    step is appended to ``losses[name]`` (names: :data:`LOSS_NAMES`)."""
    import torch

    if base_class is None:
        from trl import SFTTrainer as base_class

    weights.validate()
    decoder_layers = model.model.language_model.layers
    if weights.places and weights.places_layer > len(decoder_layers):
        raise ValueError(f"places_layer {weights.places_layer}: the language model has "
                         f"{len(decoder_layers)} layers")
    if (weights.attend or weights.read) and weights.attend_layer >= len(decoder_layers):
        raise ValueError(f"attend_layer {weights.attend_layer}: the language model has "
                         f"{len(decoder_layers)} layers (0-based)")
    merge = model.config.vision_config.spatial_merge_size
    patch = model.config.vision_config.patch_size
    image_token = model.config.image_token_id
    hidden_size = model.config.text_config.hidden_size
    captured: dict[str, Any] = {}

    def keeper(key: str):
        def keep(_module, _inputs, output) -> None:
            captured[key] = output[0] if isinstance(output, tuple) else output
        return keep

    hooks, heads, factors = [], {}, {}
    if weights.places:
        heads["place"] = model.locate_place_head = torch.nn.Linear(hidden_size, 2)
        hooks.append(decoder_layers[weights.places_layer - 1].register_forward_hook(
            keeper("place")))
        factors["place"] = weights.places
    if weights.point:
        heads["point"] = model.locate_point_head = torch.nn.Linear(hidden_size, 2)
        hooks.append(decoder_layers[-1].register_forward_hook(keeper("point")))
        factors["point"] = weights.point
    if weights.read:
        heads["read"] = model.locate_read_head = torch.nn.Linear(hidden_size, 4)
        hooks.append(decoder_layers[weights.attend_layer].register_forward_hook(keeper("read")))
        factors["read"] = weights.read
    if weights.attend:
        def keep_weights(module, args, kwargs, _output) -> None:
            hidden = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
            captured["attend"] = head_zero_attention(module, hidden,
                                                     kwargs["position_embeddings"],
                                                     kwargs.get("attention_mask"))

        hooks.append(decoder_layers[weights.attend_layer].self_attn.register_forward_hook(
            keep_weights, with_kwargs=True))
        factors["attend"] = weights.attend

    def size_of(grid) -> tuple[int, int]:
        return int(grid[2]) * patch, int(grid[1]) * patch  # width, height in model pixels

    def place_loss(inputs, _grids, _queries) -> Any:
        hidden = captured.pop("place")[inputs["input_ids"] == image_token]
        places = torch.cat([token_places(int(g[1]) // merge, int(g[2]) // merge)
                            for g in inputs["image_grid_thw"]]).to(hidden)
        return torch.nn.functional.mse_loss(heads["place"](hidden), places)

    def point_loss(inputs, grids, queries) -> Any:
        hidden = captured.pop("point")
        states, targets = [], []
        for i, (grid, row) in enumerate(zip(grids, queries, strict=True)):
            if grid is None or not row:
                continue
            first_answer = int((inputs["labels"][i] != -100).int().argmax())
            (x1, y1, x2, y2), (width, height) = row[0][1], size_of(grid)
            states.append(hidden[i, max(0, first_answer - 1)])
            targets.append([(y1 + y2) / 2 / height, (x1 + x2) / 2 / width])
        if not states:
            return hidden.sum() * 0.0
        return torch.nn.functional.mse_loss(heads["point"](torch.stack(states)),
                                            torch.tensor(targets).to(hidden))

    def attend_loss(inputs, grids, queries) -> Any:
        pointer = captured.pop("attend")[:, 0]  # (batch, query, key) of the pointer head
        terms = []
        for i, (grid, row) in enumerate(zip(grids, queries, strict=True)):
            if grid is None:
                continue
            image_positions = (inputs["input_ids"][i] == image_token).nonzero().squeeze(1)
            for query, box in row:
                inside = box_cells(box, patch * merge, int(grid[2]) // merge,
                                   len(image_positions))
                if inside.any():
                    mass = pointer[i, query, image_positions][inside].sum()
                    terms.append(-torch.log(mass.clamp_min(1e-6)))
        if not terms:
            return pointer.sum() * 0.0
        return torch.stack(terms).mean()

    def read_loss(inputs, grids, queries) -> Any:
        hidden = captured.pop("read")
        states, targets = [], []
        for i, (grid, row) in enumerate(zip(grids, queries, strict=True)):
            if grid is None:
                continue
            width, height = size_of(grid)
            for query, (x1, y1, x2, y2) in row:
                states.append(hidden[i, query])
                targets.append([x1 / width, y1 / height, x2 / width, y2 / height])
        if not states:
            return hidden.sum() * 0.0
        return torch.nn.functional.mse_loss(heads["read"](torch.stack(states)),
                                            torch.tensor(targets).to(hidden))

    compute = {"place": place_loss, "point": point_loss, "attend": attend_loss,
               "read": read_loss}

    class AuxiliaryLossTrainer(base_class):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            result = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            loss = result[0] if return_outputs else result
            grids = _single_image_grids(inputs, image_token, merge)
            # one tokenizer decode per answer token: only for the losses that need the boxes
            queries = (_writing_queries(inputs, self.processing_class.tokenizer)
                       if factors.keys() - {"place"} else [])
            for key, factor in factors.items():
                extra = compute[key](inputs, grids, queries)
                if model.training:
                    losses.setdefault(key, []).append(round(extra.item(), 5))
                loss = loss + factor * extra
            return (loss, result[1]) if return_outputs else loss

    def cleanup() -> None:
        for hook in hooks:
            hook.remove()
        for key in heads:
            delattr(model, f"locate_{key}_head")

    return AuxiliaryLossTrainer, cleanup


def head_zero_attention(attention, hidden, position_embeddings, mask) -> Any:
    """``(batch, 1, query, key)``: the attention weights of head 0 of a Qwen2.5-VL language-model
    attention ``attention`` on its input ``hidden``, as its eager attention computes them.

    Only the pointer head's weights are needed, so the model keeps its fast attention (SDPA
    returns none) and this recomputes the scores of that one head only. ``mask`` is
    what the layer was given: None (causal), boolean (True: may attend) or additive."""
    import sys

    import torch

    size = attention.head_dim  # head 0 reads key/value head 0 (grouped-query attention)
    query = torch.nn.functional.linear(hidden, attention.q_proj.weight[:size],
                                       attention.q_proj.bias[:size])
    key = torch.nn.functional.linear(hidden, attention.k_proj.weight[:size],
                                     attention.k_proj.bias[:size])
    rotate = sys.modules[type(attention).__module__].apply_rotary_pos_emb
    cos, sin = position_embeddings
    query, key = rotate(query.unsqueeze(1), key.unsqueeze(1), cos, sin)
    scores = torch.matmul(query, key.transpose(2, 3)) * attention.scaling
    length = scores.shape[-1]
    if mask is None:
        mask = torch.ones(length, length, dtype=torch.bool, device=scores.device).tril()
    if mask.dtype == torch.bool:
        scores = scores.masked_fill(~mask[..., :length], torch.finfo(scores.dtype).min)
    else:
        scores = scores + mask[..., :length]
    return torch.nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)


def answer_pieces(inputs, tokenizer) -> list[tuple[list[int], list[str]]]:
    """Per row of a batch: (positions of its answer's tokens, each token decoded alone)."""
    rows = []
    for ids, labels in zip(inputs["input_ids"], inputs["labels"], strict=True):
        positions = (labels != -100).nonzero().squeeze(1).tolist()
        rows.append((positions, [tokenizer.decode([int(ids[t])]) for t in positions]))
    return rows


def _writing_queries(inputs, tokenizer) -> list[list[tuple[int, list[int]]]]:
    """Per row: (position whose state predicts a token of box k, box k) for every answer token
    from the box's opening brace to its closing one."""
    rows = []
    for answer_positions, pieces in answer_pieces(inputs, tokenizer):
        boxes = all_boxes("".join(pieces))
        queries, opened, closed = [], 0, 0
        for t, piece in zip(answer_positions, pieces, strict=True):
            opened += piece.count("{")
            if closed < opened <= len(boxes):
                queries.append((t - 1, boxes[opened - 1]))
            closed += piece.count("}")
        rows.append(queries)
    return rows


def report_losses(losses: dict[str, list[float]], last: int, print_fn) -> None:
    """One line per auxiliary loss: its mean over the last ``last`` steps."""
    for key, what in LOSS_NAMES.items():
        if losses.get(key):
            tail = losses[key][-last:]
            print_fn(f"  {what} loss: {sum(tail) / len(tail):.4f} over the last {len(tail)} steps")
