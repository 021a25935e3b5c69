"""Where the bundled demo checkpoint lives: one answer for the CLI, the window and the trainer.

The demo checkpoint (``resources/demo-model/``, made by ``lte-train demo DIR --install``) is a
small model trained on a synthetic task so a new user sees the whole flow on a laptop; a ``DEMO``
file inside marks it, and the app says "not a detector" wherever it appears. In a checkout (or an
editable install) it sits in ``resources/`` beside the ``inspector`` package; in the frozen
PyInstaller app, in the bundle's ``resources/`` (``sys._MEIPASS``).
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["DEMO_MARKER", "demo_model_dir", "demo_model_path", "is_demo_folder"]

DEMO_MARKER = "DEMO"  # the file that marks a checkpoint as the demo (ModelProvenance.is_demo)


def demo_model_path() -> Path:
    """Where the demo checkpoint belongs (whether or not it is there)."""
    frozen = getattr(sys, "_MEIPASS", None)
    base = Path(frozen) if frozen else Path(__file__).resolve().parents[2]
    return base / "resources" / "demo-model"


def demo_model_dir(folder: str | Path | None = None) -> Path | None:
    """The demo checkpoint's folder when it holds a model (a ``config.json``), else None.

    ``folder`` replaces the usual place (:func:`demo_model_path`), for tests and callers that
    keep the demo elsewhere.
    """
    path = demo_model_path() if folder is None else Path(folder)
    return path if (path / "config.json").is_file() else None


def is_demo_folder(folder: str | Path) -> bool:
    """True when ``folder`` holds a checkpoint marked as the demo (its ``DEMO`` file)."""
    return (Path(folder) / DEMO_MARKER).is_file()
