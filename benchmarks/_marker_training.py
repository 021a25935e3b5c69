"""The training loop both tower benchmarks share (vision_marks.py, closeup_premise.py).

AdamW, 20 warm-up steps then a cosine schedule, gradient clipping at 1, batches of 16 drawn in a
seeded shuffle, as the vision warm-up's phase 1 trains the tower and its heads.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable


def train_marker(marker, batch_loss: Callable[[list[int]], object], examples: int, steps: int,
                 learning_rate: float = 3e-4, seed: int = 0, batch: int = 16) -> None:
    """Train ``marker`` for ``steps`` steps; ``batch_loss(indices)`` returns a batch's loss."""
    import torch

    optimizer = torch.optim.AdamW(marker.parameters(), lr=learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / 20) * 0.5 * (1 + math.cos(math.pi * s / steps)))
    rng, step = random.Random(seed), 0
    marker.train()
    while step < steps:
        order = list(range(examples))
        rng.shuffle(order)
        for k in range(0, len(order) - batch + 1, batch):
            loss = batch_loss(order[k : k + batch])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(marker.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            if step % 100 == 0:
                print(f"step {step}/{steps} loss {loss.item():.4f}", flush=True)
            if step >= steps:
                break
    marker.eval()
