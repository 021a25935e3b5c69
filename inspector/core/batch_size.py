"""How many images to analyse together with a local model: from free memory, and why.

One more image in flight costs its KV cache (both queries) and its prefill activations (the
language model's working set over its prompt, the vision tower's over its images); the weights
are shared. On a GPU the batch is as large as the memory left after loading allows, at most
`MAX_BATCH`. On a CPU it is 1 unless asked for: RAM is plentiful there but the cores are few, so
a batch trades latency of the image on screen for throughput (see docs/batch_throughput.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from inspector.core.memory import (
    CPU_OVERHEAD_GB,
    CUDA_OVERHEAD_GB,
    SAFETY,
    AvailableMemory,
    MemoryEstimate,
)

MAX_BATCH = 8  # beyond this a GPU's decode is no longer nearly free per extra sequence


@dataclass(frozen=True)
class BatchSizeChoice:
    size: int
    reason: str


def per_image_gb(estimate: MemoryEstimate) -> float:
    """Memory one more image in flight needs: its KV cache plus its prefill activations."""
    overhead = CPU_OVERHEAD_GB if estimate.device == "cpu" else CUDA_OVERHEAD_GB
    return estimate.kv_cache_gb + max(estimate.activations_gb - overhead, 0.0)


def choose_batch_size(
    estimate: MemoryEstimate | None,
    free_after_loading: AvailableMemory | None,
    limit: int = MAX_BATCH,
) -> BatchSizeChoice:
    """The batch size for a loaded model, given the memory that is still free now."""
    if free_after_loading is None or free_after_loading.kind == "cpu":
        return BatchSizeChoice(1, "one image at a time on a CPU (--batch-size B to batch anyway)")
    if estimate is None:
        return BatchSizeChoice(
            1, "one image at a time: the model's memory needs could not be estimated"
        )
    usable = free_after_loading.free_total_gb * SAFETY
    each = per_image_gb(estimate)
    fits = math.floor(usable / each) if each > 0 else limit
    size = max(1, min(fits, limit))
    where = f"{free_after_loading.free_total_gb:.1f} GiB free on the GPU after loading"
    need = (f"each image in flight needs about {each:.1f} GiB (KV cache "
            f"{estimate.kv_cache_gb:.1f} + activations {each - estimate.kv_cache_gb:.1f})")
    if fits < 1:
        return BatchSizeChoice(1, f"one image at a time: {where}, {need}")
    capped = f", capped at {limit}" if fits > limit else ""
    return BatchSizeChoice(size, f"{size} images at a time: {where}, {need}{capped}")
