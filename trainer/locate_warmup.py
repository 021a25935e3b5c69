"""Locate warm-up: teach a model trained from nothing to write *where* the evidence is.

The vision warm-up (:mod:`trainer.warmup`) makes the tower see the task and the language model
read the verdict off the image; it does not make the language model turn what the tower sees into
coordinates (measured on the demo checkpoint: a linear per-token probe on its frozen tower puts
its top cell inside a planted artifact on 64 % of AI test images, yet its Query-1 boxes score IoU
0.08 and 73 of 100 test images get the same box). In the long protocol answers of SFT the
coordinates are a few tokens among many, and a language model trained from nothing learns the
most common box. Two phases, both on training records only:

* phase 1, *mark* (``mark_epochs``): the vision tower and projector learn, per image token,
  whether the token's 28-px cell lies in one of the record's regions and whether it lies in a
  planted artifact (a region of an ai-generated record), with a temporary linear head (soft
  binary cross-entropy on the share of the cell covered), plus the image label through a max over
  the tokens as in the vision warm-up, so the tower does not forget the verdict; with
  ``positions`` (off by default) each token also learns its own row and column (a regression
  head), so that an attention head that finds the marked token can read its place from it. The
  heads are dropped.
* phase 2, *where* (``where_steps``): the language model and projector (and the tower with
  ``where_vision``) answer one short question per image (:data:`WHERE_QUESTION`) whose only
  target is the regions' boxes in the protocol's ``bbox_2d`` notation, in the model's coordinate
  space, in reading order, optionally snapped to the patch grid (``snap``): the language model
  must learn to read positions off the image tokens. ``pointer`` adds the auxiliary losses of
  :mod:`trainer.pointer_losses` (each image token's place after layer 1, the first box's
  centre, a pointer head that attends from each box's tokens to the image tokens inside it, and
  its read-out of the box's corners), which give that read-out a dense signal.

The result (the whole model, with its processor) is where SFT starts. What each variant gave on
the demo is recorded in docs/decisions/0004-demo-checkpoint.md ("Locating", E1–E13): only the
pointer (E13) made the answers follow the image.
"""

from __future__ import annotations

import math
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trainer.conversations import WHERE_QUESTION, where_target
from trainer.pointer_losses import LOSS_NAMES, PointerLosses, token_places
from trainer.record_images import pixels, row_image

WHERE_PROMPTS = ("where", "query1")  # phase 2's question: the where question or Query 1

__all__ = [
    "WHERE_PROMPTS",
    "WHERE_QUESTION",
    "LocateWarmupResult",
    "LocateWarmupSettings",
    "register",
    "run_locate_warmup",
    "where_rows",
    "where_target",
]

GRID = 28  # pixels per merged vision token in Qwen2.5-VL's resized image (patch 14 x merge 2)


@dataclass
class LocateWarmupSettings:
    model: Path  # model folder (a full model, e.g. the vision warm-up's result)
    train: Path  # records JSONL
    output_dir: Path
    mark_epochs: float = 2.0  # phase 1 passes over the images (0: skip it)
    mark_learning_rate: float = 3e-4
    mark_batch_size: int = 16
    where_steps: int = 600  # phase 2 optimizer steps (0: skip it)
    where_learning_rate: float = 5e-4
    where_batch_size: int = 8
    where_vision: bool = False  # phase 2 also trains the vision tower
    snap: int = GRID  # phase-2 targets snapped to this grid in model space (0: exact boxes)
    # phase 2's rows: the where question ("where") or the app's Query 1 with its whole answer
    # ("query1": the boxes learnt where Query 1 writes them, after the system prompt, the
    # instruction and the explanation; decision 0004, E53)
    where_prompt: str = "where"
    # Phase 1 also teaches each token its own row and column, so that an attention head that
    # finds the marked token can read its place from it. Off by default: on the demo it made the
    # marking worse (top cell in an artifact on 59 % of AI training images instead of 73 %), and
    # the tower cannot learn it (no absolute position in it: probe R^2 <= 0.05 after 6 epochs);
    # ``where_places`` puts the place in the language model instead.
    positions: bool = False
    # Phase 2's auxiliary losses (trainer/pointer_losses.py; all off by default): each image
    # token's place after layer 1, the first box's centre, the pointer head and its read-out.
    pointer: PointerLosses = field(default_factory=PointerLosses)
    seed: int = 0
    logging_steps: int = 20

    def validate(self) -> None:
        if self.mark_epochs < 0 or self.where_steps < 0 or self.snap < 0:
            raise ValueError("mark_epochs, where_steps and snap must be >= 0")
        if self.where_prompt not in WHERE_PROMPTS:
            raise ValueError(f"where_prompt must be one of {', '.join(WHERE_PROMPTS)}, got "
                             f"{self.where_prompt!r}")
        self.pointer.validate()
        if min(self.mark_batch_size, self.where_batch_size) < 1:
            raise ValueError("batch sizes must be positive")
        if min(self.mark_learning_rate, self.where_learning_rate) <= 0:
            raise ValueError("learning rates must be positive")
        if not Path(self.train).is_file():
            raise ValueError(f"training records not found: {self.train}")
        if (Path(self.model) / "adapter_config.json").is_file():
            raise ValueError(f"{self.model} is an adapter: the locate warm-up trains a full model")


@dataclass
class LocateWarmupResult:
    output_dir: Path
    examples: int
    mark_losses: list[float]
    mark_hit_rate: float | None  # top marked cell inside an artifact (ai training images)
    where_losses: list[float]
    seconds: float
    where_place_losses: list[float] = field(default_factory=list)  # per step, with where_places
    where_point_losses: list[float] = field(default_factory=list)  # per step, with where_point
    where_attend_losses: list[float] = field(default_factory=list)  # per step, with where_attend
    where_read_losses: list[float] = field(default_factory=list)  # per step, with where_read


def run_locate_warmup(settings: LocateWarmupSettings, print_fn=print) -> LocateWarmupResult:
    """Phase 1 (mark) then phase 2 (where); save the model and processor."""
    from trainer.modeling import load_for_training, write_training_info
    from trainer.records import read_records
    from trainer.rows import model_space
    from trainer.runs import seed_run

    settings.validate()
    seed_run(settings.seed)
    started = time.perf_counter()
    out = Path(settings.output_dir)
    records = read_records(settings.train)
    space = model_space(settings.model)
    print_fn(f"Locate warm-up on {len(records)} records in {settings.train} ...")
    # left on disk where they can be (trainer.record_images): the mark phase decodes a batch at
    # a time, the where rows store paths (8000 448-px images held and re-encoded: 21 GB, E67)
    images = [row_image(r, settings.train) for r in records]
    model, processor = load_for_training(settings.model)
    mark_losses, hit = _mark(model, processor, records, images, settings, out, print_fn)
    aux: dict[str, list[float]] = {}
    where_losses = _where(model, processor, records, images, space, settings, out, print_fn, aux)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    aux_logged = {f"where_{key}_losses": aux.get(key, []) for key in LOSS_NAMES}
    result = LocateWarmupResult(out, len(records), mark_losses, hit, where_losses,
                                time.perf_counter() - started, **aux_logged)
    write_training_info(out, {
        "stage": "locate-warmup", "settings": asdict(settings), "examples": len(records),
        "mark_losses": mark_losses, "mark_hit_rate": hit, "where_losses": where_losses,
        **aux_logged, "seconds": round(result.seconds, 1),
    })
    return result


def _run_arguments(settings: LocateWarmupSettings, out: Path) -> dict[str, Any]:
    from trainer.runs import scratch_run_arguments

    return scratch_run_arguments(out / "locate-run", settings.seed, settings.logging_steps)


def _mark(model, processor, records, images, settings, out: Path,
          print_fn) -> tuple[list[float], float | None]:
    """Phase 1: the tower and projector learn per-token region/artifact masks and the label."""
    if not settings.mark_epochs:
        return [], None
    import torch
    from transformers import Trainer, TrainingArguments

    from trainer.runs import logged, progress_callback, quiet
    from trainer.vision_heads import LABELS, cell_batch, marker_class

    if not hasattr(getattr(model, "model", None), "visual"):
        raise ValueError(f"{settings.model}: no vision tower (model.model.visual) to train")
    vision = model.config.vision_config
    merge = vision.spatial_merge_size
    marker = marker_class()(model.model.visual, vision.out_hidden_size, merge)
    image_processor = processor.image_processor
    examples = list(range(len(records)))

    def collate(batch):
        encoded = image_processor(images=[pixels(images[i]) for i in batch], return_tensors="pt")
        grids = encoded["image_grid_thw"]
        cells, _ = cell_batch([records[i] for i in batch], grids, merge)  # every token kept
        batch_out = {
            "pixel_values": encoded["pixel_values"], "image_grid_thw": grids,
            "cells": cells,
            "labels": torch.tensor([LABELS.index(records[i].label) for i in batch]),
        }
        if settings.positions:
            batch_out["places"] = torch.cat([token_places(int(g[1]) // merge, int(g[2]) // merge)
                                             for g in grids])
        return batch_out

    run_args = _run_arguments(settings, out)
    run_args.pop("activation_checkpointing", None)  # the marker is not a PreTrainedModel
    args = TrainingArguments(
        num_train_epochs=settings.mark_epochs, learning_rate=settings.mark_learning_rate,
        per_device_train_batch_size=settings.mark_batch_size, remove_unused_columns=False,
        **run_args,
    )
    trainer = Trainer(model=marker, args=args, train_dataset=examples, data_collator=collate,
                      callbacks=[progress_callback("locate warm-up (mark)", print_fn)])
    quiet(trainer)
    steps = math.ceil(len(examples) / settings.mark_batch_size * settings.mark_epochs)
    print_fn(f"Marking regions per image token: {len(examples)} images, about {steps} steps ...")
    trainer.train()
    shutil.rmtree(out / "locate-run", ignore_errors=True)
    hit = _hit_rate(marker, collate, records, settings.mark_batch_size)
    print_fn(f"  top marked cell inside an artifact on {hit:.0%} of the ai-generated "
             f"training images (first {MARK_CHECK} records)")
    return logged(trainer, "loss"), hit


MARK_CHECK = 200  # training records the marker is checked on afterwards (a cheap sanity check)


def _hit_rate(marker, collate, records, batch_size: int) -> float | None:
    """Share of ai-generated records (of the first MARK_CHECK) whose highest artifact logit is
    on a token whose cell an artifact covers."""
    import torch

    from inspector.core.protocol import AI_GENERATED

    indices = [i for i in range(min(MARK_CHECK, len(records)))
               if records[i].label == AI_GENERATED]
    if not indices:
        return None
    marker.eval()
    hits = 0
    with torch.no_grad():
        for k in range(0, len(indices), batch_size):
            batch = collate(indices[k : k + batch_size])
            logits = marker(batch["pixel_values"], batch["image_grid_thw"])["cell_logits"][:, 1]
            counts = (batch["image_grid_thw"].prod(-1) // marker.merge**2).tolist()
            for scores, cover in zip(logits.split(counts), batch["cells"][:, 1].split(counts),
                                     strict=True):
                hits += int(cover[int(scores.argmax())] > 0)
    return hits / len(indices)


def where_rows(records, images, space, settings: LocateWarmupSettings) -> list[dict[str, Any]]:
    """Phase 2's training rows: the where question with the boxes only, or (``where_prompt``
    "query1") the app's Query 1 with the record's whole answer; the boxes snapped to
    ``settings.snap``, in reading order (one right answer per image, as SFT writes Query 1's)."""
    from trainer.conversations import locate_sample, trl_row, where_sample

    if settings.where_prompt == "query1":  # instruction variants drawn as SFT draws them
        rng = random.Random(settings.seed)
        return [trl_row(*locate_sample(record, space, rng, image=image, grid=settings.snap))
                for record, image in zip(records, images, strict=True)]
    return [trl_row(*where_sample(record, space, image, settings.snap))
            for record, image in zip(records, images, strict=True)]


def _where(model, processor, records, images, space, settings, out: Path,
           print_fn, aux_losses: dict[str, list[float]]) -> list[float]:
    """Phase 2: the language model and projector learn to answer WHERE_QUESTION with boxes
    (and ``settings.pointer``'s auxiliary losses, their values per step kept in aux_losses)."""
    if not settings.where_steps:
        return []
    from trl import SFTConfig, SFTTrainer

    from trainer.modeling import freeze
    from trainer.pointer_losses import auxiliary_loss_trainer, report_losses
    from trainer.rows import to_dataset
    from trainer.runs import logged, progress_callback, quiet

    rows = where_rows(records, images, space, settings)
    # by default the tower keeps what phase 1 taught it (as in SFT)
    freeze(model, train_vision=settings.where_vision, train_projector=True, method="full")
    config = SFTConfig(
        max_steps=settings.where_steps, learning_rate=settings.where_learning_rate,
        per_device_train_batch_size=settings.where_batch_size, **_run_arguments(settings, out),
    )
    trainer_class, cleanup = SFTTrainer, None
    if settings.pointer.active:
        trainer_class, cleanup = auxiliary_loss_trainer(model, settings.pointer, aux_losses)
    trainer = trainer_class(model=model, args=config, train_dataset=to_dataset(rows),
                            processing_class=processor,
                            callbacks=[progress_callback("locate warm-up (where)", print_fn)])
    quiet(trainer)
    print_fn(f"Teaching the language model where the regions are: {settings.where_steps} "
             "steps ...")
    try:
        trainer.train()
    finally:
        if cleanup is not None:  # the heads are scaffolding: they must not reach the saved model
            cleanup()
    shutil.rmtree(out / "locate-run", ignore_errors=True)
    report_losses(aux_losses, settings.logging_steps, print_fn)
    for param in model.parameters():
        param.requires_grad_(True)
    model.eval()
    return logged(trainer, "loss")


def register(subparsers) -> None:
    """Add the ``locate-warmup`` subcommand to lte-train's subparsers."""
    d = LocateWarmupSettings(model=Path("."), train=Path("."), output_dir=Path("."))
    pointer = d.pointer
    p = subparsers.add_parser(
        "locate-warmup",
        help="teach a model trained from nothing to write where the evidence is (before SFT)",
        description="Two phases on the training records: (1, mark) the vision tower and "
        "projector learn, per image token, whether its cell lies in a region and in a planted "
        "artifact, and the image label; (2, where) the language model and projector learn to "
        "answer one short question with the regions' boxes only (bbox_2d, model space, snapped "
        "to the patch grid). Run it after `lte-train warmup` and start SFT from the result. "
        "Not needed for a pre-trained Qwen-VL checkpoint.",
    )
    p.add_argument("model", type=Path, metavar="MODEL_DIR", help="model folder (not an adapter)")
    p.add_argument("train", type=Path, metavar="TRAIN.jsonl", help="training records")
    p.add_argument("-o", "--output-dir", type=Path, required=True, metavar="DIR",
                   help="where the result goes")
    p.add_argument("--mark-epochs", type=float, default=d.mark_epochs, metavar="N",
                   help=f"phase 1 passes over the images (default {d.mark_epochs:g}; 0 skips it)")
    p.add_argument("--where-steps", type=int, default=d.where_steps, metavar="N",
                   help=f"phase 2 steps (default {d.where_steps}; 0 skips it)")
    p.add_argument("--mark-learning-rate", type=float, default=d.mark_learning_rate,
                   metavar="LR", help=f"phase 1 learning rate (default {d.mark_learning_rate:g})")
    p.add_argument("--where-learning-rate", type=float, default=d.where_learning_rate,
                   metavar="LR", help=f"phase 2 learning rate (default {d.where_learning_rate:g}; "
                   "`lte-train demo` uses 1e-3)")
    p.add_argument("--where-prompt", choices=WHERE_PROMPTS, default=d.where_prompt,
                   help="phase 2 asks the where question (default) or the app's Query 1, whose "
                   "whole answer it learns (the boxes where Query 1 writes them)")
    p.add_argument("--snap", type=int, default=d.snap, metavar="PX",
                   help=f"snap phase-2 boxes to this grid (default {d.snap}; 0: exact boxes)")
    p.add_argument("--positions", action="store_true",
                   help="phase 1 also teaches each token its own row and column")
    p.add_argument("--where-places", type=float, default=pointer.places, metavar="W",
                   help="phase 2 also teaches the language model each image token's row and "
                   "column (weight of that loss; default 0: off)")
    p.add_argument("--places-layer", type=int, default=pointer.places_layer, metavar="N",
                   help="language-model layer whose output the --where-places head reads "
                   f"(default {pointer.places_layer})")
    p.add_argument("--where-point", type=float, default=pointer.point, metavar="W",
                   help="phase 2 also reads the first box's centre from the state before the "
                   "answer (weight of that loss; default 0: off)")
    p.add_argument("--where-attend", type=float, default=pointer.attend, metavar="W",
                   help="phase 2 also teaches head 0 of one language-model layer to attend, from "
                   "every token that writes a box, to the image tokens inside it (weight of that "
                   "loss; default 0: off)")
    p.add_argument("--attend-layer", type=int, default=pointer.attend_layer, metavar="N",
                   help=f"the --where-attend layer, 0-based (default {pointer.attend_layer})")
    p.add_argument("--where-read", type=float, default=pointer.read, metavar="W",
                   help="phase 2 also reads each box's corners from the --attend-layer output at "
                   "the tokens that write it (weight of that loss; default 0: off)")
    p.add_argument("--where-vision", action="store_true",
                   help="phase 2 also trains the vision tower (default: frozen, as in SFT)")
    p.add_argument("--seed", type=int, default=d.seed, metavar="N")
    p.set_defaults(func=_cmd_locate_warmup)


def _cmd_locate_warmup(args) -> int:
    import sys

    from trainer.runs import in_own_process

    settings = LocateWarmupSettings(
        model=args.model, train=args.train, output_dir=args.output_dir,
        mark_epochs=args.mark_epochs, where_steps=args.where_steps, snap=args.snap,
        where_prompt=args.where_prompt,
        mark_learning_rate=args.mark_learning_rate, where_learning_rate=args.where_learning_rate,
        positions=args.positions, where_vision=args.where_vision,
        pointer=PointerLosses(places=args.where_places, places_layer=args.places_layer,
                              point=args.where_point, attend=args.where_attend,
                              attend_layer=args.attend_layer, read=args.where_read),
        seed=args.seed,
    )
    try:
        result = in_own_process(run_locate_warmup, settings)  # the step allocator
    except ValueError as exc:
        print(f"lte-train locate-warmup: error: {exc}", file=sys.stderr)
        return 2
    print(f"Done: {result.examples} images in {result.seconds:.0f}s; model in "
          f"{result.output_dir}")
    return 0
