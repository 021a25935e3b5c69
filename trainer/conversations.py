"""Training conversations for Query 1 (locate) and Query 2 (examine), built from records.

Prompts come from :mod:`inspector.core.protocol` and targets from its serializer, so the model is
trained on exactly what the app sends and parses. Ground-truth boxes are converted to the model's
space with the model family's :class:`~inspector.core.geometry.CoordinateSpace` (the same code
the app uses to read answers back). Query-2 close-ups are cut from the ground-truth boxes (as in
LTE training) with the app's close-up planner, after the same model-space round trip the app
performs, so training close-ups are the ones the app would cut for that answer.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from inspector.core.closeups import CloseupPolicy, plan_closeups, render_closeup
from inspector.core.geometry import Box, CoordinateSpace, coordinate_space_for, overlap_fraction
from inspector.core.protocol import (
    LOCATE_INSTRUCTION_VARIANTS,
    REAL,
    TAGS,
    Finding,
    RawRegion,
    examine_messages,
    locate_messages,
    parse_locate,
    serialize_examine,
    serialize_locate,
)
from trainer.record_images import ImageFile, load_record_image, pixels, row_image
from trainer.records import Record

__all__ = [
    "DEFAULT_REGION_LABEL",
    "NOTHING_PLANTED",
    "answer_boxes",
    "FirstImpression",
    "WHERE_QUESTION",
    "decoy_box",
    "examine_sample",
    "examined_finding",
    "first_look_sample",
    "gt_model_boxes",
    "load_record_image",
    "locate_sample",
    "region_label",
    "snap_box",
    "space_for",
    "trl_row",
    "where_sample",
    "where_target",
]

# The label a region gets in the answer when the dataset gave it no caption (TRACE boxes).
DEFAULT_REGION_LABEL = "detail to examine"


def space_for(model_type: str, min_pixels: int, max_pixels: int) -> CoordinateSpace:
    """The coordinate space of a model family (``config.model_type`` + processor resize bounds)."""
    return coordinate_space_for(model_type, min_pixels, max_pixels)


def region_label(region) -> str:
    """The label written for a region: its caption, else its tag, else a neutral default."""
    for text in (region.caption, region.tag):
        if isinstance(text, str) and text.strip():
            return " ".join(text.split())
    return DEFAULT_REGION_LABEL


def gt_model_boxes(record: Record, space: CoordinateSpace) -> list[list[int]]:
    """Ground-truth boxes in the model's space, in record order (the `gt_boxes` reward column)."""
    size = (record.width, record.height)
    return [space.to_model(Box.from_list(r.box), size) for r in record.regions]


def snap_box(coords: list[int], grid: int, width: int, height: int) -> list[int]:
    """``[x1, y1, x2, y2]`` with each side moved to the nearest grid line (at least one cell,
    inside ``width`` x ``height``); ``grid`` 0 returns the box unchanged."""
    if grid <= 0:
        return list(coords)
    out: list[int] = []
    for lo, hi, limit in ((coords[0], coords[2], width), (coords[1], coords[3], height)):
        a = min(max(0, round(lo / grid) * grid), limit)
        b = min(max(0, round(hi / grid) * grid), limit)
        if b <= a:  # a box thinner than a cell: the cell around its centre
            a = min(max(0, int((lo + hi) / 2 // grid) * grid), max(0, limit - grid))
            b = min(a + grid, limit)
        out.append(a)
        out.append(b)
    return [out[0], out[2], out[1], out[3]]


def answer_boxes(
    record: Record, space: CoordinateSpace, grid: int = 0, reading_order: bool = False
) -> list[tuple[list[int], int]]:
    """The boxes a model is taught to write, each with its region's index: model space; with
    ``grid`` > 0 snapped to that pixel grid (Qwen2.5-VL: 28 pixels per merged vision token, so
    the corners are ones its tokens can hold); in record order, or with ``reading_order`` top to
    bottom, then left to right (one right answer per image)."""
    width, height = space.resized_size((record.width, record.height))
    boxes = [(snap_box(box, grid, width, height), i)
             for i, box in enumerate(gt_model_boxes(record, space))]
    if reading_order:
        boxes.sort(key=lambda pair: (pair[0][1], pair[0][0]))
    return boxes


# The locate warm-up's question (trainer/locate_warmup.py), also rehearsed in SFT (``where``
# rows): its only answer is the boxes, so the language model learns to read places off the image.
WHERE_QUESTION = "Where should the close-ups go? Answer with the boxes only."


def where_target(boxes: list[list[int]]) -> str:
    """The where answer: the boxes in the protocol's ``bbox_2d`` notation, nothing else."""
    return json.dumps([{"bbox_2d": [int(v) for v in b]} for b in boxes])


def where_sample(record: Record, space: CoordinateSpace, image: Image.Image | ImageFile,
                 grid: int) -> tuple[list[dict[str, Any]], str]:
    """(messages, target) of the where question: the record's boxes in model space, snapped to
    ``grid`` (0: exact), in reading order (one right answer per image)."""
    boxes = [box for box, _ in answer_boxes(record, space, grid, reading_order=True)]
    messages = [{"role": "user", "content": [{"type": "image", "image": image},
                                             {"type": "text", "text": WHERE_QUESTION}]}]
    return messages, where_target(boxes)


def _image(record: Record, image: Image.Image | ImageFile | None,
           dataset_path) -> Image.Image | ImageFile:
    if image is None:
        return row_image(record, dataset_path)
    if image.size != (record.width, record.height):
        raise ValueError(
            f"{record.image}: image is {image.width}x{image.height} but the record says "
            f"{record.width}x{record.height}"
        )
    return image


@dataclass(frozen=True)
class FirstImpression:
    """A Query-1 answer's words other than the record's own: verdict, explanation, region labels.

    Written into a Query-2 context in place of the ground-truth answer (the boxes stay the
    record's, so the close-ups still show its evidence). Region labels are used in turn, cycled
    when the record has more boxes than labels.
    """

    verdict: str
    explanation: str
    region_labels: tuple[str, ...]

    @classmethod
    def of(cls, record: Record) -> FirstImpression:
        """The answer a record's own ground truth gives (its label, explanation, captions)."""
        return cls(record.label, record.explanation,
                   tuple(region_label(r) for r in record.regions))


def decoy_box(record: Record, space: CoordinateSpace, coords: list[int], grid: int,
              rng: random.Random, tries: int = 20) -> list[int] | None:
    """A box of ``coords``' size (model space, on ``grid`` when > 0) at a random place whose
    close-up shows none of the record's regions (:data:`SHOWS_REGION`), or None if ``tries``
    draws found no such place."""
    size = (record.width, record.height)
    width, height = space.resized_size(size)
    w, h = coords[2] - coords[0], coords[3] - coords[1]
    step = grid if grid > 0 else 1
    regions = [Box(*map(float, r.box)) for r in record.regions]
    for _ in range(tries):
        x = rng.randrange(0, max(1, width - w + 1), step)
        y = rng.randrange(0, max(1, height - h + 1), step)
        box = space.from_model([x, y, x + w, y + h], size)
        if box is not None and all(overlap_fraction(box, r) < SHOWS_REGION for r in regions):
            return [x, y, x + w, y + h]
    return None


def _locate(record, space, rng, image, impression: FirstImpression | None = None,
            grid: int = 0, decoys: tuple[random.Random, float] | None = None):
    instruction = rng.choice(LOCATE_INSTRUCTION_VARIANTS) if rng is not None else None
    messages = locate_messages(image, space.name, instruction=instruction)
    impression = impression or FirstImpression.of(record)
    labels = impression.region_labels or (DEFAULT_REGION_LABEL,)
    # a grid (SFT's box_grid) writes the boxes as the locate warm-up's where answers: snapped,
    # in reading order
    boxes = answer_boxes(record, space, grid, reading_order=grid > 0)
    if decoys is not None:  # some boxes moved where they show nothing (examine_sample)
        decoy_rng, rate = decoys
        boxes = [((decoy_box(record, space, coords, grid, decoy_rng) or coords)
                  if decoy_rng.random() < rate else coords, i) for coords, i in boxes]
    raw = [RawRegion([float(v) for v in coords], labels[i % len(labels)]) for coords, i in boxes]
    target = serialize_locate(impression.explanation, raw, impression.verdict)
    return messages, target, raw, [i for _, i in boxes]


def locate_sample(
    record: Record,
    space: CoordinateSpace,
    rng: random.Random | None,
    *,
    image: Image.Image | ImageFile | None = None,
    dataset_path: str | Path | None = None,
    grid: int = 0,
) -> tuple[list[dict[str, Any]], str]:
    """Query 1: (messages, target_text).

    The instruction is one of protocol.LOCATE_INSTRUCTION_VARIANTS picked with ``rng`` (None:
    the canonical one). The target holds the record's explanation, its GT boxes in model space
    (labelled with the captions) and its label as the initial verdict. ``image``: the image
    (decoded, or an :class:`~trainer.record_images.ImageFile`) if the caller has it; else from
    ``record.image`` (relative to ``dataset_path``'s folder). ``grid`` > 0: the boxes snapped
    to that grid and in reading order (:func:`answer_boxes`).
    """
    messages, target, _, _ = _locate(record, space, rng, _image(record, image, dataset_path),
                                     grid=grid)
    return messages, target


def first_look_sample(image: Image.Image | ImageFile, space: CoordinateSpace,
                      model_answer: str) -> tuple[list[dict[str, Any]], str]:
    """Query 1 as the app asks it (the canonical instruction) with a model's own answer to it
    (:mod:`trainer.impressions`): the context of a Query 2 on that impression, or, as a target,
    a Query-1 row that holds the model's first look where it is."""
    return locate_messages(image, space.name), model_answer


def examine_sample(
    record: Record,
    space: CoordinateSpace,
    policy: CloseupPolicy,
    rng: random.Random | None,
    *,
    image: Image.Image | ImageFile | None = None,
    dataset_path: str | Path | None = None,
    first_impression: FirstImpression | None = None,
    grid: int = 0,
    model_answer: str | None = None,
    decoys: tuple[random.Random, float] | None = None,
) -> tuple[list[dict[str, Any]], list[Image.Image], str]:
    """Query 2: (messages, images, target_text).

    Messages are Query 1 (as in :func:`locate_sample`, same ``rng`` draw), its GT answer, then
    the close-ups the app would cut for those regions (``plan_closeups`` with ``policy``, after
    the model-space round trip; boxes over half the image or duplicates get none). ``images``
    is [whole image, close-up 1, …] in message order. The target has one finding per close-up
    (observation = the region's caption or label, points_to = the record's label), the record's
    explanation, the region tags (protocol.TAGS order) and the label as the verdict. A record
    without any examinable region gives a Query 2 with no close-ups.

    ``first_impression``: the words of the Query-1 answer in the context (default: the record's
    own, :meth:`FirstImpression.of`). Another class's words make a sample where the close-ups
    must correct a wrong first impression; the close-ups carry those (wrong) labels, as the app
    captions close-ups with the Query-1 labels, while the target's findings, explanation and
    verdict are always the record's. ``grid``: Query 1's boxes as :func:`locate_sample` writes
    them (the close-ups are cut from those boxes, as the app cuts them from the model's).

    ``model_answer``: a model's own Query-1 answer to the app's question
    (:mod:`trainer.impressions`), used verbatim in place of the ground truth, and the close-ups
    cut from *its* boxes, as the app cuts them; each finding then says what the close-up
    really holds (:func:`examined_finding`). The target's explanation and verdict stay the
    record's.

    ``decoys`` (a generator and a rate): each box of the ground-truth context is, with that
    probability, moved to a place of the same size where it shows none of the record's regions
    (:func:`decoy_box`), keeping its label; every finding then says what its close-up really
    holds (:func:`examined_finding`). On an AI-generated image some close-ups then show the
    artifact and some do not, so a finding can be told only from its close-up — neither from
    the first answer's words nor from the whole image (decision 0004, E28).
    """
    image = _image(record, image, dataset_path)
    size = (record.width, record.height)
    if model_answer is None:
        messages1, answer1, raw, regions = _locate(record, space, rng, image, first_impression,
                                                   grid, decoys)
        truth = [region_label(r) for r in record.regions]
    else:
        messages1, answer1 = first_look_sample(image, space, model_answer)
        raw = parse_locate(model_answer).regions
    boxes: list[Box] = []
    kept: list[int] = []
    for i, r in enumerate(raw):
        box = space.from_model(r.coords, size)
        if box is not None:
            boxes.append(box)
            kept.append(i)
    plans = plan_closeups(boxes, size, space.view_scale(size), policy) if boxes else []
    closeups: list[tuple[str, Image.Image]] = []
    findings: list[Finding] = []
    whole = pixels(image) if plans else None  # an ImageFile is decoded only to cut close-ups
    for number, plan in enumerate(plans, start=1):
        index = kept[plan.region_index]
        closeups.append((raw[index].label, render_closeup(whole, plan)))
        if model_answer is None and decoys is None:
            findings.append(Finding(number, truth[regions[index]], record.label))
        else:
            findings.append(Finding(number, *examined_finding(record, boxes[plan.region_index])))
    tags = [t for t in TAGS if any(r.tag == t for r in record.regions)]
    target = serialize_examine(findings, record.explanation, record.label, tags)
    messages = examine_messages(messages1, answer1, closeups)
    return messages, [image, *(c for _, c in closeups)], target


# A model's box counts as showing a record's region when it covers this share of the smaller
# of the two (a loose box around a small artifact, or a tight box inside a large one).
SHOWS_REGION = 0.3
NOTHING_PLANTED = "natural detail, nothing generator-like"


def examined_finding(record: Record, box: Box) -> tuple[str, str]:
    """(observation, points_to) for a close-up of ``box`` (image pixels) on ``record``.

    A close-up that shows one of the record's regions reports that region's caption and points
    to the record's label; one that shows none of them reports natural detail, pointing to
    "real" — on an AI-generated image too, where the verdict then rests on the rest of the image.
    """
    best, best_overlap = None, 0.0
    for region in record.regions:
        share = overlap_fraction(box, Box(*map(float, region.box)))
        if share > best_overlap:
            best, best_overlap = region, share
    if best is not None and best_overlap >= SHOWS_REGION:
        return region_label(best), record.label
    return NOTHING_PLANTED, REAL


def trl_row(
    messages: list[dict[str, Any]],
    target_text: str | None = None,
    **columns: Any,
) -> dict[str, Any]:
    """One TRL 1.16 dataset row (conversational, vision) from protocol messages.

    Returns ``{"prompt": [...], "images": [...], **columns}`` plus ``"completion"`` (one
    assistant turn) when ``target_text`` is given: SFTTrainer's prompt-completion format, and
    GRPOTrainer's ``prompt``/``images`` (extra columns such as ``gt_boxes``, ``label``,
    ``explanation`` reach the reward functions). Every image part becomes a ``{"type":
    "image"}`` placeholder and its image goes to ``images`` in order, as TRL fills
    placeholders in order and raises on a count mismatch. Text content is kept as text parts.
    """
    images: list[Any] = []
    prompt: list[dict[str, Any]] = []
    for message in messages:
        content = message["content"]
        if isinstance(content, str):
            prompt.append({"role": message["role"], "content": [{"type": "text", "text": content}]})
            continue
        parts: list[dict[str, Any]] = []
        for part in content:
            if part.get("type") == "image":
                images.append(part["image"])
                parts.append({"type": "image"})
            else:
                parts.append({"type": "text", "text": part["text"]})
        prompt.append({"role": message["role"], "content": parts})
    row: dict[str, Any] = {"prompt": prompt, "images": images}
    if target_text is not None:
        row["completion"] = [
            {"role": "assistant", "content": [{"type": "text", "text": target_text}]}
        ]
    for key in columns:
        if key in row:
            raise ValueError(f"column {key!r} clashes with a TRL column")
    row.update(columns)
    return row
