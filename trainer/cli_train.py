"""`lte-train sft` and `lte-train grpo`: settings from --config TOML plus flags (flags win)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from trainer.grpo import IOU_KINDS, SCHEDULES, SEGMENTS, GRPOSettings
from trainer.modeling import METHODS
from trainer.rows import QUERIES
from trainer.sft import SFTSettings

__all__ = ["register"]


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _weights(text: str) -> dict[str, float]:
    """``format=1,iou=2`` → {"format": 1.0, "iou": 2.0}."""
    out: dict[str, float] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise argparse.ArgumentTypeError(f"expected NAME=WEIGHT[,NAME=WEIGHT...], got {text!r}")
    return out


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, metavar="FILE.toml",
                   help="TOML file with any of the settings below (keys = flag names with "
                   "underscores, e.g. learning_rate = 2e-5); flags override it")
    p.add_argument("--model", type=Path, metavar="DIR",
                   help="model folder to start from (a Qwen2.5-VL / Qwen3-VL checkpoint, or a "
                   "LoRA adapter folder, which is loaded over its base)")
    p.add_argument("--train", type=Path, metavar="TRAIN.jsonl", help="training records")
    p.add_argument("--output-dir", type=Path, metavar="DIR",
                   help="where checkpoints and the result go (the result loads in the app: "
                   "lte-inspect analyze IMAGES --model DIR)")
    p.add_argument("--method", choices=METHODS,
                   help="lora: train a PEFT LoRA adapter (default); full: all weights")
    p.add_argument("--quantization", choices=["none", "4bit"],
                   help="4bit: load the base in bitsandbytes nf4 and train LoRA on it (QLoRA)")
    p.add_argument("--train-vision", type=_bool, metavar="BOOL",
                   help="train the vision tower (true/false)")
    p.add_argument("--train-projector", type=_bool, metavar="BOOL",
                   help="train the vision-language projector (merger) (true/false)")
    p.add_argument("--lora-r", type=int, metavar="N", help="LoRA rank (default 16)")
    p.add_argument("--lora-alpha", type=int, metavar="N", help="LoRA alpha (default 32)")
    p.add_argument("--learning-rate", type=float, metavar="LR")
    p.add_argument("--grad-accum", type=int, metavar="N", help="gradient accumulation steps")
    p.add_argument("--seed", type=int, metavar="N")
    p.add_argument("--max-regions", type=int, metavar="N",
                   help="close-ups per Query-2 conversation (default 4, as the app)")
    p.add_argument("--instruction-variants", type=_bool, metavar="BOOL",
                   help="draw the Query-1 instruction from several phrasings (default true)")
    p.add_argument("--flip-rate", type=float, metavar="F",
                   help="share of Query-2 conversations whose Query-1 answer in the context has "
                   "the wrong verdict, so the model learns to correct its first impression from "
                   "the close-ups instead of copying it (default 0.25; 0 turns it off)")
    p.add_argument("--box-grid", type=int, metavar="PX",
                   help="write Query 1's ground-truth boxes snapped to this pixel grid and in "
                   "reading order (28 for Qwen2.5-VL's merged tokens; default 0: exact boxes in "
                   "the records' order)")
    p.add_argument("--impressions", type=Path, metavar="FILE",
                   help="a model's own Query-1 answers (lte-train impressions): the Query-2 "
                   "conversations of the records they cover put that answer in the context and "
                   "cut the close-ups from its boxes, as the app does")
    p.add_argument("--logging-steps", type=int, metavar="N")
    p.add_argument("--save-steps", type=int, metavar="N",
                   help="checkpoint every N steps (an interrupted run resumes from there)")
    p.add_argument("--resume", action="store_true", default=None,
                   help="continue from the last checkpoint in --output-dir")


def register(subparsers) -> None:
    """Add ``sft`` and ``grpo`` to lte-train's subparsers."""
    p = subparsers.add_parser(
        "sft",
        help="supervised fine-tuning on Query-1 and Query-2 conversations (TRL SFTTrainer)",
        description="Supervised fine-tuning, LTE's first stage: every training record becomes a "
        "Query-1 conversation (image -> explanation, ground-truth boxes, label) and a Query-2 "
        "conversation (the same, then the close-ups the app would cut for those boxes -> "
        "findings, explanation, tags, label), built with the app's own prompts, answer grammar "
        "and coordinate conversion. Loss on the answers only. LoRA or full fine-tuning; vision "
        "tower and projector trainable or frozen. Prints one line per logging step and a "
        "summary; checkpoints every --save-steps (use --resume after an interruption). Example: "
        "lte-train sft --model Qwen2.5-VL-7B-Instruct/ --train data/train.jsonl --output-dir "
        "runs/sft --method lora --epochs 2",
    )
    _common(p)
    p.add_argument("--val", type=Path, metavar="VAL.jsonl",
                   help="validation records (loss reported after each epoch)")
    p.add_argument("--queries", choices=QUERIES,
                   help="which conversations to train on (default both)")
    p.add_argument("--epochs", type=float, metavar="N")
    p.add_argument("--max-steps", type=int, metavar="N", help="> 0: stop after N steps")
    p.add_argument("--batch-size", type=int, metavar="N", help="conversations per device step")
    p.add_argument("--lr-scheduler", metavar="NAME", help="cosine (default), linear, constant…")
    p.add_argument("--warmup-steps", type=int, metavar="N")
    p.add_argument("--max-length", type=int, metavar="N", help="truncate longer conversations")
    p.add_argument("--where-rows", action="store_true", default=None,
                   help="each record also gives the locate warm-up's where? row (boxes only, "
                   "snapped to --box-grid): rehearses what lte-train locate-warmup taught")
    p.add_argument("--own-first-look", action="store_true", default=None,
                   help="with --impressions: the Query-1 conversation of each record they cover "
                   "takes the model's own answer as its target, so training Query 2 on those "
                   "first impressions does not move Query 1 (decision 0004, E27)")
    p.add_argument("--truth-contexts", action="store_true", default=None,
                   help="with --own-first-look: the Query-2 conversations stay on the ground "
                   "truth (with --flip-rate and --decoy-rate) while Query 1 holds the model's own "
                   "answers, so Query 2 learns to read its close-ups without moving the first "
                   "look (decision 0004, E33's read step)")
    p.add_argument("--decoy-rate", type=float, metavar="F",
                   help="share of the boxes in ground-truth Query-2 contexts moved to a place "
                   "where the close-up shows nothing, each finding then saying what its close-up "
                   "holds: a finding can be told only from its close-up (default 0; decision "
                   "0004, E28)")
    p.add_argument("--decisive-weight", type=float, metavar="W",
                   help="add W x the mean loss of the tokens that carry Query 2's decisions "
                   "(each finding's first word and points_to, the verdict): under the mean "
                   "token loss they are about 1 %% of a row (default 0: off; decision 0004, E31)")
    p.set_defaults(func=_cmd_sft, settings_cls=SFTSettings)

    g = subparsers.add_parser(
        "grpo",
        help="two-segment GRPO: Query 1 (format + IoU), then Query 2 (verdict + BLEU-2)",
        description="Reinforcement learning with TRL's GRPOTrainer in LTE's two segments. "
        "Segment 1 samples Query-1 answers and rewards the format and the boxes (LTE's IoU: the "
        "mean over predicted boxes of the best IoU with a ground-truth box; --iou recall or "
        "relaxed for the variants). Segment 2 samples Query-2 answers (Query 1 answered with the "
        "ground truth, close-ups of the ground-truth boxes; with --impressions, the model's own "
        "answer and close-ups of its boxes, as the app cuts them) and rewards the verdict and the "
        "BLEU-2 of the explanation (findings=W: also the findings that point where their "
        "close-ups really do). --schedule staged runs FakeXplainer's alpha/beta/gamma "
        "weights in each segment. Start from the SFT result. Each segment is saved in its own "
        "folder under --output-dir; --resume skips finished segments.",
    )
    _common(g)
    g.add_argument("--segments", choices=SEGMENTS, help="which segments to run (default both)")
    g.add_argument("--steps-locate", type=int, metavar="N", help="segment-1 steps (default 100)")
    g.add_argument("--steps-examine", type=int, metavar="N", help="segment-2 steps (default 100)")
    g.add_argument("--num-generations", type=int, metavar="G",
                   help="completions per prompt (LTE: 4)")
    g.add_argument("--prompts-per-step", type=int, metavar="N")
    g.add_argument("--max-completion-length", type=int, metavar="N")
    g.add_argument("--temperature", type=float, metavar="T")
    g.add_argument("--beta", type=float, metavar="B",
                   help="KL weight; 0 (default) loads no reference model")
    g.add_argument("--iou", choices=IOU_KINDS,
                   help="lte (mean over predicted boxes, default), recall (mean over "
                   "ground-truth boxes), relaxed (FakeXplainer: min(1, eta * IoU of the unions))")
    g.add_argument("--eta", type=float, metavar="ETA", help="relaxed IoU's eta (default 2)")
    g.add_argument("--locate-weights", type=_weights, metavar="format=1,iou=1",
                   help="segment-1 reward weights (format, iou; verdict=W also rewards the "
                   "Query-1 verdict: the LTE paper's dual-verdict-reward ablation)")
    g.add_argument("--examine-weights", type=_weights, metavar="format=0,verdict=1,bleu=1",
                   help="segment-2 reward weights (format, verdict, bleu; findings=W rewards "
                   "findings that point where their close-ups really do, from the ground-truth "
                   "regions)")
    g.add_argument("--schedule", choices=SCHEDULES,
                   help="fixed weights (default) or FakeXplainer's staged alpha/beta/gamma")
    g.add_argument("--hold-first-look", type=float, metavar="SHARE",
                   help="segment 2 also samples Query-1 answers for this share of its records, "
                   "scored by segment 1's rewards, so that training the second look does not "
                   "move the first (default 0)")
    g.set_defaults(func=_cmd_grpo, settings_cls=GRPOSettings)


def _settings(args: argparse.Namespace):
    from trainer.config import load_settings

    skip = {"command", "func", "settings_cls", "config"}
    overrides = {k: v for k, v in vars(args).items() if k not in skip}
    return load_settings(args.settings_cls, args.config, overrides)


def _cmd_sft(args: argparse.Namespace) -> int:
    from trainer.runs import in_own_process
    from trainer.sft import run_sft

    settings = _settings(args)
    result = in_own_process(run_sft, settings)  # its own process: the step allocator
    first, last = (result.losses[0], result.losses[-1]) if result.losses else (None, None)
    print(f"SFT done in {result.seconds:.0f} s: {result.steps} steps on {result.rows} "
          f"conversations; training loss {first} -> {last}")
    if result.eval_losses:
        print(f"  validation loss per epoch: {', '.join(f'{v:.4f}' for v in result.eval_losses)}")
    print(f"  saved to {result.output_dir} (lte-inspect analyze IMAGES --model "
          f"{result.output_dir})")
    return 0


def _cmd_grpo(args: argparse.Namespace) -> int:
    from trainer.grpo import run_grpo
    from trainer.runs import in_own_process

    settings = _settings(args)
    result = in_own_process(run_grpo, settings)  # its own process: the step allocator
    print(f"GRPO done in {result.seconds:.0f} s:")
    for part in result.parts:
        rewards = part["reward_mean"]
        trend = f"{rewards[0]:.3f} -> {rewards[-1]:.3f}" if rewards else "n/a"
        print(f"  {part['name']}: {part['steps']} steps, mean reward {trend}, "
              f"rewards {json.dumps(part['rewards'])}")
    print(f"  saved to {result.output_dir}")
    return 0
