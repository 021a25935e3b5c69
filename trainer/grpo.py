"""Two-segment GRPO (TRL ``GRPOTrainer``) as in LTE; FakeXplainer's staged weights as an option.

* Segment 1 — Query 1 (locate): prompts from :func:`trainer.rows.locate_rows`; rewards: format
  (``format_reward_locate``) + IoU (LTE's mean over predicted boxes of the best IoU; ``recall``
  or FakeXplainer's ``relaxed`` IoU as options). The Query-1 verdict is NOT rewarded by default:
  LTE's ablation shows that hurts the corrected verdict; ``locate_weights`` ``verdict`` (e.g.
  ``--locate-weights format=1,iou=1,verdict=1``) adds it, to run that "dual verdict reward"
  ablation (in staged schedules too, with its own weight).
* Segment 2 — Query 2 (examine): prompts from :func:`trainer.rows.examine_rows` (Query 1 answered
  with the ground truth, close-ups of the GT boxes); rewards: verdict accuracy + BLEU-2 of the
  explanation (+ format, weight 0 by default).

Weights per segment are settings (``locate_weights``, ``examine_weights``). With
``schedule = "staged"`` each segment runs FakeXplainer's three stages alpha → beta → gamma (its
steps split evenly), with :func:`trainer.rewards.staged_rewards` for that stage and query (BLEU-2
added in segment 2 with its configured weight).

Each segment (and stage) saves to ``output_dir/<name>/`` and records ``training_info.json`` there;
``resume`` skips finished parts and continues an interrupted one from its last checkpoint. The
final model (or LoRA adapter) and processor are saved in ``output_dir``.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trainer.modeling import TrainingSettings

__all__ = ["GRPOResult", "GRPOSettings", "SEGMENTS", "reward_plan", "run_grpo"]

SEGMENTS = ("both", "locate", "examine")
IOU_KINDS = ("lte", "recall", "relaxed")
SCHEDULES = ("fixed", "staged")
_LOCATE_KEYS = ("format", "iou", "verdict")  # verdict: the "dual verdict reward" ablation
_EXAMINE_KEYS = ("format", "verdict", "bleu", "findings")


@dataclass
class GRPOSettings(TrainingSettings):
    """GRPO settings: the shared ones (:class:`trainer.modeling.TrainingSettings`) and these.

    ``model`` is the SFT result (model folder or adapter folder).
    """

    segments: str = "both"
    train_vision: bool = False
    steps_locate: int = 100
    steps_examine: int = 100
    learning_rate: float = 1e-5  # LTE's GRPO learning rate
    num_generations: int = 4  # LTE's group size G
    prompts_per_step: int = 1
    max_completion_length: int = 256
    temperature: float = 1.0
    beta: float = 0.0  # KL weight; 0 loads no reference model
    iou: str = "lte"
    eta: float = 2.0  # relaxed IoU's η
    locate_weights: dict[str, float] = field(default_factory=lambda: {"format": 1.0, "iou": 1.0})
    examine_weights: dict[str, float] = field(
        default_factory=lambda: {"format": 0.0, "verdict": 1.0, "bleu": 1.0}
    )
    schedule: str = "fixed"
    # share of segment 2's prompts that are Query-1 prompts scored by segment 1's rewards: the
    # weights both queries share then keep the first look while the second is trained (decision
    # 0004, E37)
    hold_first_look: float = 0.0
    logging_steps: int = 5
    save_steps: int = 50

    def validate(self) -> None:
        super().validate()
        for name, value, allowed in (
            ("segments", self.segments, SEGMENTS),
            ("iou", self.iou, IOU_KINDS),
            ("schedule", self.schedule, SCHEDULES),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        for name, weights, keys in (
            ("locate_weights", self.locate_weights, _LOCATE_KEYS),
            ("examine_weights", self.examine_weights, _EXAMINE_KEYS),
        ):
            unknown = sorted(set(weights) - set(keys))
            if unknown:
                raise ValueError(
                    f"{name}: unknown reward {unknown[0]!r} (known: {', '.join(keys)})"
                )
        if not 0.0 <= self.hold_first_look <= 1.0:
            raise ValueError(f"hold_first_look must be between 0 and 1, got "
                             f"{self.hold_first_look}")
        if self.num_generations < 2:
            raise ValueError("num_generations must be at least 2 (GRPO compares a group)")
        for name in ("prompts_per_step", "max_completion_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("steps_locate", "steps_examine"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass
class GRPOResult:
    output_dir: Path
    parts: list[dict[str, Any]]  # one per segment/stage: name, steps, rewards, seconds
    seconds: float


def _iou_fn(settings: GRPOSettings):
    from trainer import rewards

    if settings.iou == "recall":
        return rewards.recall_iou_reward
    if settings.iou == "relaxed":
        return rewards.make_relaxed_iou_reward(settings.eta)
    return rewards.iou_reward


def reward_plan(settings: GRPOSettings, query: str, stage: str | None):
    """``(reward_funcs, reward_weights)`` of one segment (``query``) in one stage (or fixed).

    With ``hold_first_look``, segment 2 scores its Query-2 answers with its own rewards and its
    Query-1 answers with segment 1's (:func:`trainer.rewards.only_on`)."""
    from trainer.rewards import only_on

    fns, weights = _plan(settings, query, stage)
    if query != "examine" or not settings.hold_first_look:
        return fns, weights
    first, first_weights = _plan(settings, "locate", stage)
    return ([only_on("examine", f) for f in fns] + [only_on("locate", f) for f in first],
            weights + first_weights)


def _plan(settings: GRPOSettings, query: str, stage: str | None):
    from trainer import rewards

    if stage is not None:
        fns, weights = rewards.staged_rewards(
            stage, query, relaxed=settings.iou == "relaxed", eta=settings.eta
        )
        if query == "locate" and settings.iou == "recall":
            fns[1] = rewards.recall_iou_reward
        bleu = settings.examine_weights.get("bleu", 0.0)
        if query == "examine" and bleu:
            fns.append(rewards.bleu2_reward)
            weights.append(bleu)
        dual = settings.locate_weights.get("verdict", 0.0)
        if query == "locate" and dual:
            fns.append(rewards.locate_verdict_reward)
            weights.append(dual)
        return fns, weights
    if query == "locate":
        table = {
            "format": rewards.format_reward_locate,
            "iou": _iou_fn(settings),
            "verdict": rewards.locate_verdict_reward,
        }
        chosen = settings.locate_weights
    else:
        table = {
            "format": rewards.format_reward_examine,
            "verdict": rewards.verdict_reward,
            "bleu": rewards.bleu2_reward,
            "findings": rewards.findings_reward,
        }
        chosen = settings.examine_weights
    fns, weights = [], []
    for key, fn in table.items():
        w = float(chosen.get(key, 0.0))
        if w:
            fns.append(fn)
            weights.append(w)
    if not fns:
        raise ValueError(f"segment {query}: every reward weight is 0")
    return fns, weights


def _parts(settings: GRPOSettings) -> list[tuple[str, str, str | None, int]]:
    """(folder name, query, stage, steps) in training order."""
    segments = []
    if settings.segments in ("both", "locate") and settings.steps_locate > 0:
        segments.append(("segment-1-locate", "locate", settings.steps_locate))
    if settings.segments in ("both", "examine") and settings.steps_examine > 0:
        segments.append(("segment-2-examine", "examine", settings.steps_examine))
    parts = []
    for name, query, steps in segments:
        if settings.schedule == "staged":
            stages = ("alpha", "beta", "gamma")
            base, rest = divmod(steps, 3)
            for i, stage in enumerate(stages):
                n = base + (1 if i < rest else 0)
                if n:
                    parts.append((f"{name}-{stage}", query, stage, n))
        else:
            parts.append((name, query, None, steps))
    return parts


def run_grpo(settings: GRPOSettings, print_fn=print) -> GRPOResult:
    """Run the configured segments in order; save the final model/adapter to ``output_dir``."""
    from trl import GRPOConfig, GRPOTrainer

    from inspector.core.closeups import CloseupPolicy
    from trainer.modeling import model_answers, precision_flags, prepare_model, write_training_info
    from trainer.records import read_records
    from trainer.rows import (
        examine_rows,
        locate_rows,
        model_space,
        to_dataset,
        with_first_looks,
    )
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
    out.mkdir(parents=True, exist_ok=True)
    parts = _parts(settings)
    if not parts:
        raise ValueError("nothing to train: both segments have 0 steps")
    space = model_space(settings.model)
    policy = CloseupPolicy(max_regions=settings.max_regions)
    records = read_records(settings.train)
    datasets: dict[str, Any] = {}

    def dataset(query: str):
        if query not in datasets:
            print_fn(f"Building {query} prompts from {len(records)} records ...")
            def first_looks():
                return locate_rows(records, space, dataset_path=settings.train,
                                   seed=settings.seed, variants=settings.instruction_variants)

            if query == "locate":
                rows = first_looks()
            else:
                rows = examine_rows(records, space, policy, dataset_path=settings.train,
                                    seed=settings.seed, variants=settings.instruction_variants,
                                    flip_rate=settings.flip_rate, grid=settings.box_grid,
                                    model_answers=model_answers(settings))
                if settings.hold_first_look:
                    rows = with_first_looks(rows, first_looks(), settings.hold_first_look,
                                            settings.seed)
            datasets[query] = to_dataset(rows)
        return datasets[query]

    # Resume: the last finished part is where the model continues from.
    start_from = Path(settings.model)
    todo = parts
    if settings.resume:
        # Only a finished prefix counts: a later part trained without the earlier ones (e.g. an
        # earlier --segments examine run) must be trained again after them.
        done = []
        for p in parts:
            if not (out / p[0] / "training_info.json").is_file():
                break
            done.append(p)
        if done:
            start_from = out / done[-1][0]
            todo = parts[len(done):]
            print_fn(f"Resuming: {len(done)} part(s) done, continuing from {start_from}")
    flags = precision_flags()

    def config_for(part_dir: Path, steps: int, weights: list[float]):
        batch = settings.prompts_per_step * settings.num_generations
        return GRPOConfig(
            output_dir=str(part_dir),
            max_steps=steps,
            learning_rate=settings.learning_rate,
            per_device_train_batch_size=batch,
            gradient_accumulation_steps=settings.grad_accum,
            num_generations=settings.num_generations,
            max_completion_length=settings.max_completion_length,
            temperature=settings.temperature,
            beta=settings.beta,
            reward_weights=weights,
            seed=settings.seed,
            logging_steps=settings.logging_steps,
            save_strategy="steps",
            save_steps=settings.save_steps,
            save_total_limit=1,
            report_to=[],
            disable_tqdm=True,
            dataloader_pin_memory=False,
            **flags,
            **settings.extra,
        )

    # Training arguments before the model: under DeepSpeed ZeRO-3 they make from_pretrained
    # load the weights already sharded instead of a full copy per process.
    plans = {name: reward_plan(settings, query, stage) for name, query, stage, _ in todo}
    configs = {name: config_for(out / name, steps, plans[name][1]) for name, _, _, steps in todo}
    print_fn(f"Loading {start_from} for GRPO ({settings.method}) ...")
    model, processor, _ = prepare_model(start_from, settings)

    report: list[dict[str, Any]] = []
    for name, query, stage, steps in todo:
        part_dir = out / name
        fns, weights = plans[name]
        terms = ", ".join(f"{f.__name__} x{w:g}" for f, w in zip(fns, weights, strict=True))
        label = f"{name} ({terms})"
        print_fn(f"GRPO {label}: {steps} steps, {settings.num_generations} completions per prompt")
        config = configs[name]
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=fns,
            args=config,
            train_dataset=dataset(query),
            processing_class=processor,
            callbacks=[progress_callback(f"grpo {name}", print_fn)],
        )
        quiet(trainer)
        t0 = time.perf_counter()
        resume = last_checkpoint(part_dir) if settings.resume else None
        trainer.train(resume_from_checkpoint=resume)
        model = trainer.model
        trainer.save_model(str(part_dir))
        main_process = trainer.is_world_process_zero()
        if main_process:
            processor.save_pretrained(part_dir)
        entry = {
            "name": name,
            "query": query,
            "stage": stage,
            "steps": trainer.state.global_step,
            "rewards": {f.__name__: w for f, w in zip(fns, weights, strict=True)},
            "reward_mean": logged(trainer, "reward"),
            # each reward's mean per log (None where no answer of its query was in the batch)
            "reward_means": {f.__name__: logged(trainer, f"rewards/{f.__name__}/mean")
                             for f in fns},
            "seconds": round(time.perf_counter() - t0, 1),
        }
        if main_process:
            write_training_info(part_dir, {"stage": "grpo", "part": entry,
                                           "settings": asdict(settings)})
            drop_checkpoints(part_dir)
        trainer.accelerator.wait_for_everyone()
        report.append(entry)

    result = GRPOResult(output_dir=out, parts=report, seconds=time.perf_counter() - started)
    if todo and not trainer.is_world_process_zero():
        return result
    final = out / todo[-1][0] if todo else out / parts[-1][0]
    for path in final.iterdir():
        if path.is_file() and path.name != "training_info.json":
            shutil.copy2(path, out / path.name)
    write_training_info(out, {"stage": "grpo", "settings": asdict(settings), "parts": report,
                              "seconds": round(result.seconds, 1)})
    return result
