"""A heavier loss on the few answer tokens that carry Query 2's decisions.

A Query-2 answer is about a hundred tokens, almost all of them predictable from the context (the
Query-1 answer, the close-ups' captions, the protocol's form). What only the close-ups can tell
sits in a handful of tokens: the first word of each finding's observation, each ``points_to``
and the verdict. Under the mean token loss those weigh about 1 % of a row, and the language model
learns to write their base rate (decision 0004, E28: held-out AUC 0.46), while the same reading,
asked as a one-token question in the same place, is learnt in 300 steps (E29: AUC 0.81).
This adds ``weight`` x the mean cross-entropy of those tokens to the trainer's loss, so they
count as much as the rest of the row together when ``weight`` is about 1.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate
from typing import Any

from trainer.pointer_losses import answer_pieces

__all__ = ["DECISION_OPENERS", "decisive_loss_trainer", "decisive_positions"]

# what precedes a decision's first character in a Query-2 answer (inspector.core.protocol)
DECISION_OPENERS = re.compile(r'"observation":\s*"|"points_to":\s*"|<verdict>\s*')


def decisive_positions(pieces: list[str]) -> list[int]:
    """Indices of the pieces holding a decision's first character.

    ``pieces`` are the answer's tokens decoded one by one; a token may hold the opener and the
    value's start together (``>ai``), it is the value's first character that counts.
    """
    text, starts = "".join(pieces), list(accumulate((len(p) for p in pieces), initial=0))
    return [bisect_right(starts, match.end()) - 1
            for match in DECISION_OPENERS.finditer(text) if match.end() < len(text)]


def _rows_positions(inputs, tokenizer) -> list[list[int]]:
    """Per row of a batch: the sequence positions of its answer's decisive tokens."""
    return [[positions[i] for i in decisive_positions(pieces)]
            for positions, pieces in answer_pieces(inputs, tokenizer)]


def decisive_loss_trainer(weight: float, losses: list[float], base_class=None):
    """A subclass of ``base_class`` (TRL's ``SFTTrainer`` by default) whose loss adds ``weight``
    x the mean cross-entropy of the decisive tokens; each training step's value is appended to
    ``losses``. Rows without a decision (Query-1 rows have only the verdict) add what they have."""
    import torch

    if base_class is None:
        from trl import SFTTrainer as base_class
    if not weight > 0:
        raise ValueError(f"the decisive-token weight must be > 0, got {weight}")

    class DecisiveLossTrainer(base_class):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            # TRL's fused head gives per-token log-probabilities (log p(token t+1) at t) in
            # the forward's output and keeps no logits; a hook keeps that output for us
            seen: list[Any] = []
            hook = model.register_forward_hook(lambda _m, _i, output: seen.append(output))
            try:
                result = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            finally:
                hook.remove()
            log_probs = getattr(seen[0], "log_probs", None) if seen else None
            if log_probs is None:
                raise RuntimeError("the decisive-token loss needs TRL's fused LM head "
                                   "(per-token log-probabilities in the model's output)")
            picked = [log_probs[i, t - 1]
                      for i, positions in enumerate(
                          _rows_positions(inputs, self.processing_class.tokenizer))
                      for t in positions]
            if not picked:
                return result
            extra = -torch.stack(picked).float().mean()
            if model.training:
                losses.append(round(extra.item(), 5))
            if return_outputs:
                return result[0] + weight * extra, result[1]
            return result + weight * extra

    return DecisiveLossTrainer
