"""Helpers around a Hugging Face ``Trainer`` run, shared by SFT, GRPO and the warm-ups: progress,
checkpoints, the arguments of a short run that saves nothing."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

__all__ = [
    "drop_checkpoints",
    "last_checkpoint",
    "logged",
    "progress_callback",
    "quiet",
    "scratch_run_arguments",
]


def progress_callback(stage: str, print_fn):
    """A callback printing one line per logging step: step/total, loss, reward, lr, ETA."""
    from transformers import TrainerCallback

    class _Printer(TrainerCallback):
        def __init__(self) -> None:
            self.started = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if not {"loss", "eval_loss", "reward"} & set(logs):
                return
            elapsed = time.perf_counter() - self.started
            total = state.max_steps or 0
            done = state.global_step
            eta = elapsed / done * (total - done) if done else 0.0
            parts = [f"{stage} step {done}/{total}"]
            for key, name, fmt in (
                ("loss", "loss", ".4f"),
                ("eval_loss", "val loss", ".4f"),
                ("reward", "reward", ".3f"),
                ("learning_rate", "lr", ".2e"),
            ):
                if key in logs:
                    parts.append(f"{name} {float(logs[key]):{fmt}}")
            parts.append(f"{elapsed:.0f}s elapsed, ETA {eta:.0f}s")
            print_fn("  " + ", ".join(parts))

    return _Printer()


def logged(trainer, key: str) -> list[float | None]:
    """Every value of ``key`` (``loss``, ``eval_loss``, ``reward``...) the run logged, in order
    (None where it logged None: a reward that applied to no answer of that batch)."""
    return [None if h[key] is None else float(h[key])
            for h in trainer.state.log_history if key in h]


def quiet(trainer) -> None:
    """Drop the Trainer's own log printer: the progress callback prints one line per log."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)


def last_checkpoint(folder: Path) -> str | None:
    """The newest ``checkpoint-N`` folder of a run, or None."""
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(folder)) if Path(folder).is_dir() else None


def drop_checkpoints(folder: Path) -> None:
    """A finished run keeps its final weights; intermediate checkpoints were only for resume."""
    for ckpt in Path(folder).glob("checkpoint-*"):
        shutil.rmtree(ckpt, ignore_errors=True)


def scratch_run_arguments(scratch: Path, seed: int, logging_steps: int) -> dict[str, Any]:
    """Training arguments of a warm-up phase: cosine schedule, no checkpoints, no reports; the
    ``scratch`` folder gets nothing worth keeping (the caller removes it after the run)."""
    from trainer.modeling import precision_flags

    return dict(
        output_dir=str(scratch), lr_scheduler_type="cosine", warmup_steps=20,
        seed=seed, logging_steps=logging_steps, save_strategy="no",
        report_to=[], disable_tqdm=True, dataloader_pin_memory=False, **precision_flags(),
    )
