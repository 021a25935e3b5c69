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
Query-1 answer in the Query-2 context is written with the words of a record of the other class
(its verdict, explanation and region labels; the boxes stay the record's own, so the close-ups
show its evidence), while the target keeps the record's findings, explanation and label.
Without them every Query-2 target repeats the verdict already in its context, and a model learns
to copy its first impression instead of reading the close-ups (Query 2 would never change a
verdict). Flipping the verdict alone is not enough: the explanation and labels of the context
still give the class away, and the model learns to read them instead. The Query-1 rows
themselves are never flipped.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import PIL.Image

from inspector.core.closeups import CloseupPolicy
from inspector.core.geometry import CoordinateSpace
from inspector.core.protocol import AI_GENERATED, REAL, parse_examine
from trainer.conversations import (
    FirstImpression,
    examine_sample,
    first_look_sample,
    gt_model_boxes,
    locate_sample,
    space_for,
    trl_row,
    where_sample,
)
from trainer.record_images import ImageFile, row_image
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

    from inspector.core.backends.local_loading import pixel_bounds

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


def _first_impressions(
    records: Sequence[Record], seed: int, flip_rate: float
) -> list[FirstImpression | None]:
    """Per record: a wrong first impression for ``flip_rate`` of them (seeded), else None.

    A wrong impression is the ground-truth answer of a record of the other class (picked with
    the same seed), or, when the records hold no other class, the record's own answer with the
    other verdict.
    """
    if not 0.0 <= flip_rate <= 1.0:
        raise ValueError(f"flip_rate must be between 0 and 1, got {flip_rate}")
    by_label: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        by_label.setdefault(record.label, []).append(i)
    out: list[FirstImpression | None] = []
    for i, record in enumerate(records):
        rng = random.Random(f"flip:{seed}:{i}")
        if not flip_rate or rng.random() >= flip_rate:
            out.append(None)
            continue
        other = AI_GENERATED if record.label == REAL else REAL
        donors = by_label.get(other)
        if donors:
            out.append(FirstImpression.of(records[rng.choice(donors)]))
        else:
            own = FirstImpression.of(record)
            out.append(FirstImpression(other, own.explanation, own.region_labels))
    return out


def _each(records: Sequence[Record], dataset_path, on_progress: Progress | None):
    for i, record in enumerate(records):
        yield i, record, row_image(record, dataset_path)
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
    grid: int = 0,
    model_answers: Mapping[str, str] | None = None,
    where: bool = False,
    own_first_look: bool = False,
    truth_contexts: bool = False,
    decoy_rate: float = 0.0,
    on_progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Prompt-completion rows: per record a Query-1 row and/or a Query-2 row (``queries``), and
    with ``where`` the locate warm-up's where row (boxes only, snapped to ``grid``), so that SFT
    rehearses the answer the pointer was trained on.

    ``grid`` > 0: Query 1's boxes snapped to that pixel grid, in reading order
    (:func:`trainer.conversations.answer_boxes`). ``model_answers`` (sha256 → a model's own
    Query-1 answer, :mod:`trainer.impressions`): the Query-2 row of a record that has one is
    built on it instead of the ground truth (never flipped). ``own_first_look``: the Query-1
    row of such a record asks the app's question and its target is that answer itself, so the
    step holds the first look where it is while Query 2 learns from it (decision 0004, E27).
    ``truth_contexts``: the Query-2 rows stay on the ground truth even where a model answer
    exists (which then only holds Query 1): with ``own_first_look`` and ``decoy_rate``, the
    read step of decision 0004's E32/E33. ``decoy_rate``: in the Query-2 rows built on the
    ground truth, that share of the boxes is moved where its close-up shows nothing, and the
    findings say what each close-up holds (:func:`trainer.conversations.examine_sample`'s
    ``decoys``; seeded per record)."""
    if not 0.0 <= decoy_rate <= 1.0:
        raise ValueError(f"decoy_rate must be between 0 and 1, got {decoy_rate}")
    if queries not in QUERIES:
        raise ValueError(f"queries must be one of {', '.join(QUERIES)}, got {queries!r}")
    if truth_contexts and not own_first_look:
        raise ValueError("truth_contexts keeps Query 2 on the ground truth; without "
                         "own_first_look the model answers would be used for nothing")
    impressions = _first_impressions(records, seed, flip_rate)
    rows: list[dict[str, Any]] = []
    for i, record, image in _each(records, dataset_path, on_progress):
        answer = (model_answers or {}).get(record.sha256)
        if queries in ("both", "locate"):
            if own_first_look and answer is not None:
                messages, target = first_look_sample(image, space, answer)
            else:
                messages, target = locate_sample(record, space, _rng(seed, i, variants),
                                                 image=image, grid=grid)
            rows.append(trl_row(messages, target))
        if queries in ("both", "examine"):
            messages, _, target = examine_sample(
                record, space, policy, _rng(seed, i, variants), image=image,
                first_impression=impressions[i], grid=grid,
                model_answer=None if truth_contexts else answer,
                decoys=(random.Random(f"decoy:{seed}:{i}"), decoy_rate) if decoy_rate else None,
            )
            rows.append(trl_row(messages, target))
        if where:
            rows.append(trl_row(*where_sample(record, space, image, grid)))
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
    grid: int = 0,
    model_answers: Mapping[str, str] | None = None,
    on_progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """GRPO segment 2: Query-2 prompts with ``label``, ``explanation``, ``region_count`` and
    ``finding_truth`` (per close-up, the verdict the target's finding points to). ``grid``:
    Query 1's boxes in the context as :func:`sft_rows` writes them; ``model_answers``: as in
    :func:`sft_rows`."""
    impressions = _first_impressions(records, seed, flip_rate)
    rows: list[dict[str, Any]] = []
    for i, record, image in _each(records, dataset_path, on_progress):
        messages, images, target = examine_sample(
            record, space, policy, _rng(seed, i, variants), image=image,
            first_impression=impressions[i], grid=grid,
            model_answer=(model_answers or {}).get(record.sha256),
        )
        rows.append(
            trl_row(
                messages,
                label=record.label,
                explanation=record.explanation,
                region_count=len(images) - 1,
                finding_truth=[f.points_to for f in parse_examine(target).findings],
                source=record.source,
            )
        )
    return rows


# every column a GRPO row may carry, with its value on rows of the other query
_EMPTY_COLUMNS = {"gt_boxes": [], "explanation": "", "region_count": 0, "finding_truth": []}


def with_first_looks(
    examine: Sequence[dict[str, Any]], locate: Sequence[dict[str, Any]], share: float, seed: int
) -> list[dict[str, Any]]:
    """GRPO segment 2's rows with, after each, that record's Query-1 row for ``share`` of the
    records (seeded), so one segment trains the second look and holds the first. Every row gets
    every reward column (the other query's empty) and ``query`` ("locate" / "examine"), which
    :func:`trainer.rewards.only_on` reads."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"the share of first-look rows must be between 0 and 1, got {share}")
    if len(examine) != len(locate):
        raise ValueError("one Query-1 row per Query-2 row (the same records) is needed")
    rng = random.Random(f"hold:{seed}")
    out: list[dict[str, Any]] = []
    for second, first in zip(examine, locate, strict=True):
        out.append({**_EMPTY_COLUMNS, **second, "query": "examine"})
        if rng.random() < share:
            out.append({**_EMPTY_COLUMNS, **first, "query": "locate"})
    return out


_IMAGE_TYPES = (PIL.Image.Image, ImageFile)
# PNG modes that round-trip through PNG unchanged (datasets' own rule for choosing PNG)
_PNG_MODES = frozenset({"1", "L", "LA", "RGB", "RGBA"})


def _png(image: PIL.Image.Image) -> dict[str, Any]:
    """The image as ``datasets.Image`` storage, compressed at PNG level 1: lossless like
    datasets' own encoding (level 6) and about three times faster, the set about 5 % larger
    (``benchmarks/training_rows.py``) — that encoding was half of a short SFT run's time."""
    if image.mode not in _PNG_MODES:
        from datasets.features.image import encode_pil_image

        return encode_pil_image(image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return {"bytes": buffer.getvalue(), "path": None}


def _stored(image: PIL.Image.Image | ImageFile) -> dict[str, Any]:
    """``datasets.Image`` storage: an ImageFile's path (decoded when a step needs it), else the
    pixels as PNG."""
    if isinstance(image, ImageFile):
        return {"bytes": None, "path": str(image.path)}
    return _png(image)


def _encoded(value: Any) -> tuple[Any, str]:
    """``value`` with its images stored, and its kind: "image", "images" or ""."""
    if isinstance(value, _IMAGE_TYPES):
        return _stored(value), "image"
    if isinstance(value, list) and value and all(isinstance(v, _IMAGE_TYPES) for v in value):
        return [_stored(v) for v in value], "images"
    return value, ""


def to_dataset(rows: list[dict[str, Any]]):
    """A ``datasets.Dataset`` of the rows; PIL images (alone or in lists) come back decoded."""
    from datasets import Dataset, List
    from datasets import Image as ImageFeature
    from datasets.utils import logging as datasets_logging

    if not rows:
        raise ValueError("no training rows: the records file is empty")
    kinds: dict[str, str] = {}
    encoded = []
    for row in rows:
        out = {}
        for key, value in row.items():
            out[key], kind = _encoded(value)
            if kind:
                kinds[key] = kind
        encoded.append(out)
    dataset = Dataset.from_list(encoded)
    features = dataset.features.copy()
    for key, kind in kinds.items():
        if key in features:  # datasets keeps the first row's keys only
            features[key] = ImageFeature() if kind == "image" else List(ImageFeature())
    if features == dataset.features:
        return dataset
    bars = datasets_logging.is_progress_bar_enabled()
    datasets_logging.disable_progress_bar()  # a cast of stored bytes takes no time to report
    try:
        return dataset.cast(features)
    finally:
        if bars:
            datasets_logging.enable_progress_bar()
