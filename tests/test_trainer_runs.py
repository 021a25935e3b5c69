"""`trainer.runs.in_own_process`: each step of `lte-train demo` runs in a process of its own (its
memory goes back to the system when it ends). What the recipe relies on: the step's result comes
back, its error is raised with its own message, and a step killed from outside (the kernel's
out-of-memory killer; here a real SIGKILL) ends the recipe with a message that says what to do,
not a hang or a bare BrokenProcessPool."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from trainer.allocator import GLIBC_KEEP_MEMORY, find_tcmalloc, process_allocator, step_environment
from trainer.runs import StepProcessDied, in_own_process


@dataclass
class _Step:
    folder: Path
    value: int


def _write_and_report(step: _Step, print_fn=print) -> tuple[int, int]:
    (step.folder / "done.txt").write_text(str(step.value), encoding="utf-8")
    print_fn(f"step wrote {step.value}")
    return os.getpid(), step.value * 2


def _refuse(step: _Step, print_fn=print) -> None:
    raise ValueError(f"training records not found: {step.folder / 'missing.jsonl'}")


def _killed(step: _Step, print_fn=print) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _deaf(step: _Step, print_fn=print) -> None:
    """A step that ignores Ctrl-C and would run for ten minutes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    (step.folder / "pid").write_text(str(os.getpid()), encoding="utf-8")
    time.sleep(600)


class _Interrupted(Exception):
    pass


def test_a_step_runs_in_another_process_and_gives_back_its_result(tmp_path):
    pid, doubled = in_own_process(_write_and_report, _Step(tmp_path, 21), print_fn=print)
    assert pid != os.getpid()
    assert doubled == 42
    assert (tmp_path / "done.txt").read_text(encoding="utf-8") == "21"


def test_a_steps_error_is_raised_here_with_its_message(tmp_path):
    with pytest.raises(ValueError, match="training records not found: .*missing.jsonl") as e:
        in_own_process(_refuse, _Step(tmp_path, 1))
    assert "in _refuse" in str(e.value.__cause__)  # where it was raised, in the step's process


def test_a_killed_step_says_what_happened_and_that_a_rerun_continues(tmp_path):
    with pytest.raises(StepProcessDied, match="_killed: its process ended without finishing") as e:
        in_own_process(_killed, _Step(tmp_path, 1))
    assert "rerunning the same command continues" in str(e.value)
    assert isinstance(e.value, OSError)  # lte-train prints it as an error line, exit code 1


def test_an_interrupted_recipe_does_not_leave_its_step_running(tmp_path, monkeypatch):
    """The recipe stopped here (Ctrl-C, or a signal to it alone) while a step that does not stop
    on its own runs: after the grace period the step is terminated, not left training."""
    import trainer.runs

    monkeypatch.setattr(trainer.runs, "_GRACE_SECONDS", 1.0)

    def interrupt(signum, frame):
        if not (tmp_path / "pid").is_file():  # the step has not started yet: a little later
            signal.setitimer(signal.ITIMER_REAL, 0.5)
            return
        raise _Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    started = time.monotonic()
    try:
        with pytest.raises(_Interrupted):
            in_own_process(_deaf, _Step(tmp_path, 1))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - started < 60
    pid = int((tmp_path / "pid").read_text(encoding="utf-8"))
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def _allocator() -> tuple[dict[str, str | None], bool]:
    """What the step's process was started with, and whether tcmalloc is mapped into it."""
    keys = ("LD_PRELOAD", *GLIBC_KEEP_MEMORY)
    maps = Path("/proc/self/maps").read_text(encoding="utf-8")
    return {key: os.environ.get(key) for key in keys}, "libtcmalloc" in maps


def test_a_step_runs_with_an_allocator_that_keeps_its_memory(monkeypatch):
    """Each training step allocates and frees tens of MB of activations; glibc's default gives
    them back and faults them in again every step (18 % of an SFT step in the kernel). The step's
    process gets tcmalloc when the system has it, else glibc set to reuse; the recipe's own
    environment is left as it was, and a user's own choice wins."""
    for key in ("LD_PRELOAD", *GLIBC_KEEP_MEMORY):
        monkeypatch.delenv(key, raising=False)
    before = dict(os.environ)
    env, mapped = in_own_process(_allocator)
    if find_tcmalloc():
        assert env["LD_PRELOAD"] == find_tcmalloc() and mapped
    else:
        assert {k: env[k] for k in GLIBC_KEEP_MEMORY} == GLIBC_KEEP_MEMORY and not mapped
    assert dict(os.environ) == before
    # what the step's training_info.json records
    assert in_own_process(process_allocator) == ("tcmalloc" if find_tcmalloc() else "glibc, kept")
    # without tcmalloc on the system: glibc kept from returning memory
    assert step_environment({}, lambda: None) == GLIBC_KEEP_MEMORY
    assert step_environment({}, lambda: "libtcmalloc_minimal.so.4") == {
        "LD_PRELOAD": "libtcmalloc_minimal.so.4"}
    # the user's own setting wins
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    env, mapped = in_own_process(_allocator)
    assert env == {"LD_PRELOAD": None, **{k: None for k in GLIBC_KEEP_MEMORY}} and not mapped
