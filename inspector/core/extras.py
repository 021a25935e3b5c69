"""The optional parts of an install (the extras in pyproject.toml), and how to say one is missing.

A light client (``pip install "lte-inspector[gui,remote,report]"``) has no torch, transformers or
huggingface_hub; whatever needs them asks here first, so the user reads which extra to install
instead of a ModuleNotFoundError traceback.
"""

from __future__ import annotations

import importlib.util

__all__ = ["LOCAL_MODULES", "missing_extra"]

# What the local backend imports to run a model in this process (the `local` extra).
LOCAL_MODULES = ("torch", "transformers")


def missing_extra(what: str, extra: str, modules: tuple[str, ...]) -> str | None:
    """None when ``modules`` are all installed; else a sentence for the user: ``what`` needs the
    extra, which of its packages are missing, and the pip command that adds it.

    ``importlib.util.find_spec`` looks without importing, so asking costs nothing.
    """
    absent = [name for name in modules if importlib.util.find_spec(name) is None]
    if not absent:
        return None
    return (f"{what} needs the '{extra}' extra, and {', '.join(absent)} "
            f"{'is' if len(absent) == 1 else 'are'} not installed here: "
            f"pip install 'lte-inspector[{extra}]'")
