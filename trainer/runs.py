"""Helpers around a Hugging Face ``Trainer`` run, shared by SFT, GRPO and the warm-ups: progress,
checkpoints, the arguments of a short run that saves nothing, a step run in a process of its
own."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from trainer.allocator import step_environment

__all__ = [
    "StepProcessDied",
    "drop_checkpoints",
    "in_own_process",
    "last_checkpoint",
    "logged",
    "progress_callback",
    "quiet",
    "scratch_run_arguments",
    "seed_run",
]


T = TypeVar("T")


def seed_run(seed: int) -> None:
    """Seed Python, NumPy and torch before a step builds anything random — a LoRA adapter, the
    warm-ups' heads, the pointer losses' heads. A ``Trainer`` seeds only when it is built, after
    those: two runs of one command then started from different weights and were not the same
    run (decision 0004, E69)."""
    from transformers import set_seed

    set_seed(seed)


class StepProcessDied(ChildProcessError):
    """A training step's own process ended without a result (killed: out of memory, a signal).
    An OSError, so that ``lte-train`` reports it as an error line, not a traceback."""


def in_own_process(step: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``step(*args, **kwargs)`` in a new Python process (spawned, not forked); its result.

    Why: a step's memory (the demo's warm-up peaks at 8 GB) only goes back to the system when
    its process ends; the recipe's own process then stays under 1 GB. (It does not make the
    steps faster by itself: decision 0004, E40-E41; its memory allocator does,
    :func:`trainer.allocator.step_environment`.) The step's exception is
    raised here (its traceback as the cause); its output goes to the same terminal. ``step``
    and its arguments must pickle (module-level functions, dataclass settings). Interrupted
    here (Ctrl-C reaches both processes), the step gets a grace period to stop on its own, so
    that it does not die halfway through writing a checkpoint, then is terminated.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    name = getattr(step, "__name__", repr(step))
    process = context.Process(target=_send_outcome, args=(send, name, step, args, kwargs),
                              name=f"lte-step-{name}")
    with _environment(step_environment(os.environ)):  # a spawned process starts with it
        process.start()
    send.close()  # only the child writes: its end of the pipe closing means it is gone
    try:
        outcome = receive.recv()
    except EOFError:
        outcome = None
    except BaseException:
        process.join(_GRACE_SECONDS)
        if process.is_alive():
            process.terminate()
        process.join()
        raise
    finally:
        receive.close()
    process.join()
    if outcome is None:
        raise StepProcessDied(
            f"{name}: its process ended without finishing (exit code {process.exitcode}; "
            "killed: out of memory?); the steps already finished are kept, so rerunning the "
            "same command continues from there"
        )
    ok, value, trace = outcome
    if ok:
        return value
    raise value from _StepTraceback(trace)


_GRACE_SECONDS = 30.0

@contextlib.contextmanager
def _environment(extra: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``extra`` for the duration (a process started now inherits it)."""
    saved = {key: os.environ.get(key) for key in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _StepTraceback(Exception):
    """The step's traceback in its own process, shown as the cause of the error raised here."""

    def __str__(self) -> str:
        return "\n" + self.args[0]


def _send_outcome(send, name: str, step, args, kwargs) -> None:
    """In the step's process: run it and send ``(ok, result or exception, traceback)``."""
    import pickle
    import traceback

    try:
        outcome = (True, step(*args, **kwargs), "")
    except BaseException as exc:  # the parent re-raises it, KeyboardInterrupt included
        outcome = (False, exc, traceback.format_exc())
    try:
        send.send(outcome)
    except (pickle.PicklingError, TypeError, AttributeError):
        ok, value, trace = outcome
        what = (f"its result (a {type(value).__name__}) does not pickle" if ok
                else f"{type(value).__name__}: {value}")
        send.send((False, RuntimeError(f"{name}: {what}"), trace))
    finally:
        send.close()


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
