"""The memory allocator a training step's process starts with, and the one it ran with.

A step allocates and frees tens of MB of activations each training step; how the allocator
treats freed memory decides whether it faults them in again every step (decision 0004, E42;
docs/step_allocator.md). :func:`trainer.runs.in_own_process` starts each step with
:func:`step_environment`; ``training_info.json`` records :func:`process_allocator`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["GLIBC_KEEP_MEMORY", "find_tcmalloc", "process_allocator", "step_environment"]


# glibc's malloc, left as it is, serves every allocation above a few MB with its own mmap and
# unmaps it when freed, so each training step faults its activations in anew: 18 % of a demo
# SFT step was spent in the kernel (9.5 million page faults in 60 steps). Kept from returning
# memory it reuses it: 0.95 -> 0.78 s a step; with tcmalloc, where the system has it, the
# 60-step run took 74 and 82 s against 92-93 on two days, glibc kept 81 and 78
# (docs/step_allocator.md).
GLIBC_KEEP_MEMORY = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(2**64 - 1)}
TCMALLOC = "tcmalloc_minimal"


def find_tcmalloc() -> str | None:
    """The system's ``libtcmalloc_minimal`` (a name the dynamic loader finds), or None."""
    import ctypes.util

    return ctypes.util.find_library(TCMALLOC)


def step_environment(environ: Mapping[str, str],
                     tcmalloc: Callable[[], str | None] = find_tcmalloc) -> dict[str, str]:
    """What a step's process adds to ``environ``: tcmalloc preloaded when the system has it
    (``tcmalloc()`` names its library), else glibc's malloc told to keep and reuse freed memory.
    Nothing when ``environ`` already chooses (``LD_PRELOAD`` or a ``MALLOC_*`` setting)."""
    if "LD_PRELOAD" in environ or any(key.startswith("MALLOC_") for key in environ):
        return {}
    library = tcmalloc()
    return {"LD_PRELOAD": library} if library else dict(GLIBC_KEEP_MEMORY)


def process_allocator() -> str:
    """This process's memory allocator, as a step's ``training_info.json`` records it (its
    seconds depend on it): ``tcmalloc``, ``glibc, kept`` (:data:`GLIBC_KEEP_MEMORY`) or
    ``glibc`` (as it is: a step run in the caller's process)."""
    try:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux
        maps = ""
    if "libtcmalloc" in maps:
        return "tcmalloc"
    if all(os.environ.get(key) == value for key, value in GLIBC_KEEP_MEMORY.items()):
        return "glibc, kept"
    return "glibc"
