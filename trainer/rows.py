"""TRL datasets from training records: SFT rows for both queries, GRPO rows per segment.

Every row comes from :mod:`trainer.conversations` (the protocol's prompts and serializer, the app's
geometry and close-up policy), so the model is trained on what the app sends and parses.

* SFT (``sft_rows``): a Query-1 row (image → explanation, GT boxes, label) and a Query-2 row
  (Query 1 + its GT answer + the close-ups of the GT boxes → findings, explanation, tags, label)
  per record, in TRL's prompt-completion format.
* GRPO segment 1 (``locate_rows``): Query-1 prompts with the reward columns ``gt_boxes`` (model
  space), ``label`` and ``source``.
* GRPO segment 2 (``examine_rows``): Query-2 prompts (Query 1 answered with the ground truth, as
  in LTE training) with ``label``, ``explanation``, ``region_count`` and ``source``.

The instruction phrasing of each record is drawn from ``LOCATE_INSTRUCTION_VARIANTS`` with a
generator seeded by (seed, record index), so the same records and seed give the same rows.

Query-2 rows with a wrong first impression (``flip_rate``): in that share of the records, the
Query-1 answer in the Query-2 context carries the other verdict, while the target keeps the true
label. Without them every Query-2 target repeats the verdict already in its context, and a model
learns to copy its first impression instead of reading the close-ups (Query 2 would never change
a verdict). The Query-1 rows themselves are never flipped.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from inspector.core.closeups import CloseupPolicy
from inspector.core.geometry import CoordinateSpace
from inspector.core.protocol import AI_GENERATED, REAL
from trainer.conversations import (
    examine_sample,
    gt_model_boxes,
    load_record_image,
    locate_sample,
    space_for,
    trl_row,
)
from trainer.records import Record

__all__ = [
    "QUERIES",
    "base_model_folder",
    "examine_rows",
    "locate_rows",
    "model_space",
    "sft_rows",
    "to_dataset",
]

QUERIES = ("both", "locate", "examine")
Progress = Callable[[int, int], None]
DEFAULT_FLIP_RATE = 0.25


def model_space(model_dir: str | Path) -> CoordinateSpace:
    """The coordinate space of a saved model (its config's type, its processor's pixel bounds).

    A PEFT adapter folder is followed to its base model (``adapter_config.json``).
    """
    from transformers import AutoProcessor

    from inspector.core.backends.local import pixel_bounds

    folder = base_model_folder(model_dir)
    try:
        model_type = json.loads((folder / "config.json").read_text("utf-8"))["model_type"]
        processor = AutoProcessor.from_pretrained(folder)
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{folder} is not a saved Qwen-VL model folder: {exc}") from exc
    return space_for(model_type, *pixel_bounds(processor.image_processor))


def base_model_folder(model_dir: str | Path) -> Path:
    """``model_dir`` itself, or for a PEFT adapter folder the base model it names."""
    folder = Path(model_dir)
    adapter = folder / "adapter_config.json"
    if adapter.is_file() and not (folder / "config.json").is_file():
        base = json.loads(adapter.read_text(encoding="utf-8")).get("base_model_name_or_path")
        if not base:
            raise ValueError(f"{adapter} names no base_model_name_or_path")
        return Path(base)
    return folder


def _rng(seed: int, index: int, variants: bool) -> random.Random | None:
    return random.Random(f"{seed}:{index}") if variants else None


def _initial_verdict(record: Record, seed: int, index: int, flip_rate: float) -> str | None:
    """The other verdict for ``flip_rate`` of the records (seeded), else None (the label)."""
    if not 0.0 <= flip_rate <= 1.0:
        raise ValueError(f"flip_rate must be between 0 and 1, got {flip_rate}")
    if flip_rate and random.Random(f"flip:{seed}:{index}").random() < flip_rate:
        return AI_GENERATED if record.label == REAL else REAL
    return None


def _each(records: Sequence[Record], dataset_path, on_progress: Progress | None):
    for i, record in enumerate(records):
        yield i, record, load_record_image(record, dataset_path)
        if on_progress is not None:
            on_progress(i + 1, len(records))


def sft_rows(
    records: Sequence[Record],
    space: CoordinateSpace,
    policy: CloseupPolicy,
    *,
    dataset_path: str | Path | None,
    queries: str = "both",
    seed: int = 0,
    variants: bool = True,
    flip_rate: float = DEFAULT_FLIP_RATE,
    on_progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Prompt-completion rows: per record a Query-1 row and/or a Query-2 row (``queries``)."""
    if queries not in QUERIES:
        raise ValueError(f"queries must be one of {', '.join(QUERIES)}, got {queries!r}")
    rows: list[dict[str, Any]] = []
    for i, record, image in _each(records, dataset_path, on_progress):
        if queries in ("both", "locate"):
            messages, target = locate_sample(record, space, _rng(seed, i, variants), image=image)
            rows.append(trl_row(messages, target))
        if queries in ("both", "examine"):
            messages, _, target = examine_sample(
                record, space, policy, _rng(seed, i, variants), image=image,
                initial_verdict=_initial_verdict(record, seed, i, flip_rate),
            )
            rows.append(trl_row(messages, target))
    return rows


def locate_rows(
    records: Sequence[Record],
    space: CoordinateSpace,
    *,
    dataset_path: str | Path | None,
    seed: int = 0,
    variants: bool = True,
    on_progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """GRPO segment 1: Query-1 prompts with ``gt_boxes``, ``label`` and ``source`` columns."""
    rows: list[dict[str, Any]] = []
    for i, record, image in _each(records, dataset_path, on_progress):
        messages, _ = locate_sample(record, space, _rng(seed, i, variants), image=image)
        rows.append(
            trl_row(
                messages,
                gt_boxes=gt_model_boxes(record, space),
                label=record.label,
                source=record.source,
            )
        )
    return rows


def examine_rows(
    records: Sequence[Record],
    space: CoordinateSpace,
    policy: CloseupPolicy,
    *,
    dataset_path: str | Path | None,
    seed: int = 0,
    variants: bool = True,
    flip_rate: float = DEFAULT_FLIP_RATE,
    on_progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """GRPO segment 2: Query-2 prompts with ``label``, ``explanation``, ``region_count``."""
    rows: list[dict[str, Any]] = []
    for i, record, image in _each(records, dataset_path, on_progress):
        messages, images, _ = examine_sample(
            record, space, policy, _rng(seed, i, variants), image=image,
            initial_verdict=_initial_verdict(record, seed, i, flip_rate),
        )
        rows.append(
            trl_row(
                messages,
                label=record.label,
                explanation=record.explanation,
                region_count=len(images) - 1,
                source=record.source,
            )
        )
    return rows


def to_dataset(rows: list[dict[str, Any]]):
    """A ``datasets.Dataset`` of the rows (images kept as decoded PIL images)."""
    from datasets import Dataset

    if not rows:
        raise ValueError("no training rows: the records file is empty")
    return Dataset.from_list(rows)
