"""A small synthetic forensic DEMO dataset: generator-like artifacts planted in real photographs.

The photographs are the public-domain / CC0 images that scikit-image ships inside its wheel
(``skimage.data``: astronaut, coffee, chelsea, rocket, coins, moon, brick, grass, …; nothing is
downloaded). Every sample is a random square crop of one of them (40-100 % of the shorter side,
random position, random horizontal flip), resized to ``size`` x ``size`` with a Lanczos filter.

* **real** samples are the untouched crop. Their 1-2 boxes mark the windows of highest local
  gradient energy ("natural fine detail"), tag None.
* **ai-generated** samples get 1-2 non-overlapping artifacts, each confined to its box (side
  20-40 % of ``size``), so that a close-up of the box shows all of its evidence:

  ``checkerboard`` (tag texture)
      the box content block-averaged and re-upsampled with nearest neighbour, times a periodic
      ±15-30 % checkerboard of period 2-4 px: the grid a transposed convolution leaves.
  ``clone`` (tag texture)
      one half of the box is an exact copy of the other half, with a faint one-pixel seam.
  ``smeared_text`` (tag other)
      gibberish letters on a light patch, wave-warped and motion-blurred like generator text.
  ``broken_repetition`` (tag structure)
      a regular motif (stripes, bricks or dots) tiled over the box with some tiles shifted,
      distorted or missing.

This is a DEMO task for training and testing the pipeline on a CPU, not real forensic data: a
model that learns it has learnt these four planted artifacts, nothing about real generators.

Everything is PNG (no compression difference between the classes) and deterministic: the same
arguments give byte-identical files. Sample ``i`` of a dataset is
``make_sample(sample_rng(seed, i), size, label)`` with ``label`` from :func:`labels_for`.

Public API: :func:`generate`, :func:`make_sample` (returns a :class:`Sample` with the clean crop,
the planted image and the record fields), :func:`sample_rng`, :func:`labels_for`,
:func:`register` (the ``lte-train synth`` subcommand), :data:`KINDS`, :data:`SOURCE_PHOTOS`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from inspector.core.protocol import AI_GENERATED, REAL
from trainer.records import Record, Region, write_records
from trainer.synth_artifacts import (
    KINDS,
    MAX_SIZE,
    MIN_SIZE,
    PLANTERS,
    SOURCE_PHOTOS,
    box_dims,
    box_side_range,
    crop,
    free_positions,
    gradient_energy,
    place_box,
    to_uint8,
    window_sums,
)

__all__ = [
    "KINDS",
    "SOURCE_PHOTOS",
    "Sample",
    "box_side_range",
    "generate",
    "labels_for",
    "make_sample",
    "sample_rng",
]

_TAGS: dict[str, str] = {
    "checkerboard": "texture",
    "clone": "texture",
    "smeared_text": "other",
    "broken_repetition": "structure",
}
_CAPTIONS: dict[str, tuple[str, ...]] = {
    "checkerboard": ("checkerboard texture", "upsampling grid"),
    "clone": ("cloned patch", "repeated patch"),
    "smeared_text": ("smeared text", "garbled lettering"),
    "broken_repetition": ("broken pattern", "irregular repetition"),
}
_REAL_CAPTIONS = ("natural fine detail", "consistent texture", "sharp edge detail")
_CLAUSES: dict[str, tuple[str, ...]] = {
    "checkerboard": (
        "the texture shows a regular checkerboard grid left by upsampling",
        "a fine periodic grid from upsampling covers one area",
    ),
    "clone": (
        "a patch is repeated exactly next to itself",
        "one area is an exact copy of its neighbour",
    ),
    "smeared_text": (
        "the lettering is smeared gibberish, not readable text",
        "the text is warped and unreadable",
    ),
    "broken_repetition": (
        "a repeating pattern breaks its rhythm with shifted and missing tiles",
        "a regular motif has misplaced, distorted and missing elements",
    ),
}
_AI_ENDINGS = ("", " These are generator artifacts, not camera traits.")
_REAL_EXPLANATIONS = (
    "Edges, noise and fine texture are consistent across the image, as in a camera photograph.",
    "The fine detail is sharp and natural, with no repeated patches, grids or warped text.",
    "Texture and lighting are coherent throughout, and nothing shows generator artifacts.",
)

# Salts keep the label order and the samples on independent random streams.
_SALT_ORDER, _SALT_SAMPLE = 0x0D5E, 0x5A3E


@dataclass
class Sample:
    """One generated sample.

    ``clean`` is the untouched crop; ``image`` is what gets written (the same pixels for a real
    sample, ``clean`` with the planted artifacts for an AI-generated one). ``kinds`` lists the
    artifact kind of each region (empty for real samples); ``photo`` names the source photo.
    """

    clean: Image.Image
    image: Image.Image
    label: str
    regions: list[Region]
    explanation: str
    source: str
    kinds: list[str] = field(default_factory=list)
    photo: str = ""

def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of sample ``index`` of a dataset made with ``seed``."""
    return np.random.default_rng([_SALT_SAMPLE, seed, index])


def labels_for(count: int, seed: int, ai_fraction: float = 0.5) -> list[str]:
    """The label of each sample: exactly ``round(count * ai_fraction)`` AI-generated, shuffled."""
    n_ai = round(count * ai_fraction)
    labels = [AI_GENERATED] * n_ai + [REAL] * (count - n_ai)
    order = np.random.default_rng([_SALT_ORDER, seed]).permutation(count)
    return [labels[i] for i in order]


# --------------------------------------------------------------------------------------------
# Samples
# --------------------------------------------------------------------------------------------


def _ai_explanation(rng: np.random.Generator, kinds: Sequence[str]) -> str:
    clauses = [_CLAUSES[k][int(rng.integers(len(_CLAUSES[k])))] for k in dict.fromkeys(kinds)]
    text = ", and ".join(clauses)
    ending = _AI_ENDINGS[int(rng.integers(len(_AI_ENDINGS)))] if len(clauses) == 1 else ""
    return text[0].upper() + text[1:] + "." + ending


def _checked_kinds(kinds: Sequence[str], label: str = AI_GENERATED) -> tuple[str, ...]:
    """``kinds`` as a tuple if they can be forced on a sample of ``label``, else ValueError."""
    kinds = tuple(kinds)
    if (label != AI_GENERATED or not 1 <= len(kinds) <= 2 or len(set(kinds)) != len(kinds)
            or set(kinds) - set(KINDS)):
        raise ValueError(f"kinds must be 1 or 2 of {', '.join(KINDS)}, different, for "
                         f"ai-generated images only; got {', '.join(kinds) or 'none'}")
    return kinds


def make_sample(
    rng: np.random.Generator,
    size: int = 224,
    label: str = AI_GENERATED,
    kinds: Sequence[str] | None = None,
    fine: bool = False,
) -> Sample:
    """One sample drawn from ``rng``: the clean crop, the image to write and its record fields.

    ``kinds`` (AI-generated only) forces the artifact kinds, one or two different ones of
    :data:`KINDS`; by default 1 or 2 distinct kinds are drawn. A second artifact that finds no
    free place is left out (so ``Sample.kinds`` may be shorter than ``kinds``). ``fine``: the
    artifacts keep the feature size they have at 224 px (a checkerboard period of 2-4 px, ...)
    whatever ``size``; by default they grow with the image, keeping their look at any
    resolution.
    """
    if label not in (REAL, AI_GENERATED):
        raise ValueError(f"label must be {REAL!r} or {AI_GENERATED!r}, got {label!r}")
    if kinds is not None:
        kinds = list(_checked_kinds(kinds, label))
    clean, photo = crop(rng, size)
    clean_array = np.asarray(clean)
    energy = gradient_energy(clean_array)
    boxes: list[list[int]] = []
    regions: list[Region] = []

    if label == REAL:
        captions = [_REAL_CAPTIONS[int(i)] for i in rng.permutation(len(_REAL_CAPTIONS))]
        for caption in captions[: int(rng.integers(1, 3))]:
            w, h = box_dims(rng, size, None)
            sums = window_sums(energy, w, h)
            sums = np.where(free_positions(sums.shape, w, h, boxes), sums, -1.0)
            y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
            if sums[y, x] < 0:
                break
            boxes.append([int(x), int(y), int(x) + w, int(y) + h])
            regions.append(Region(box=list(boxes[-1]), caption=caption, tag=None))
        explanation = _REAL_EXPLANATIONS[int(rng.integers(len(_REAL_EXPLANATIONS)))]
        return Sample(clean, clean.copy(), REAL, regions, explanation, "synth-photo", [], photo)

    if kinds is None:
        n = int(rng.integers(1, 3))
        kinds = [KINDS[int(i)] for i in rng.choice(len(KINDS), size=n, replace=False)]
    grey = bool(np.array_equal(clean_array[..., 0], clean_array[..., 1])
                and np.array_equal(clean_array[..., 1], clean_array[..., 2]))
    array = clean_array.astype(np.float64)
    scale = 1.0 if fine else size / 224.0
    planted: list[str] = []
    for kind in kinds:
        w, h = box_dims(rng, size, kind)
        score = None
        if kind == "clone":  # clone textured content, or the copy would not show
            score = window_sums(energy, w, h)
        box = place_box(rng, size, w, h, boxes, score)
        if box is None:
            continue
        PLANTERS[kind](rng, array, box, scale, grey)
        boxes.append(box)
        planted.append(kind)
        caption = _CAPTIONS[kind][int(rng.integers(len(_CAPTIONS[kind])))]
        regions.append(Region(box=list(box), caption=caption, tag=_TAGS[kind]))
    image = Image.fromarray(to_uint8(array))
    explanation = _ai_explanation(rng, planted)
    return Sample(
        clean, image, AI_GENERATED, regions, explanation, f"synth-{planted[0]}", planted, photo
    )


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)  # as small as 6 here, twice as fast
    return buffer.getvalue()


def _check_arguments(count: int, seed: int, size: int, ai_fraction: float) -> None:
    def is_int(v: object) -> bool:
        return isinstance(v, int | np.integer) and not isinstance(v, bool)

    if not is_int(count) or count < 1:
        raise ValueError(f"count must be an integer of at least 1, got {count!r}")
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not is_int(size) or not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be an integer from {MIN_SIZE} to {MAX_SIZE} pixels, "
                         f"got {size!r}")
    if (
        isinstance(ai_fraction, bool)
        or not isinstance(ai_fraction, int | float)
        or not 0.0 <= ai_fraction <= 1.0
    ):
        raise ValueError(f"ai_fraction must be a number from 0 to 1, got {ai_fraction!r}")


# below this many images, starting processes costs more than it saves
PARALLEL_FROM = 400


def _write_samples(out_dir: Path, seed: int, size: int, fine: bool, digits: int,
                   kinds: tuple[str, ...] | None,
                   items: Sequence[tuple[int, str]]) -> list[Record]:
    """Make and write the samples ``items`` ((index, label) pairs); their records, in order."""
    records: list[Record] = []
    for index, label in items:
        sample = make_sample(sample_rng(seed, index), size, label, fine=fine,
                             kinds=kinds if label == AI_GENERATED else None)
        data = _png_bytes(sample.image)
        name = f"images/{index:0{digits}d}.png"
        (out_dir / name).write_bytes(data)
        records.append(
            Record(
                image=name,
                sha256=hashlib.sha256(data).hexdigest(),
                width=size,
                height=size,
                label=sample.label,
                explanation=sample.explanation,
                regions=sample.regions,
                source=sample.source,
            )
        )
    return records


def generate(
    out_dir: Path,
    count: int,
    seed: int,
    size: int = 224,
    ai_fraction: float = 0.5,
    on_progress: Callable[[int, int], None] | None = None,
    fine: bool = False,
    workers: int | None = None,
    kinds: Sequence[str] | None = None,
) -> Path:
    """Write ``count`` samples to ``out_dir/images/NNNNN.png`` and ``out_dir/records.jsonl``.

    Exactly ``round(count * ai_fraction)`` samples are AI-generated, the rest real, in an order
    shuffled with ``seed``. Image paths in the records are relative to ``out_dir``. Existing
    files of the same names are replaced (other files in ``out_dir`` are left alone); the
    records file is written last, atomically. ``on_progress(done, count)`` is called as images
    are written (after each one, or each block of them when made in parallel). Returns the
    records path. Raises ValueError for bad arguments. ``fine``: see :func:`make_sample` — with
    a ``size`` above the model's view (224 px for the demo), the finest artifacts are lost in
    the whole image and shown by close-ups, as in the LTE paper. ``workers``: processes making
    images (default: every CPU core from :data:`PARALLEL_FROM` images on, else this process);
    each sample has its own random stream, so the files are the same whatever the number.
    ``kinds``: every AI-generated image carries these artifacts (one or two of :data:`KINDS`)
    instead of 1-2 drawn at random — to ask whether a model can see one kind at all; the real
    images are the same as without it.
    """
    _check_arguments(count, seed, size, ai_fraction)
    if kinds is not None:
        kinds = _checked_kinds(kinds)  # before any file is written
    out_dir = Path(out_dir)
    image_dir = out_dir / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    digits = max(5, len(str(count - 1)))
    items = list(enumerate(labels_for(count, seed, ai_fraction)))
    if workers is None:
        workers = (os.cpu_count() or 1) if count >= PARALLEL_FROM else 1
    records: list[Record] = []
    # one image a block in this process; in parallel, blocks of up to 100 (a quarter of each
    # worker's share at most, so both cores stay busy to the end)
    block = 1 if workers <= 1 else max(1, min(100, count // (4 * workers)))
    blocks = [items[i:i + block] for i in range(0, count, block)]
    made = partial(_write_samples, out_dir, seed, size, fine, digits, kinds)
    with contextlib.ExitStack() as stack:
        # spawned, not forked: the caller may hold threads (torch, Qt) a fork would copy mid-lock
        pool = stack.enter_context(ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        ) if workers > 1 else None
        for part in (pool.map if pool else map)(made, blocks):  # in order, as each block is done
            records += part
            if on_progress is not None:
                on_progress(len(records), count)
    path = out_dir / "records.jsonl"
    write_records(path, records)
    return path
