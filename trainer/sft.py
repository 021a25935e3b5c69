"""Supervised fine-tuning (TRL ``SFTTrainer``) on Query-1 and Query-2 conversations.

LTE's first stage: teach the answer format, grounding and verdicts on ground-truth answers. Rows
come from :func:`trainer.rows.sft_rows` (prompt-completion, loss on the answer only). LoRA (PEFT)
or full fine-tuning; the vision tower and the projector are trainable or frozen independently
(LTE trains all three). Checkpoints every ``save_steps`` steps; ``resume`` continues a run from
its last checkpoint, so an interrupted run loses at most that many steps. A finished run keeps
only its final weights (the checkpoints are deleted).

The result in ``output_dir`` loads in the app: full weights as a model folder, a LoRA adapter as
an adapter folder over its base (``lte-inspect analyze --model OUTPUT_DIR``).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from trainer.decisive_tokens import decisive_loss_trainer
from trainer.modeling import TrainingSettings
from trainer.pointer_losses import PointerLosses, auxiliary_loss_trainer, report_losses

__all__ = ["SFTResult", "SFTSettings", "run_sft"]


@dataclass
class SFTSettings(TrainingSettings):
    """SFT settings: the shared ones (:class:`trainer.modeling.TrainingSettings`) and these."""

    val: Path | None = None
    queries: str = "both"  # "both" | "locate" | "examine"
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    learning_rate: float = 2e-5  # LTE's SFT learning rate
    lr_scheduler: str = "cosine"
    warmup_steps: int = 0
    batch_size: int = 1
    weight_decay: float = 0.0
    max_length: int | None = None
    save_total_limit: int = 2
    # auxiliary losses on the Query-1 rows that keep a locate warm-up's pointer head pointing
    # (trainer/pointer_losses.py; all off by default)
    pointer_losses: PointerLosses = field(default_factory=PointerLosses)
    # each record also gives the locate warm-up's where row (rows.sft_rows' ``where``)
    where_rows: bool = False
    # the Query-1 rows of records with an impression take it as their target (rows.sft_rows'
    # ``own_first_look``): the step holds the first look while Query 2 learns from it
    own_first_look: bool = False
    # with own_first_look: the Query-2 rows stay on the ground truth (with flips and decoys), so
    # the step teaches Query 2 to read while Query 1 holds its own answers (rows.sft_rows'
    # ``truth_contexts``; decision 0004, E32/E33's read step)
    truth_contexts: bool = False
    # share of the ground-truth Query-2 contexts' boxes moved where they show nothing, the
    # findings saying what each close-up holds (rows.sft_rows' ``decoy_rate``)
    decoy_rate: float = 0.0
    # weight of an extra loss on the tokens that carry Query 2's decisions (each finding's
    # first word and points_to, the verdict; trainer/decisive_tokens.py); 0: off
    decisive_weight: float = 0.0

    def validate(self) -> None:
        super().validate()
        self.pointer_losses.validate()
        if self.pointer_losses.active and self.method != "full":
            raise ValueError("the pointer losses train a full model (method 'full'), not "
                             f"{self.method!r}")
        for name in ("batch_size", "lora_r"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.max_steps <= 0 and not self.epochs > 0:
            raise ValueError("give epochs > 0 or max_steps > 0")
        if not 0.0 <= self.decoy_rate <= 1.0:
            raise ValueError(f"decoy_rate must be between 0 and 1, got {self.decoy_rate}")
        if self.decisive_weight < 0:
            raise ValueError(f"decisive_weight must be >= 0, got {self.decisive_weight}")
        if self.own_first_look and self.impressions is None:
            raise ValueError("own_first_look holds Query 1 on a model's own answers: give the "
                             "impressions file they come from")
        if self.truth_contexts and not self.own_first_look:
            raise ValueError("truth_contexts keeps Query 2 on the ground truth while Query 1 "
                             "holds the model's own answers: it needs own_first_look")
        if self.val is not None and not Path(self.val).is_file():
            raise ValueError(f"validation records not found: {self.val}")


@dataclass
class SFTResult:
    output_dir: Path
    steps: int
    losses: list[float]  # training loss at each logging step
    eval_losses: list[float]
    seconds: float
    rows: int
    trainable: dict[str, int]


def run_sft(settings: SFTSettings, print_fn=print) -> SFTResult:
    """Fine-tune, save the model (or adapter) and processor to ``output_dir``; return figures."""
    from trl import SFTConfig, SFTTrainer

    from inspector.core.closeups import CloseupPolicy
    from trainer.modeling import (
        model_answers,
        precision_flags,
        prepare_model,
        write_training_info,
    )
    from trainer.records import read_records
    from trainer.rows import model_space, sft_rows, to_dataset
    from trainer.runs import (
        drop_checkpoints,
        last_checkpoint,
        logged,
        progress_callback,
        quiet,
        seed_run,
    )

    settings.validate()
    seed_run(settings.seed)
    started = time.perf_counter()
    out = Path(settings.output_dir)
    space = model_space(settings.model)
    policy = CloseupPolicy(max_regions=settings.max_regions)

    def build(path: Path, what: str):
        records = read_records(path)
        print_fn(f"Building {what} conversations from {len(records)} records in {path} ...")
        rows = sft_rows(
            records, space, policy, dataset_path=path, queries=settings.queries,
            seed=settings.seed, variants=settings.instruction_variants,
            flip_rate=settings.flip_rate, grid=settings.box_grid,
            model_answers=model_answers(settings), where=settings.where_rows,
            own_first_look=settings.own_first_look, truth_contexts=settings.truth_contexts,
            decoy_rate=settings.decoy_rate,
        )
        return to_dataset(rows), len(rows)

    train_ds, n_rows = build(Path(settings.train), "training")
    val_ds = build(Path(settings.val), "validation")[0] if settings.val else None

    # The training arguments come first: under DeepSpeed ZeRO-3 they make from_pretrained load
    # the weights already sharded (zero.Init) instead of a full copy per process.
    flags = precision_flags()
    config = SFTConfig(
        output_dir=str(out),
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=settings.warmup_steps,
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        weight_decay=settings.weight_decay,
        max_length=settings.max_length,
        seed=settings.seed,
        logging_steps=settings.logging_steps,
        save_strategy="steps",
        save_steps=settings.save_steps,
        save_total_limit=settings.save_total_limit,
        eval_strategy="epoch" if val_ds is not None else "no",
        report_to=[],
        disable_tqdm=True,
        dataloader_pin_memory=False,
        **flags,
        **settings.extra,
    )
    print_fn(f"Loading {settings.model} for {settings.method} fine-tuning ...")
    model, processor, trainable = prepare_model(settings.model, settings)
    print_fn(
        "  trainable parameters: "
        + ", ".join(f"{part} {n:,}" for part, n in trainable.items())
    )

    resume = last_checkpoint(out) if settings.resume else None
    if settings.resume and resume is None:
        print_fn(f"  no checkpoint in {out} yet: starting from the beginning")
    elif resume:
        print_fn(f"  resuming from {resume}")
    trainer_class, cleanup, pointer_log, decisive_log = SFTTrainer, None, {}, []
    if settings.decisive_weight:
        trainer_class = decisive_loss_trainer(settings.decisive_weight, decisive_log)
    if settings.pointer_losses.active:
        trainer_class, cleanup = auxiliary_loss_trainer(model, settings.pointer_losses,
                                                        pointer_log, base_class=trainer_class)
    trainer = trainer_class(
        model=model,
        args=config,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        processing_class=processor,
        callbacks=[progress_callback("sft", print_fn)],
    )
    quiet(trainer)
    steps_total = trainer.args.max_steps if trainer.args.max_steps > 0 else math.ceil(
        len(train_ds) / (settings.batch_size * settings.grad_accum) * settings.epochs
    )
    print_fn(f"Training on {n_rows} conversations, about {steps_total} optimizer steps ...")
    try:
        trainer.train(resume_from_checkpoint=resume)
    finally:
        if cleanup is not None:  # the pointer heads are scaffolding, never saved
            cleanup()
    if pointer_log:
        report_losses(pointer_log, settings.logging_steps, print_fn)
    if decisive_log:
        tail = decisive_log[-settings.logging_steps:]
        print_fn(f"  decisive-token loss: {sum(tail) / len(tail):.4f} over the last "
                 f"{len(tail)} steps (first step {decisive_log[0]:.4f})")
    trainer.save_model(str(out))
    if trainer.is_world_process_zero():
        processor.save_pretrained(out)
    losses = logged(trainer, "loss")
    eval_losses = logged(trainer, "eval_loss")
    result = SFTResult(
        output_dir=out,
        steps=trainer.state.global_step,
        losses=losses,
        eval_losses=eval_losses,
        seconds=time.perf_counter() - started,
        rows=n_rows,
        trainable=trainable,
    )
    if not trainer.is_world_process_zero():
        return result
    drop_checkpoints(out)  # the final weights are saved; checkpoints were only for resume
    write_training_info(out, {
        "stage": "sft",
        "settings": asdict(settings),
        "steps": result.steps,
        "losses": losses,
        "eval_losses": eval_losses,
        "seconds": round(result.seconds, 1),
        "rows": n_rows,
        "trainable": trainable,
        "pointer_losses": pointer_log,
        "decisive_losses": decisive_log,
    })
    return result
