"""Independent forensic analyses shown beside the model's verdict (never changing it).

One module per analysis, each exposing ``NAME``, ``TITLE``, ``LIMITS`` and
``analyze(evidence: ForensicInput) -> ForensicResult``. Modules are imported on first use, so
OpenCV loads only when an analysis that needs it runs.
"""

from __future__ import annotations

import importlib
import io
import logging
import time
from collections.abc import Callable, Iterable
from types import ModuleType

import numpy as np
from PIL import Image

from inspector.core.forensics.base import ForensicInput, ForensicRegion, ForensicResult

__all__ = [
    "ANALYSIS_NAMES",
    "ForensicInput",
    "ForensicRegion",
    "ForensicResult",
    "analysis_module",
    "map_png_bytes",
    "parse_only",
    "run_forensics",
]

log = logging.getLogger(__name__)

# Display and CLI order: file structure first, then the pixel analyses, the metadata last.
ANALYSIS_NAMES: tuple[str, ...] = (
    "jpeg", "double_jpeg", "spectrum", "copy_move", "noise", "ela", "metadata",
)  # fmt: skip


def analysis_module(name: str) -> ModuleType:
    if name not in ANALYSIS_NAMES:
        raise ValueError(f"unknown forensic analysis {name!r}; known: {', '.join(ANALYSIS_NAMES)}")
    return importlib.import_module(f"inspector.core.forensics.{name}")


def parse_only(text: str | None) -> tuple[str, ...]:
    """``"jpeg, ela"`` -> ("jpeg", "ela") in display order; None or "" -> all.

    Raises ValueError naming the unknown analyses and the known ones.
    """
    if not text:
        return ANALYSIS_NAMES
    wanted = {part.strip().lower().replace("-", "_") for part in text.split(",") if part.strip()}
    unknown = sorted(wanted - set(ANALYSIS_NAMES))
    if unknown:
        known = ", ".join(ANALYSIS_NAMES)
        raise ValueError(f"unknown forensic analysis {', '.join(unknown)}; choose from {known}")
    return tuple(name for name in ANALYSIS_NAMES if name in wanted)


def run_forensics(
    evidence: ForensicInput,
    only: Iterable[str] | None = None,
    on_result: Callable[[ForensicResult], None] | None = None,
    is_cancelled: Callable[[], bool] | None = None,
) -> list[ForensicResult]:
    """Run the chosen analyses (all by default) in display order.

    A failing analysis becomes a result with ``error`` set; the others still run. Cancellation is
    checked between analyses (the results so far are returned).
    """
    names = ANALYSIS_NAMES if only is None else tuple(n for n in ANALYSIS_NAMES if n in set(only))
    results: list[ForensicResult] = []
    for name in names:
        if is_cancelled is not None and is_cancelled():
            break
        t0 = time.perf_counter()
        result = _run_one(name, evidence)
        result.seconds = time.perf_counter() - t0
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def _run_one(name: str, evidence: ForensicInput) -> ForensicResult:
    """One analysis; whatever goes wrong (its library missing included) is its result's error."""
    try:
        module = analysis_module(name)
    except ImportError as exc:
        return _failed(name, name, "", f"not installed: {exc}")
    try:
        return module.analyze(evidence)
    except MemoryError:
        message = "not enough memory for this analysis on an image this large"
    except Exception as exc:  # one analysis never takes the others down
        # the message is the result's error, shown by every caller; the traceback is for debugging
        log.debug("forensic analysis %s failed on %s", name, evidence.path, exc_info=True)
        message = f"{type(exc).__name__}: {exc}"
    return _failed(module.NAME, module.TITLE, module.LIMITS, message)


def _failed(name: str, title: str, limits: str, message: str) -> ForensicResult:
    return ForensicResult(
        name=name,
        title=title,
        statement=f"The analysis could not be completed: {message}",
        limits=limits,
        error=message,
    )


def map_png_bytes(values: np.ndarray) -> bytes:
    """A result's [0, 1] map as an 8-bit greyscale PNG (what the CLI's --maps and cases store)."""
    arr = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32)), 0.0, 1.0)
    buf = io.BytesIO()
    Image.fromarray((arr * 255.0 + 0.5).astype(np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()
