"""`lte-train demo`: train the bundled demo checkpoint from scratch on a synthetic task, on a CPU.

One command runs the whole recipe, each step skipped when its result already exists (so an
interrupted run continues where it stopped):

1. data — :func:`trainer.synth.generate`: a training set (``train_seed``) and a held-out test set
   made with a different seed (``test_seed``) of bundled photographs with planted artifacts.
2. init — a Qwen2.5-VL-architecture model of the "demo" size with random weights
   (:func:`trainer.tiny.build_tiny_model`).
3. eval — the app's own pipeline on the test set (:func:`trainer.evaluate.evaluate`) before
   training, after SFT, after GRPO and after the examine step.
4. warmup — the vision tower's missing pre-training (:mod:`trainer.warmup`): image-level labels
   of the training images and their ground-truth close-ups (with ``--warmup-cells`` also
   per-token marks of the cells the regions and artifacts cover).
4b. locate (``--where-steps N``, 2200 by default; 0 skips it) — :mod:`trainer.locate_warmup`,
   on the warm-up's images by default (``--locate-images``): the tower marks the artifact cells,
   then the language model answers "where?" with the boxes only (``--where-prompt query1``: the
   app's Query 1 with its whole answer), with a pointer head taught to attend to the box's image
   tokens and to carry their place; SFT then keeps those pointer losses on its Query-1 rows
   (decision 0004, E13, E54); ``--query1-steps N`` (700 by default) adds N steps of Query 1 with
   its whole answer after it (E53, E62).
5. sft — full fine-tuning of the language model and projector with :mod:`trainer.sft`; the
   warmed-up vision tower stays frozen (at the language model's learning rate it would unlearn).
6. grpo (``--grpo-steps L E``, 0 0 by default since E62: skipped) — segment 1 (format + IoU)
   then segment 2 (verdict + BLEU-2) with :mod:`trainer.grpo`, vision tower frozen likewise.
6b. examine (``--examine-count N``, 0 by default: skipped) — the second look trained on
   what the app shows it (decision 0004, E15): N fresh images (``examine_seed``), the GRPO
   model's own Query-1 answers to them (:mod:`trainer.impressions`), then SFT on both queries
   whose Query-2 rows carry those answers and close-ups of their boxes
   (``--examine-truth-contexts``: Query 1 holds those answers while Query 2 stays on the ground
   truth with decoy close-ups — decision 0004's read step, E33).
6c. findings (``--findings-steps N``, 0 by default: skipped) — GRPO segment 2 on the examined
   model's own first looks at fresh images (``findings_seed``), rewarded by the verdict and by
   findings that say what each close-up holds, half its prompts Query 1's held by segment 1's
   rewards (decision 0004, E37).
7. model — the last step's result with a model card (what it is and is not, the three evaluation
   tables, the settings) and the ``DEMO`` marker the app reads; ``install`` copies it to
   ``resources/demo-model/``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from inspector.core.demo_model import DEMO_MARKER, demo_model_path
from trainer.locate_warmup import WHERE_PROMPTS
from trainer.pointer_losses import PointerLosses
from trainer.runs import in_own_process
from trainer.tiny import INTERLEAVED_MROPE_SECTION

__all__ = ["DemoSettings", "register", "run_demo", "stage_table"]

LOCATE_IMAGES = ("training", "warm-up")  # --locate-images: which set the locate step learns on

STAGES = ("before training", "after SFT", "after GRPO", "after the examine step",
          "after the findings step")
# The pointer losses of the locate step, kept on in SFT's Query-1 rows (decision 0004, E13):
# place after layer 1, head 0 of layer 1 points at the box's image tokens, its output carries
# the box's corners.
DEMO_POINTER_LOSSES = PointerLosses(places=1.0, places_layer=1, attend=1.0, attend_layer=1,
                                    read=10.0)
MAX_CHECKPOINT_MB = 20
REPO_DEMO_MODEL = demo_model_path()  # where `--install` puts it: the app's demo checkpoint


@dataclass
class DemoSettings:
    out_dir: Path
    train_count: int = 2000
    test_count: int = 100
    train_seed: int = 1
    test_seed: int = 2
    model_seed: int = 0
    size: str = "demo"
    # the synthetic images' side and whether their artifacts keep their 224-px feature size
    # (trainer/synth.py): 448 with fine artifacts hides the finest from the 224-px view and
    # leaves them to the close-ups (decision 0004, E21), the task where the second look gains
    # (E65: +3 to +13 points over none on three sets, E67: +4 to +6); 224 without is E62's task
    image_size: int = 448
    fine_artifacts: bool = True
    # the language model's rotary base (None: Qwen's 10^6) and M-RoPE's t/h/w parts (None: 4,
    # 6, 6); interleaved one-frequency parts give image columns high frequencies while text keeps
    # low ones (decision 0004, E14)
    rope_theta: float | None = 1e4
    mrope_section: tuple[int, ...] | None = INTERLEAVED_MROPE_SECTION
    # the vision warm-up on its own 8000 images (0: on the training set), made with the training
    # seed: in the same steps the tower's held-out accuracy goes from 0.865 to 0.89 (decision
    # 0004, E24); 1.5 passes over them and their close-ups (E25, the bundled checkpoint)
    warmup_epochs: float = 1.5
    warmup_count: int = 8000
    warmup_learning_rate: float = 3e-4
    # the warm-up's phase 2 (the language model reads the image); its loss is flat from about
    # step 500 on (E48: 0.117 at 520, 0.101 at 1000), 800 keeps the recipe within the hour (E49)
    warmup_read_steps: int = 800
    warmup_cells: bool = True  # the warm-up's phase 1 also marks region cells (E17, E25)
    # The defaults since E62 (decision 0004, the bundled checkpoint, 57:28 from nothing): the
    # locate step on the warm-up's images, a where phase, then the app's Query 1, SFT at 3e-4
    # without where rows, no GRPO. E49's (the one before) were 2.0 mark epochs on the training
    # images, 1200 where steps, no Query-1 phase, SFT at 1e-3 with where rows, GRPO 60 120.
    locate_mark_epochs: float = 0.5  # locate warm-up phase 1 (the tower marks artifact cells)
    # the images the locate step learns on: "training" (SFT's) or "warm-up" (the vision
    # warm-up's, four times as many; decision 0004, E52)
    locate_images: str = "warm-up"
    locate_where_steps: int = 2200  # locate warm-up phase 2 (0 skips the locate step)
    # phase 2's question: "where" (the where question, boxes only) or "query1" (the app's
    # Query 1 with its whole answer; decision 0004, locD and E54)
    locate_where_prompt: str = "where"
    # then, from the locate step's model, this many steps of the app's Query 1 with its whole
    # answer on the same images (0: none; decision 0004, E53's locQ and E55)
    locate_query1_steps: int = 700
    locate_learning_rate: float = 1e-3
    sft_epochs: float = 1.0
    # 3e-4 keeps the Query-1 phase's boxes where 1e-3 undid them (E59-E62)
    sft_learning_rate: float = 3e-4
    sft_batch_size: int = 4
    # SFT (and the examine step's SFT) also rehearse the locate step's where? answer, one row
    # per record (decision 0004, E26): IoU 0.26-0.29 instead of E25's 0.12-0.14 (E48, E49);
    # off since E62, whose Query-1 phase is that rehearsal
    sft_where_rows: bool = False
    # Half the Query-2 contexts carry another class's Query-1 answer: Query 2 must read the
    # close-ups. At 0.15 (the first look's real error rate, decision 0004, E64) Query 2 copies
    # its first look instead.
    flip_rate: float = 0.5
    # share of SFT's Query-2 boxes moved where their close-ups show nothing (decision 0004, E28)
    decoy_rate: float = 0.0
    # weight of the extra loss on Query 2's decisive tokens in SFT and the examine step
    # (trainer/decisive_tokens.py; decision 0004, E31)
    decisive_weight: float = 0.0
    # GRPO (0 0: skipped, the default since E62 — within the hour it came at the cost of the
    # Query-1 phase; E49 ran 60 120)
    grpo_steps_locate: int = 0
    grpo_steps_examine: int = 0
    grpo_learning_rate: float = 5e-5
    grpo_max_completion_length: int = 200
    # the examine step (0 images: skipped): fresh images and the GRPO model's own Query-1
    # answers to them, then SFT with Query 2 built on those answers (decision 0004, E15)
    # off by default since E49: after SFT with where rows the step made the second look a lean
    # to one class (validation seed 7: E49's final model 0.770 against its GRPO model's 0.840,
    # 30 % of photos called AI-generated; E48 0.780 against 0.810 first looks) — 560 (E49) or
    # 800 (E15-E48) run it
    examine_count: int = 0
    examine_seed: int = 3
    examine_epochs: float = 1.0
    examine_learning_rate: float = 3e-4
    # the examine step's Query-1 rows target the GRPO model's own answers (its impressions)
    # instead of the ground truth, so Query 1 stays as GRPO left it (decision 0004, E27)
    examine_own_first_look: bool = True
    # the examine step's Query-2 rows stay on the ground truth with decoys while Query 1 holds
    # the model's own answers: the step teaches Query 2 to read its close-ups (E33's read step)
    examine_truth_contexts: bool = False
    # the findings step (0 steps: skipped): GRPO segment 2 on the examined model's own first
    # looks at fresh images, rewarded by the verdict and by findings that say what each close-up
    # holds, a share of its prompts Query-1 prompts scored by segment 1's rewards (decision 0004,
    # E37)
    findings_steps: int = 0
    findings_count: int = 400
    findings_seed: int = 13
    findings_learning_rate: float = 5e-5  # 1e-4 collapsed in E38 (answers lost their form)
    findings_weight: float = 2.0
    findings_hold: float = 0.5
    findings_hold_verdict: float = 0.0  # the held Query 1's verdict reward (dual verdict)
    eval_max_new_tokens: int = 256
    # images analysed at once by the evaluations and first looks (their turns batched; greedy
    # answers equal one at a time): on 2 CPU cores 100 test images took 85 s one at a time,
    # 44 s at 8, 33 s at 16, 31 s at 32; 25.5 s at 32 against 30.5 s at 16 on a second day
    # (docs/eval_batch.md)
    eval_batch_size: int = 32
    final_degradations: tuple[str, ...] = ("jpeg80", "jpeg30", "crop", "down0.5")
    degradation_limit: int | None = 40  # test images per degradation (None: all)
    # the untrained model writes its 256 tokens of noise for every image (nothing parses): a few
    # images show that, 100 took 4 of the recipe's minutes
    init_eval_limit: int | None = 20
    ablations: bool = True  # the final model with located / random / no close-ups
    install: Path | None = None

    @property
    def examine_holds_first_look(self) -> bool:
        """The examine step's Query-1 rows target the model's own answers (read step too)."""
        return self.examine_own_first_look or self.examine_truth_contexts

    @property
    def runs_grpo(self) -> bool:
        """The GRPO step runs (``--grpo-steps 0 0`` skips it)."""
        return self.grpo_steps_locate > 0 or self.grpo_steps_examine > 0

    @property
    def first_look_model(self) -> str:
        """Which step's model gives the examine step its first impressions."""
        return "GRPO" if self.runs_grpo else "SFT"

    @property
    def rehearses_where(self) -> bool:
        """SFT's where rows are on and there is a locate step whose where? answer they
        rehearse (after a Query-1 locate step SFT's own Query-1 rows are that rehearsal)."""
        return (self.sft_where_rows and bool(self.locate_where_steps)
                and self.locate_where_prompt == "where")


def _say(text: str) -> None:
    print(text, flush=True)


def _open_for_eval(model_dir: Path, settings: DemoSettings):
    """The model being made, on the CPU, with the recipe's evaluation token limit."""
    from trainer.evaluate import open_model

    return open_model(model_dir, settings.eval_max_new_tokens, device="cpu")


def _eval(model_dir: Path, test_records: Path, out: Path, settings: DemoSettings,
          degradations: tuple[str, ...] = ("clean",), limit: int | None = None) -> dict[str, Any]:
    from trainer.evaluate import evaluate, markdown_table, write_report

    if out.is_file():
        _say(f"  (reusing {out})")
        return json.loads(out.read_text(encoding="utf-8"))
    backend = _open_for_eval(model_dir, settings)
    n = min(limit or settings.test_count, settings.test_count)
    report = evaluate(backend, test_records, degradations=degradations, limit=limit,
                      on_progress=_progress_every(n * len(degradations)),
                      batch_size=settings.eval_batch_size)
    write_report(report, out, out.with_suffix(".md"))
    _say(markdown_table(report))
    return report


def _eval_ablations(model_dir: Path, test_records: Path, out: Path, settings: DemoSettings,
                    located: dict[str, Any]) -> dict[str, Any]:
    """The final model on the test set with located, random and no close-ups; ``located`` is
    its evaluation with located close-ups, already made."""
    from trainer.evaluate import ablation_table, evaluate_ablations, write_report

    if out.is_file():
        _say(f"  (reusing {out})")
        return json.loads(out.read_text(encoding="utf-8"))
    backend = _open_for_eval(model_dir, settings)
    report = evaluate_ablations(backend, test_records, done={"located": located},
                                on_progress=_progress_every(2 * settings.test_count),
                                batch_size=settings.eval_batch_size)
    write_report(report, out, out.with_suffix(".md"))
    _say(ablation_table(report))
    return report


def _progress_every(total: int):
    state = {"i": 0}
    step = max(1, total // 10)

    def progress(line: str) -> None:
        state["i"] += 1
        if state["i"] % step == 0 or state["i"] == total:
            _say(f"    {line.strip()}")  # the line carries its own [i/N]

    return progress


def _metrics_table(first: str, rows: list[tuple[str, dict[str, Any]]]) -> str:
    """Markdown: a row per (name, metrics), the evaluation's columns."""
    from trainer.evaluate import COLUMNS, format_cell

    lines = [
        f"| {first} | " + " | ".join(title for _, title in COLUMNS) + " |",
        "|---|" + "|".join("---:" for _ in COLUMNS) + "|",
    ]
    for name, metrics in rows:
        lines.append(f"| {name} | " + " | ".join(format_cell(k, metrics.get(k)) for k, _ in COLUMNS)
                     + " |")
    return "\n".join(lines) + "\n"


def stage_table(reports: dict[str, dict[str, Any]], degradation: str = "clean") -> str:
    """Markdown: one row per stage (overall metrics on ``degradation``), the eval columns."""
    return _metrics_table("Model", [
        (stage, report["degradations"][degradation]["overall"])
        for stage, report in reports.items()
    ])


def _degradation_table(report: dict[str, Any]) -> str:
    return _metrics_table("Degradation", [
        (name, block["overall"]) for name, block in report["degradations"].items()
    ])


def _per_source_table(report: dict[str, Any]) -> str:
    return _metrics_table("Source", list(report["degradations"]["clean"]["per_source"].items()))


def _counts_lines(report: dict[str, Any]) -> str:
    """Under the per-source table: where the final model's boxes fall, and how often its final
    verdict follows none of its own findings (what the app flags); '' when neither applies."""
    from trainer.evaluate import artifact_line, findings_line

    overall = report["degradations"]["clean"]["overall"]
    lines = []
    if overall.get("ai_images"):
        lines.append(f"Boxes on the AI-generated test images: {artifact_line(overall)}.")
    if overall.get("findings_compared"):
        lines.append(f"Query 2's findings: {findings_line(overall)} (the app flags those).")
    return "".join(f"\n{line}\n" for line in lines)


MODEL_CARD = """\
---
library_name: transformers
pipeline_tag: image-text-to-text
tags: [demo, synthetic-task, lte-inspector, not-a-detector]
---
# LTE Inspector demo checkpoint — NOT a detector of AI-generated images

**What it is.** A very small vision-language model ({params:,} parameters) with the Qwen2.5-VL
architecture, trained **from scratch on a CPU** by `lte-train demo` so that a new user can watch
the whole Locate-Then-Examine flow (initial verdict with boxes, close-ups, corrected verdict) on a
laptop. It answers in the app's exact protocol.

**What it learnt.** A synthetic task only: crops of the photographs that scikit-image ships, with
artifacts planted in known boxes (upsampling checkerboards, cloned patches, smeared text, broken
repetition) for the "ai-generated" class; untouched crops with boxes on fine detail for "real".

**What it is not.** It has never seen an image made by a generative model. Its verdicts on real
evidence mean nothing: do not use it on evidence, in a report, or to decide anything. The app
labels it DEMO wherever it appears (window, CLI, PDF reports).

## How it was made

```
{command}
```

- Data: {train_count} training images (seed {train_seed}), {test_count} held-out test images
  made with a different seed ({test_seed}), {size}x{size} PNG{fine}, half real, half with
  artifacts.
  The recipe uses seeds {train_seed}, {test_seed}{examine_seed} (data) and {model_seed}
  (weights) and no other: a test set made with any other seed (`lte-train synth --seed N`) is fresh.
- Model: Qwen2.5-VL architecture, "{arch}" size (trainer/tiny.py), random init (seed
  {model_seed}), byte-level BPE vocabulary built offline; images seen at up to
  {max_pixels} pixels.
- Vision warm-up (the pre-training a real vision encoder has, `trainer/warmup.py`): the vision
  tower and projector with temporary linear heads learn the label of {warm_set} and of
  their ground-truth close-ups{warm_cells}, {warm_epochs:g} epoch(s), lr {warm_lr:g},
  {warm_examples} images (the label head's accuracy afterwards {warm_acc:.2f}{warm_checked});
  then the whole model learns to answer a one-word question (real or ai-generated) about
  each, so the language model reads the image.
{locate}- SFT: full fine-tuning of the language model and projector (vision tower frozen after its
  warm-up), {sft_epochs:g} epoch(s), lr
  {sft_lr:g}, batch {sft_batch}: {sft_steps} steps, training loss {loss_first:.3f} →
  {loss_last:.3f}. In {flip:.0%} of the Query-2 training conversations the Query-1 answer in
  the context is that of an image of the other class (verdict, explanation, region labels), so
  Query 2 learns to judge from the close-ups rather than repeat its first impression.{where}
{grpo}{examine}- Training and evaluation time on this machine (2 CPU cores, no GPU): {minutes:.0f}
  minutes.

## Evaluation on the held-out test set (the app's own pipeline, `lte-train eval`)

{stage_table}
Acc: final verdict; I-Acc: Query-1 verdict; C-Acc: accuracy of the cases whose verdict Query 2
changed; C-Cases: share of verdicts changed by Query 2; IoU: mean over predicted boxes of the best
IoU with a ground-truth box; BLEU-2 / ROUGE-L of the final explanation. Chance accuracy is 0.5.

Final checkpoint per source (clean):

{per_source}{counts}
{degraded}
{ablations}"""


def _recipe_minutes(out: Path) -> float:
    """Compute time of the recipe from what each step recorded (so a rerun reports the same)."""
    seconds = 0.0
    for info in (out / step / "training_info.json"
                 for step in ("warmup", "locate", "locate-query1", "sft", "grpo", "examine",
                              "findings")):
        if info.is_file():
            seconds += float(json.loads(info.read_text("utf-8")).get("seconds", 0))
    for looks in out.glob("*impressions-info.json"):  # the examine and findings steps' first looks
        seconds += float(json.loads(looks.read_text("utf-8")).get("seconds", 0))
    for report in out.glob("eval-*.json"):
        seconds += float(json.loads(report.read_text("utf-8")).get("seconds_total", 0))
    return seconds / 60


def _locate_line(locate_dir: Path, settings: DemoSettings) -> str:
    """The model card's bullet on the locate warm-up ('' when the recipe skipped it)."""
    info_path = locate_dir / "training_info.json"
    if not settings.locate_where_steps or not info_path.is_file():
        return ""
    info = json.loads(info_path.read_text(encoding="utf-8"))
    hit = info.get("mark_hit_rate")
    marked = f" (top marked cell inside an artifact on {hit:.0%} of AI training images)" \
        if hit is not None else ""
    attend = info.get("where_attend_losses") or [float("nan")]
    question = ("the app's Query 1 with its whole answer (verdict, boxes, explanation)"
                if settings.locate_where_prompt == "query1"
                else "\"where?\" with the boxes only")
    return (
        f"- Locate warm-up (`trainer/locate_warmup.py`) on {info.get('examples', '?')} "
        f"images: the tower marks artifact cells, {settings.locate_mark_epochs:g} "
        f"epoch(s){marked}; then the language model answers {question}, "
        f"{settings.locate_where_steps} steps, lr "
        f"{settings.locate_learning_rate:g}, while head 0 of its layer "
        f"{DEMO_POINTER_LOSSES.attend_layer + 1} learns to attend "
        f"from the box's tokens to the image tokens inside the box (attention mass there "
        f"{math.exp(-attend[-1]):.2f} at the end) and to carry their place (decision 0004)."
        + (f" Then {settings.locate_query1_steps} steps of the app's Query 1 with its whole "
           "answer on the same images, the same pointer losses on its boxes (E53)."
           if settings.locate_query1_steps else "")
        + "\n"
    )


def _sft_settings(settings: DemoSettings, model: Path, train: Path, output_dir: Path,
                  epochs: float, learning_rate: float, warmup_steps: int, box_grid: int,
                  impressions: Path | None = None):
    """The recipe's full fine-tuning (language model and projector, tower frozen); after the
    locate step with its pointer losses on the Query-1 rows."""
    from trainer.sft import SFTSettings

    return SFTSettings(
        model=model, train=train, output_dir=output_dir, method="full",
        train_vision=False, train_projector=True, epochs=epochs, learning_rate=learning_rate,
        batch_size=settings.sft_batch_size, warmup_steps=warmup_steps, logging_steps=20,
        save_steps=100, resume=True, seed=settings.model_seed, flip_rate=settings.flip_rate,
        decoy_rate=settings.decoy_rate, decisive_weight=settings.decisive_weight,
        box_grid=box_grid, impressions=impressions,
        where_rows=settings.rehearses_where,
        pointer_losses=DEMO_POINTER_LOSSES if settings.locate_where_steps else PointerLosses(),
    )


def _examine_step(out: Path, start: Path, settings: DemoSettings, box_grid: int) -> Path:
    """Fresh images, the model's own first impressions of them, then SFT with Query 2 built on
    those impressions (decision 0004, E15); returns the trained model's folder."""
    from trainer.sft import run_sft

    records = _fresh_images(out, "examine", settings.examine_count, settings.examine_seed,
                            settings)
    impressions = _first_looks(
        out, start, settings, records, "impressions",
        f"[examine] first impressions of the {settings.first_look_model} model on "
        f"{settings.examine_count} fresh images "
        "(Query 1, the app's pipeline) ...")
    examine_dir = out / "examine"
    if not (examine_dir / "training_info.json").is_file():
        _say("[examine] SFT on both queries, " + (
            "Query 1 on the model's own first impressions, Query 2 on the ground truth ..."
            if settings.examine_truth_contexts
            else "Query 2 on the model's own first impressions ..."))
        step = _sft_settings(settings, start, records, examine_dir, settings.examine_epochs,
                             settings.examine_learning_rate, 20, box_grid,
                             impressions=impressions)
        in_own_process(run_sft, replace(step, own_first_look=settings.examine_holds_first_look,
                                        truth_contexts=settings.examine_truth_contexts),
                       print_fn=_say)
    return examine_dir


def _fresh_images(out: Path, step: str, count: int, seed: int, settings: DemoSettings) -> Path:
    """``out/data/<step>/records.jsonl``: ``count`` synthetic images of that step's own seed."""
    from trainer.synth import generate

    records = out / "data" / step / "records.jsonl"
    if not records.is_file():
        _say(f"[data] generating {count} images for the {step} step (seed {seed}) ...")
        generate(records.parent, count, seed, size=settings.image_size,
                 fine=settings.fine_artifacts)
    return records


def _first_looks(out: Path, model: Path, settings: DemoSettings, records: Path,
                 name: str, what: str) -> Path:
    """``out/<name>.jsonl``: the model's own Query-1 answers to ``records`` (the app's pipeline),
    with ``<name>-info.json`` saying how many and how often their verdict was right."""
    import time

    from inspector.core.protocol import parse_locate
    from trainer.impressions import generate_impressions
    from trainer.records import read_records

    answers_path = out / f"{name}.jsonl"
    info = out / f"{name}-info.json"
    if not info.is_file():
        _say(what)
        t0 = time.perf_counter()
        answers = generate_impressions(_open_for_eval(model, settings), records, answers_path,
                                       on_progress=lambda i, n: _say(f"    [{i}/{n}]")
                                       if i % max(1, n // 10) == 0 else None,
                                       batch_size=settings.eval_batch_size)
        right = sum(parse_locate(answers[r.sha256]).verdict == r.label
                    for r in read_records(records))
        info.write_text(json.dumps({
            "seconds": time.perf_counter() - t0, "count": len(answers),
            "initial_accuracy": right / max(1, len(answers)),
        }) + "\n", encoding="utf-8")
    return answers_path


def _grpo_finished(folder: Path) -> bool:
    """``run_grpo`` finished there: its top-level ``training_info.json`` lists the parts (each
    part's own info is written in its subfolder as it ends)."""
    info = folder / "training_info.json"
    return info.is_file() and "parts" in json.loads(info.read_text("utf-8"))


def _findings_step(out: Path, start: Path, settings: DemoSettings, box_grid: int) -> Path:
    """Fresh images, the model's own first looks at them, then GRPO segment 2 on those looks
    rewarded by the verdict and the findings, holding Query 1 (decision 0004, E37); returns the
    trained model's folder."""
    from trainer.grpo import GRPOSettings, run_grpo

    records = _fresh_images(out, "findings", settings.findings_count, settings.findings_seed,
                            settings)
    looks = _first_looks(
        out, start, settings, records, "findings-impressions",
        f"[findings] first looks of the examined model at {settings.findings_count} fresh "
        "images ...")
    findings_dir = out / "findings"
    if not _grpo_finished(findings_dir):
        _say("[findings] GRPO segment 2 on those first looks: verdict and findings rewarded, "
             f"{settings.findings_hold:.0%} of the prompts Query 1's, held by segment 1's "
             "rewards ...")
        locate_weights = {"format": 1.0, "iou": 1.0}
        if settings.findings_hold_verdict:
            locate_weights["verdict"] = settings.findings_hold_verdict
        in_own_process(run_grpo, GRPOSettings(
            model=start, train=records, output_dir=findings_dir, method="full",
            train_vision=False, train_projector=True, segments="examine",
            steps_examine=settings.findings_steps,
            learning_rate=settings.findings_learning_rate,
            max_completion_length=settings.grpo_max_completion_length,
            logging_steps=20, save_steps=100, resume=True, seed=settings.model_seed,
            flip_rate=settings.flip_rate, box_grid=box_grid, impressions=looks,
            locate_weights=locate_weights,
            examine_weights={"verdict": 1.0, "findings": settings.findings_weight},
            hold_first_look=settings.findings_hold,
        ), print_fn=_say)
    return findings_dir


def _without_grpo(settings: DemoSettings) -> str:
    """What follows SFT when GRPO is skipped."""
    return ("the examine step starts from the SFT model" if settings.examine_count
            else "the SFT model is the final one")


def _grpo_line(settings: DemoSettings) -> str:
    """The model card's bullet on the GRPO step."""
    if not settings.runs_grpo:
        return f"- GRPO: skipped (`--grpo-steps 0 0`); {_without_grpo(settings)}.\n"
    return (
        f"- GRPO: segment 1 (Query 1: format + IoU) {settings.grpo_steps_locate} steps, segment 2 "
        f"(Query 2: verdict +\n  BLEU-2) {settings.grpo_steps_examine} steps, lr "
        f"{settings.grpo_learning_rate:g}, 4 completions per prompt, vision tower frozen.\n"
    )


def _examine_line(out: Path, settings: DemoSettings) -> str:
    """The model card's bullet on the examine step ('' when the recipe skipped it)."""
    info_path = out / "impressions-info.json"
    if not settings.examine_count or not info_path.is_file():
        return ""
    info = json.loads(info_path.read_text(encoding="utf-8"))
    return (
        f"- Examine step (`trainer/impressions.py`): the {settings.first_look_model} model's "
        "own Query-1 answers to "
        f"{info['count']} fresh images (seed {settings.examine_seed}; its initial verdict right "
        f"on {info['initial_accuracy']:.0%} of them), then SFT on both queries"
        + (" (Query 1 on those answers themselves, so that it stays as "
           f"{settings.first_look_model} left it)"
           if settings.examine_holds_first_look else "")
        + f", {settings.examine_epochs:g} epoch(s), lr {settings.examine_learning_rate:g}, with "
        + ("each Query 2 built on the ground truth, some of its boxes moved where the close-up "
           "shows nothing, so that a finding can be told only from its close-up"
           if settings.examine_truth_contexts else
           "each Query 2 built on that answer and on close-ups of its boxes — what the app shows "
           "Query 2")
        + " — its findings saying what each close-up really holds.\n"
    )


def _findings_line(out: Path, settings: DemoSettings) -> str:
    """The model card's bullet on the findings step ('' when the recipe skipped it)."""
    info_path = out / "findings-impressions-info.json"
    if not settings.findings_steps or not info_path.is_file():
        return ""
    info = json.loads(info_path.read_text(encoding="utf-8"))
    held = "format + IoU" + (f" + verdict x{settings.findings_hold_verdict:g}"
                             if settings.findings_hold_verdict else "")
    return (
        f"- Findings step (GRPO segment 2, `trainer/grpo.py`): the examined model's own Query-1 "
        f"answers to {info['count']} fresh images (seed {settings.findings_seed}; initial verdict "
        f"right on {info['initial_accuracy']:.0%}) as Query 2's contexts, "
        f"{settings.findings_steps} steps, lr {settings.findings_learning_rate:g}, rewards "
        f"verdict x1 + findings x{settings.findings_weight:g} (each close-up's finding pointing "
        f"where that close-up really does); {settings.findings_hold:.0%} of the prompts are "
        f"Query 1's, scored by {held}, so that the first look holds.\n"
    )


def _checked_line(warm: dict[str, Any]) -> str:
    """The card's words on how many warm-up examples its accuracy was checked on ('' for all, or
    for a warm-up made before the check took a sample and said so)."""
    checked = warm.get("accuracy_examples")
    return f" on {checked} of them" if checked and checked < warm.get("examples", 0) else ""


def _params(model_dir: Path) -> int:
    from trainer.tiny import parameter_count

    return parameter_count(model_dir)


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 1e6


def _write_model(final: Path, model_dir: Path, card: str) -> None:
    """Copy the loadable files of the final model, then the card and the DEMO marker."""
    tmp = model_dir.with_name(model_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for path in final.iterdir():
        wanted = path.suffix in (".json", ".jinja", ".safetensors", ".txt")
        if path.is_file() and wanted and path.name != "training_info.json":
            shutil.copy2(path, tmp / path.name)
    (tmp / "README.md").write_text(card, encoding="utf-8")
    (tmp / DEMO_MARKER).write_text(
        "This is the LTE Inspector demo checkpoint: a synthetic-task model, not a detector.\n",
        encoding="utf-8",
    )
    shutil.rmtree(model_dir, ignore_errors=True)
    tmp.rename(model_dir)


def run_demo(settings: DemoSettings, command: str = "lte-train demo") -> Path:
    """Run every step; returns the finished model folder (``out_dir/model``)."""
    from trainer.grpo import GRPOSettings, run_grpo
    from trainer.locate_warmup import GRID, LocateWarmupSettings, run_locate_warmup
    from trainer.sft import run_sft
    from trainer.synth import generate
    from trainer.tiny import SIZES, build_tiny_model
    from trainer.warmup import WarmupSettings, run_warmup

    out = Path(settings.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data"
    train, test = data / "train" / "records.jsonl", data / "test" / "records.jsonl"
    warm_train = data / "warmup" / "records.jsonl" if settings.warmup_count else train
    sets = [("training", train, settings.train_count, settings.train_seed),
            ("test", test, settings.test_count, settings.test_seed)]
    if settings.warmup_count:
        sets.append(("warm-up", warm_train, settings.warmup_count, settings.train_seed))
    for name, path, count, seed in sets:
        if path.is_file():
            _say(f"[data] {name} set exists: {path}")
        else:
            _say(f"[data] generating {count} {name} images (seed {seed}) ...")
            generate(path.parent, count, seed, size=settings.image_size,
                     fine=settings.fine_artifacts)

    init = out / "init"
    if not (init / "config.json").is_file():
        _say(f"[init] a {settings.size} Qwen2.5-VL with random weights (seed "
             f"{settings.model_seed}) -> {init}")
        build_tiny_model(init, seed=settings.model_seed, size=settings.size,
                         rope_theta=settings.rope_theta,
                         mrope_section=settings.mrope_section)

    reports: dict[str, dict[str, Any]] = {}
    _say("[eval] before training ...")
    reports[STAGES[0]] = _eval(init, test, out / "eval-init.json", settings,
                               limit=settings.init_eval_limit)

    warm_dir = out / "warmup"
    warm_info = warm_dir / "training_info.json"
    if not warm_info.is_file():
        _say("[warmup] the vision tower learns to see the task (training images and close-ups)")
        in_own_process(run_warmup, WarmupSettings(
            model=init, train=warm_train, output_dir=warm_dir, epochs=settings.warmup_epochs,
            learning_rate=settings.warmup_learning_rate, seed=settings.model_seed,
            read_steps=settings.warmup_read_steps,
            cells=settings.warmup_cells,
        ), print_fn=_say)
    warm = json.loads(warm_info.read_text(encoding="utf-8"))

    sft_start = warm_dir
    locate_train = warm_train if settings.locate_images == "warm-up" else train
    if settings.locate_where_steps:
        sft_start = out / "locate"
        locate = LocateWarmupSettings(
            model=warm_dir, train=locate_train, output_dir=sft_start,
            mark_epochs=settings.locate_mark_epochs, where_steps=settings.locate_where_steps,
            where_learning_rate=settings.locate_learning_rate,
            where_prompt=settings.locate_where_prompt,
            pointer=DEMO_POINTER_LOSSES, seed=settings.model_seed,
        )
        if not (sft_start / "training_info.json").is_file():
            _say("[locate] the tower marks the artifacts; the language model learns to point "
                 "at them and write their boxes")
            in_own_process(run_locate_warmup, locate, print_fn=_say)
        if settings.locate_query1_steps:
            # the same step again from its own model: no mark phase, Query 1's rows
            query1 = replace(locate, model=sft_start, output_dir=out / "locate-query1",
                             mark_epochs=0, where_steps=settings.locate_query1_steps,
                             where_prompt="query1")
            sft_start = query1.output_dir
            if not (sft_start / "training_info.json").is_file():
                _say("[locate] ... then Query 1 with its whole answer, the boxes where Query 1 "
                     "writes them")
                in_own_process(run_locate_warmup, query1, print_fn=_say)

    # after the locate step, Query 1's boxes are written as its where answers were: snapped to
    # the merged-token grid, in reading order (decision 0004, E14)
    box_grid = GRID if settings.locate_where_steps else 0
    sft_dir = out / "sft"
    sft_info = sft_dir / "training_info.json"
    if not sft_info.is_file():
        _say("[sft] full fine-tuning of the language model and projector ...")
        in_own_process(run_sft, _sft_settings(settings, sft_start, train, sft_dir,
                                              settings.sft_epochs, settings.sft_learning_rate,
                                              30, box_grid), print_fn=_say)
    sft = json.loads(sft_info.read_text(encoding="utf-8"))
    _say("[eval] after SFT ...")
    reports[STAGES[1]] = _eval(sft_dir, test, out / "eval-sft.json", settings)

    final = sft_dir
    if settings.runs_grpo:
        final = out / "grpo"
        if not _grpo_finished(final):
            _say("[grpo] segment 1 (locate) then segment 2 (examine) ...")
            in_own_process(run_grpo, GRPOSettings(
                model=sft_dir, train=train, output_dir=final, method="full",
                train_vision=False, train_projector=True,
                steps_locate=settings.grpo_steps_locate,
                steps_examine=settings.grpo_steps_examine,
                learning_rate=settings.grpo_learning_rate,
                max_completion_length=settings.grpo_max_completion_length,
                logging_steps=10, save_steps=20, resume=True, seed=settings.model_seed,
                flip_rate=settings.flip_rate, box_grid=box_grid,
            ), print_fn=_say)
        _say("[eval] after GRPO ...")
        reports[STAGES[2]] = _eval(final, test, out / "eval-grpo.json", settings)
    else:
        _say(f"[grpo] skipped (--grpo-steps 0 0): {_without_grpo(settings)}")

    if settings.examine_count:
        final = _examine_step(out, final, settings, box_grid)
        _say("[eval] after the examine step ...")
        reports[STAGES[3]] = _eval(final, test, out / "eval-examine.json", settings)
    if settings.findings_steps:
        final = _findings_step(out, final, settings, box_grid)
        _say("[eval] after the findings step ...")
        reports[STAGES[4]] = _eval(final, test, out / "eval-findings.json", settings)
    final_report = reports[list(reports)[-1]]  # the final model, clean, located close-ups
    degraded = ""
    if settings.final_degradations:
        _say(f"[eval] final model under degradations: {', '.join(settings.final_degradations)}")
        deg = _eval(final, test, out / f"eval-{final.name}-degraded.json", settings,
                    degradations=("clean", *settings.final_degradations),
                    limit=settings.degradation_limit)
        n = deg["degradations"]["clean"]["overall"]["n"]
        degraded = (f"Final checkpoint under the papers' degradations (JPEG 80 / 30, random "
                    f"crop, 0.5x downsample), first {n} test images:\n\n"
                    + _degradation_table(deg))

    ablations = ""
    if settings.ablations:
        from trainer.evaluate import ablation_table

        _say("[eval] final model: located vs random vs no close-ups ...")
        ablations = (
            "## Close-up ablations on the held-out test set (`lte-train eval --ablations`)\n\n"
            + ablation_table(_eval_ablations(final, test, out / f"eval-{final.name}-ablations.json",
                                             settings, final_report)) + "\n"
        )
    table = stage_table(reports)
    losses = sft.get("losses") or [float("nan")]
    here = "here and in the examine step" if settings.examine_count else "here"
    card = MODEL_CARD.format(
        params=_params(final), command=command, train_count=settings.train_count,
        train_seed=settings.train_seed, test_count=settings.test_count,
        test_seed=settings.test_seed, size=settings.image_size, arch=settings.size,
        fine=(" with artifacts at their 224-px feature size (`--fine-artifacts`: the finest are "
              "lost in the model's view, shown by close-ups)" if settings.fine_artifacts else ""),
        model_seed=settings.model_seed, max_pixels=SIZES[settings.size]["max_pixels"],
        warm_epochs=settings.warmup_epochs, warm_lr=settings.warmup_learning_rate,
        warm_cells=(", and on the whole images which cells the regions and artifacts cover"
                    if settings.warmup_cells else ""),
        warm_set=(f"{settings.warmup_count} images of their own (seed {settings.train_seed})"
                  if settings.warmup_count else "the training images"),
        warm_examples=warm.get("examples"), warm_acc=float(warm.get("train_accuracy", 0)),
        warm_checked=_checked_line(warm),
        sft_epochs=settings.sft_epochs, sft_lr=settings.sft_learning_rate,
        sft_batch=settings.sft_batch_size, sft_steps=sft.get("steps"),
        loss_first=losses[0], loss_last=losses[-1], grpo=_grpo_line(settings),
        minutes=_recipe_minutes(out), stage_table=table,
        flip=settings.flip_rate, locate=_locate_line(out / "locate", settings),
        where=(" Each record also gives the locate warm-up's where? question (boxes only), "
               f"{here}, so Query 1 keeps writing the boxes the pointer reads."
               if settings.rehearses_where else "")
        + (f" The tokens that carry Query 2's decisions (each finding's first word and "
           f"points_to, the verdict) add {settings.decisive_weight:g} x their mean loss, "
           f"{here}." if settings.decisive_weight else ""),
        examine=_examine_line(out, settings) + _findings_line(out, settings),
        examine_seed=(f", {settings.examine_seed}" if settings.examine_count else "")
        + (f", {settings.findings_seed}" if settings.findings_steps else ""),
        per_source=_per_source_table(final_report), counts=_counts_lines(final_report),
        degraded=degraded,
        ablations=ablations,
    )
    model_dir = out / "model"
    _write_model(final, model_dir, card)
    (out / "demo-settings.json").write_text(
        json.dumps(asdict(settings), indent=2, default=str) + "\n", encoding="utf-8"
    )
    size_mb = _folder_mb(model_dir)
    _say(f"[model] {model_dir} ({size_mb:.1f} MB)")
    if size_mb > MAX_CHECKPOINT_MB:
        _say(f"  warning: larger than {MAX_CHECKPOINT_MB} MB, too large to bundle")
    if settings.install is not None:
        target = Path(settings.install)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(model_dir, target)
        _say(f"[install] copied to {target}")
    _say("\n" + table)
    return model_dir


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``demo`` subcommand to lte-train's subparsers."""
    d = DemoSettings(out_dir=Path("."))
    p = subparsers.add_parser(
        "demo",
        help="train the demo checkpoint from scratch on the synthetic task (CPU, about 1 hour)",
        description="Make the bundled demo checkpoint from nothing, on a CPU: generate the "
        "synthetic training set and a held-out test set (different seed), build a small "
        "Qwen2.5-VL-architecture model with random weights, evaluate it with the app's "
        "pipeline, fine-tune it (SFT), evaluate, run two-segment GRPO, evaluate again, and "
        "write OUT_DIR/model with a model card holding the three evaluation tables and a DEMO "
        "marker. Each training step runs in a process of its own (its memory is freed when it "
        "ends); every finished step is kept: rerun the same command after an interruption to "
        "continue. The result is a demo of the flow, NOT a detector.",
    )
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="work folder (created)")
    p.add_argument("--train-count", type=int, default=d.train_count, metavar="N",
                   help=f"training images (default {d.train_count})")
    p.add_argument("--test-count", type=int, default=d.test_count, metavar="N",
                   help=f"held-out test images (default {d.test_count})")
    p.add_argument("--train-seed", type=int, default=d.train_seed, metavar="N")
    p.add_argument("--test-seed", type=int, default=d.test_seed, metavar="N",
                   help="seed of the test set; keep it different from --train-seed")
    p.add_argument("--model-seed", type=int, default=d.model_seed, metavar="N",
                   help="seed of the random weights and of every training step (default "
                   f"{d.model_seed}); one run of the recipe is one draw, and draws differ by "
                   "5-10 points of accuracy (decision 0004, E26, E43): compare recipes over "
                   "several")
    p.add_argument("--size", choices=["tiny", "demo"], default=d.size,
                   help="model size (default demo; tiny for a quick trial)")
    p.add_argument("--image-size", type=int, default=d.image_size, metavar="PX",
                   help=f"side of the synthetic images (default {d.image_size})")
    p.add_argument("--fine-artifacts", action=argparse.BooleanOptionalAction,
                   default=d.fine_artifacts,
                   help="artifacts keep their 224-px feature size in larger images: with "
                   "--image-size 448 the finest are lost in the model's 224-px view and shown "
                   "by the close-ups (lte-train synth --fine-artifacts; decision 0004, E21; on "
                   "by default since E67; --image-size 224 --no-fine-artifacts is E62's task)")
    p.add_argument("--warmup-epochs", type=float, default=d.warmup_epochs, metavar="N",
                   help=f"vision warm-up passes (default {d.warmup_epochs:g})")
    p.add_argument("--warmup-count", type=int, default=d.warmup_count, metavar="N",
                   help="vision warm-up on its own N images, made with the training seed (default "
                   f"{d.warmup_count}; 0: on the training set; decision 0004, E24)")
    p.add_argument("--read-steps", type=int, default=d.warmup_read_steps, metavar="N",
                   help="steps of the warm-up's second phase, where the language model learns to "
                   f"read the image (default {d.warmup_read_steps}; 0 skips it)")
    p.add_argument("--warmup-cells", action=argparse.BooleanOptionalAction,
                   default=d.warmup_cells,
                   help="the warm-up's first phase also learns, per image token, which cells the "
                   "regions and planted artifacts cover (a better tower; decision 0004, E17; on "
                   "by default)")
    p.add_argument("--rope-theta", type=float, default=d.rope_theta, metavar="X",
                   help=f"rotary base of the language model (default {d.rope_theta:g}; Qwen's is "
                   "1e6; about 100 lets "
                   "the demo's attention tell image columns apart, decision 0004)")
    p.add_argument("--mrope-section", type=_mrope_section_arg, default=d.mrope_section,
                   metavar="PARTS",
                   help="M-RoPE's temporal/height/width parts of the rotary frequencies, e.g. "
                   "4,6,6 (Qwen's) or 'interleaved' (the default: t, h, w in turn, one each: "
                   "width gets high frequencies too; decision 0004, E14)")
    p.add_argument("--mark-epochs", type=float, default=d.locate_mark_epochs, metavar="N",
                   help="locate warm-up: passes in which the tower learns to mark artifact cells "
                   f"(default {d.locate_mark_epochs:g})")
    p.add_argument("--locate-images", choices=LOCATE_IMAGES, default=d.locate_images,
                   help="the images the locate warm-up learns on: the training set's or the "
                   f"vision warm-up's (--warmup-count of them; default {d.locate_images}; "
                   "decision 0004, E52)")
    p.add_argument("--where-steps", type=int, default=d.locate_where_steps, metavar="N",
                   help="locate warm-up: steps in which the language model learns to point at "
                   f"and write the boxes (default {d.locate_where_steps}; 0: no locate warm-up; "
                   "1200 with --rope-theta "
                   "100 is decision 0004's E13 run)")
    p.add_argument("--where-prompt", choices=WHERE_PROMPTS, default=d.locate_where_prompt,
                   help="locate warm-up: the question of its second phase, \"where?\" answered "
                   "with the boxes only, or the app's Query 1 answered whole (default "
                   f"{d.locate_where_prompt}; decision 0004, E54)")
    p.add_argument("--query1-steps", type=int, default=d.locate_query1_steps, metavar="N",
                   help="after the locate warm-up, N steps of the app's Query 1 with its whole "
                   "answer on the same images, the pointer losses on its boxes (default "
                   f"{d.locate_query1_steps}; 800 after --where-steps 2400 is decision 0004's "
                   "E53)")
    p.add_argument("--sft-epochs", type=float, default=d.sft_epochs, metavar="N")
    p.add_argument("--sft-learning-rate", type=float, default=d.sft_learning_rate, metavar="LR",
                   help=f"SFT's learning rate (default {d.sft_learning_rate:g}; 3e-4 after the "
                   "Query-1 phase kept its boxes where 1e-3 undid them: decision 0004, E60)")
    p.add_argument("--sft-where-rows", action=argparse.BooleanOptionalAction,
                   default=d.sft_where_rows,
                   help="SFT also rehearses the locate warm-up's where? answer (boxes only), one "
                   "row per record, so that Query 1 keeps writing the boxes the pointer reads; "
                   "only after --where-prompt where "
                   f"(decision 0004, E26; default {'on' if d.sft_where_rows else 'off'})")
    p.add_argument("--flip-rate", type=float, default=d.flip_rate, metavar="F",
                   help="SFT: share of Query-2 contexts whose first impression is another "
                   "class's answer, so that Query 2 learns to correct it from the close-ups "
                   f"(default {d.flip_rate:g}; decision 0004, E64)")
    p.add_argument("--decoy-rate", type=float, default=d.decoy_rate, metavar="F",
                   help="SFT: share of the boxes in Query-2 contexts moved where their close-ups "
                   "show nothing, the findings saying what each close-up holds (default "
                   f"{d.decoy_rate:g}; decision 0004, E28)")
    p.add_argument("--decisive-weight", type=float, default=d.decisive_weight, metavar="W",
                   help="SFT and the examine step: add W x the mean loss of the tokens that "
                   "carry Query 2's decisions (each finding's first word and points_to, the "
                   f"verdict) (default {d.decisive_weight:g}: off; decision 0004, E31)")
    p.add_argument("--grpo-steps", type=int, nargs=2, metavar=("LOCATE", "EXAMINE"),
                   default=(d.grpo_steps_locate, d.grpo_steps_examine),
                   help="GRPO steps of segment 1 and segment 2 (default "
                   f"{d.grpo_steps_locate} {d.grpo_steps_examine}; 0 0 skips GRPO and the "
                   "examine step starts from the SFT model)")
    p.add_argument("--examine-count", type=int, default=d.examine_count, metavar="N",
                   help="after GRPO, the examine step on N fresh images: the model's own first "
                   f"impressions, then SFT with Query 2 built on them (default {d.examine_count}: "
                   "skipped, since E49 it made the second look lean to one class; 560 is E49's, "
                   "800 E15's to E48's, decision 0004)")
    p.add_argument("--examine-own-first-look", action=argparse.BooleanOptionalAction,
                   default=d.examine_own_first_look,
                   help="the examine step's Query-1 rows take the GRPO model's own answers as "
                   "targets, so that Query 1 stays as GRPO left it while Query 2 learns from "
                   "those answers (decision 0004, E27; default "
                   f"{'on' if d.examine_own_first_look else 'off'})")
    p.add_argument("--examine-truth-contexts", action=argparse.BooleanOptionalAction,
                   default=d.examine_truth_contexts,
                   help="the examine step's Query-2 rows stay on the ground truth (with "
                   "--decoy-rate) while its Query-1 rows hold the GRPO model's own answers: the "
                   "step teaches Query 2 to read its close-ups without moving the first look "
                   "(implies --examine-own-first-look; decision 0004, E33; default "
                   f"{'on' if d.examine_truth_contexts else 'off'})")
    p.add_argument("--findings-steps", type=int, default=d.findings_steps, metavar="N",
                   help="after the examine step, N steps of GRPO segment 2 on the model's own "
                   f"first looks at {d.findings_count} fresh images (seed {d.findings_seed}), "
                   f"rewarded by the verdict and the findings (x{d.findings_weight:g}), "
                   f"{d.findings_hold * 100:.0f}%% of the prompts Query 1's held by format and IoU "
                   "(and the verdict, with --findings-hold-verdict) "
                   f"(default {d.findings_steps}: skipped; 600 is decision 0004's E37)")
    p.add_argument("--findings-learning-rate", type=float, default=d.findings_learning_rate,
                   metavar="LR", help="learning rate of the findings step (default "
                   f"{d.findings_learning_rate:g})")
    p.add_argument("--findings-count", type=int, default=d.findings_count, metavar="N",
                   help=f"fresh images of the findings step (default {d.findings_count})")
    p.add_argument("--findings-hold-verdict", type=float, default=d.findings_hold_verdict,
                   metavar="W", help="the findings step also rewards the held Query 1's verdict "
                   f"x W (default {d.findings_hold_verdict:g}: off)")
    p.add_argument("--eval-max-new-tokens", type=int, default=d.eval_max_new_tokens,
                   metavar="N", help="token limit of each answer during evaluation")
    p.add_argument("--no-degradations", action="store_true",
                   help="skip evaluating the final model under JPEG/crop/downsample")
    p.add_argument("--no-ablations", action="store_true",
                   help="skip the final model's close-up ablations (located vs random vs none)")
    p.add_argument("--install", action="store_true",
                   help=f"copy the result to {REPO_DEMO_MODEL} (the checkpoint the app uses "
                   "when no model is configured)")
    p.set_defaults(func=_cmd_demo)
    return p


def _mrope_section_arg(text: str) -> tuple[int, ...]:
    from trainer.tiny import INTERLEAVED_MROPE_SECTION

    if text == "interleaved":
        return INTERLEAVED_MROPE_SECTION
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected 'interleaved' or comma-separated integers, got {text!r}") from None


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.train_seed == args.test_seed:
        print("lte-train demo: error: --test-seed must differ from --train-seed (the test "
              "set must be held out)", file=sys.stderr)
        return 2
    if min(args.grpo_steps) < 0:
        print("lte-train demo: error: --grpo-steps must be 0 or more (0 0 skips GRPO)",
              file=sys.stderr)
        return 2
    if args.examine_count < 0:
        print("lte-train demo: error: --examine-count must be 0 (skip the examine step) or more",
              file=sys.stderr)
        return 2
    for flag, value in (("--flip-rate", args.flip_rate), ("--decoy-rate", args.decoy_rate)):
        if not 0.0 <= value <= 1.0:
            print(f"lte-train demo: error: {flag} must be between 0 and 1", file=sys.stderr)
            return 2
    if args.decisive_weight < 0:
        print("lte-train demo: error: --decisive-weight must be >= 0", file=sys.stderr)
        return 2
    if not args.sft_learning_rate > 0:
        print("lte-train demo: error: --sft-learning-rate must be > 0", file=sys.stderr)
        return 2
    if (args.findings_steps < 0 or args.findings_hold_verdict < 0 or args.findings_count < 1
            or not args.findings_learning_rate > 0):
        print("lte-train demo: error: --findings-steps and --findings-hold-verdict must be >= 0, "
              "--findings-count at least 1, --findings-learning-rate > 0", file=sys.stderr)
        return 2
    if args.model_seed < 0:
        print("lte-train demo: error: --model-seed must be 0 or more", file=sys.stderr)
        return 2
    if args.query1_steps < 0 or (args.query1_steps and not args.where_steps):
        print("lte-train demo: error: --query1-steps must be 0 or more, and needs the locate "
              "step it follows (--where-steps > 0)", file=sys.stderr)
        return 2
    if args.warmup_count < 0:
        print("lte-train demo: error: --warmup-count must be 0 (the warm-up on the training set) "
              "or more", file=sys.stderr)
        return 2
    for step, runs, seed in (("examine", args.examine_count, DemoSettings.examine_seed),
                             ("findings", args.findings_steps, DemoSettings.findings_seed)):
        if runs and seed in (args.train_seed, args.test_seed):
            print(f"lte-train demo: error: the {step} step makes its images with seed {seed}; "
                  "choose other --train-seed / --test-seed", file=sys.stderr)
            return 2
    settings = DemoSettings(
        out_dir=args.out_dir, train_count=args.train_count, test_count=args.test_count,
        train_seed=args.train_seed, test_seed=args.test_seed, model_seed=args.model_seed,
        size=args.size,
        image_size=args.image_size, fine_artifacts=args.fine_artifacts,
        rope_theta=args.rope_theta, mrope_section=args.mrope_section,
        warmup_epochs=args.warmup_epochs, warmup_count=args.warmup_count,
        warmup_read_steps=args.read_steps,
        warmup_cells=args.warmup_cells,
        locate_mark_epochs=args.mark_epochs, locate_where_steps=args.where_steps,
        locate_images=args.locate_images, locate_where_prompt=args.where_prompt,
        locate_query1_steps=args.query1_steps,
        sft_epochs=args.sft_epochs, sft_learning_rate=args.sft_learning_rate,
        sft_where_rows=args.sft_where_rows,
        flip_rate=args.flip_rate, decoy_rate=args.decoy_rate,
        decisive_weight=args.decisive_weight,
        grpo_steps_locate=args.grpo_steps[0],
        grpo_steps_examine=args.grpo_steps[1], eval_max_new_tokens=args.eval_max_new_tokens,
        examine_count=args.examine_count,
        examine_own_first_look=args.examine_own_first_look,
        examine_truth_contexts=args.examine_truth_contexts,
        findings_steps=args.findings_steps, findings_count=args.findings_count,
        findings_learning_rate=args.findings_learning_rate,
        findings_hold_verdict=args.findings_hold_verdict,
        final_degradations=() if args.no_degradations else DemoSettings.final_degradations,
        ablations=not args.no_ablations,
        install=REPO_DEMO_MODEL if args.install else None,
    )
    run_demo(settings, command=recipe_command(args))
    return 0


def recipe_command(args: argparse.Namespace) -> str:
    """The whole ``lte-train demo`` command of ``args``, every setting spelled out (the model
    card's "How it was made": it remakes the model whatever the defaults become)."""
    rope = f" --rope-theta {args.rope_theta:g}" if args.rope_theta else ""
    if args.mrope_section:
        rope += " --mrope-section " + ("interleaved" if args.mrope_section ==
                                       INTERLEAVED_MROPE_SECTION
                                       else ",".join(map(str, args.mrope_section)))
    return (
        f"lte-train demo {args.out_dir} --train-count {args.train_count} --test-count "
        f"{args.test_count} --train-seed {args.train_seed} --test-seed {args.test_seed} "
        f"--model-seed {args.model_seed} --size {args.size}"
        + f" --image-size {args.image_size}"
        + (" --fine-artifacts" if args.fine_artifacts else " --no-fine-artifacts")
        + f"{rope} --warmup-epochs {args.warmup_epochs:g}"
        + f" --warmup-count {args.warmup_count}"
        + f"{' --warmup-cells' if args.warmup_cells else ' --no-warmup-cells'} --read-steps "
        f"{args.read_steps} --mark-epochs {args.mark_epochs:g} --locate-images "
        f"{args.locate_images} --where-steps {args.where_steps} --where-prompt "
        f"{args.where_prompt} --query1-steps {args.query1_steps} --sft-epochs "
        f"{args.sft_epochs:g} --sft-learning-rate {args.sft_learning_rate:g}"
        + f"{' --sft-where-rows' if args.sft_where_rows else ' --no-sft-where-rows'}"
        + f" --flip-rate {args.flip_rate:g} --decoy-rate {args.decoy_rate:g}"
        + f" --decisive-weight {args.decisive_weight:g}"
        + " --grpo-steps "
        f"{args.grpo_steps[0]} {args.grpo_steps[1]}"
        + f" --examine-count {args.examine_count}"
        + (" --examine-own-first-look" if args.examine_own_first_look
           else " --no-examine-own-first-look")
        + (" --examine-truth-contexts" if args.examine_truth_contexts else "")
        + (f" --findings-steps {args.findings_steps} --findings-count {args.findings_count}"
           f" --findings-learning-rate {args.findings_learning_rate:g}"
           if args.findings_steps else "")
        + (f" --findings-hold-verdict {args.findings_hold_verdict:g}"
           if args.findings_hold_verdict else "")
    )
