"""Temporary heads on a vision tower trained from nothing: the image label and per-cell marks.

Both warm-ups (:mod:`trainer.warmup`, :mod:`trainer.locate_warmup`) train the tower and the
projector through the same small module: the tower's merged tokens, a max over each image's
tokens (an artifact is local) read by a linear label head, and a linear head per token that marks
whether the token's 28-px cell lies in one of the record's regions and in a planted artifact
(soft binary cross-entropy on the share of the cell covered). The dense marks help a tower
trained from random weights learn the artifacts: with the label alone it reached 0.778 on
held-out images, with the marks 0.843 in the same 500 steps (decision 0004, E17). The heads are
dropped after training; nothing of them reaches a checkpoint.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LABELS", "cell_batch", "cell_targets", "marker_class"]

LABELS = ("real", "ai-generated")  # class index = position


def cell_targets(record, rows: int, cols: int) -> Any:
    """``(rows*cols, 2)`` float tensor, per merged token in row-major order: the share of its
    cell covered by the record's regions, and by planted artifacts (regions of an ai-generated
    record; 0 for a real one). Boxes are in the record's pixels; the grid covers the image."""
    import torch

    from inspector.core.protocol import AI_GENERATED

    mask = torch.zeros(record.height, record.width)
    for region in record.regions:
        x1, y1, x2, y2 = (int(round(v)) for v in region.box)
        mask[max(0, y1):max(0, y2), max(0, x1):max(0, x2)] = 1.0
    cover = torch.nn.functional.adaptive_avg_pool2d(mask[None, None], (rows, cols)).reshape(-1)
    artifact = cover if record.label == AI_GENERATED else torch.zeros_like(cover)
    return torch.stack([cover, artifact], dim=1)


def cell_batch(records, grids, merge: int) -> tuple[Any, Any]:
    """``(cells, keep)`` for a batch, token after token of image after image (the tower's
    order): each token's :func:`cell_targets`, and whether it has any — an image given without
    a record (a close-up) has none; its rows are zeros, left out of the loss by ``keep``."""
    import torch

    cells, keep = [], []
    for record, grid in zip(records, grids, strict=True):
        rows, cols = int(grid[1]) // merge, int(grid[2]) // merge
        cells.append(torch.zeros(rows * cols, 2) if record is None
                     else cell_targets(record, rows, cols))
        keep.append(torch.full((rows * cols,), record is not None))
    return torch.cat(cells), torch.cat(keep)


def marker_class():
    """The ``VisionMarker`` module class (built lazily: torch is imported on first use)."""
    import torch

    class VisionMarker(torch.nn.Module):
        """Vision tower + projector; per token two logits (region, artifact) and its own place;
        the image label from a max over its tokens.

        ``forward(..., cells, labels)`` returns the training loss: cross-entropy on the label,
        plus the cells' binary cross-entropy over the tokens ``cell_mask`` keeps (all when it
        is None; a close-up has no cell targets), plus the places' MSE when given."""

        def __init__(self, visual, hidden: int, merge: int) -> None:
            super().__init__()
            self.visual = visual
            self.merge = merge
            self.cells = torch.nn.Linear(hidden, 2)  # region, artifact (logits)
            self.place = torch.nn.Linear(hidden, 2)  # the token's own row, column (in [0, 1])
            self.label = torch.nn.Linear(hidden, len(LABELS))

        def forward(self, pixel_values, image_grid_thw, cells=None, cell_mask=None, places=None,
                    labels=None):
            tokens = self.visual(pixel_values, grid_thw=image_grid_thw).pooler_output
            counts = (image_grid_thw.prod(-1) // self.merge**2).tolist()
            pooled = torch.stack([t.max(0).values for t in tokens.split(counts)])
            out = {"cell_logits": self.cells(tokens), "places": self.place(tokens),
                   "logits": self.label(pooled)}
            if labels is None:
                return out
            functional = torch.nn.functional
            loss = functional.cross_entropy(out["logits"], labels)
            if cells is not None:
                per_token = functional.binary_cross_entropy_with_logits(
                    out["cell_logits"], cells, reduction="none").mean(-1)
                if cell_mask is None:
                    loss = loss + per_token.mean()
                elif cell_mask.any():
                    loss = loss + per_token[cell_mask].mean()
            if places is not None:
                loss = loss + functional.mse_loss(out["places"], places)
            out["loss"] = loss
            return out

    return VisionMarker
