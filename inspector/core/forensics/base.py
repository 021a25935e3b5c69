"""What every forensic analysis returns, and the evidence it is given.

An analysis is a plain function ``analyze(evidence: ForensicInput) -> ForensicResult``. It never
changes the model's verdict: its result is a separate, explainable signal shown beside it.
Regions are in original-image pixels (after EXIF orientation, like every box in the app); maps are
2-D float arrays in [0, 1] whose aspect ratio is the image's (they may be smaller than the image).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class ForensicInput:
    """One evidence file as read once by ``load_image``: its bytes and its decoded pixels."""

    path: Path
    data: bytes  # the file's bytes exactly as read and hashed
    image: Image.Image  # RGB, EXIF orientation applied
    format: str  # Pillow's format name, e.g. "JPEG"
    sha256: str

    @classmethod
    def from_loaded(cls, loaded: Any) -> ForensicInput:
        """From an :class:`inspector.core.imageio.LoadedImage` (no second read of the file)."""
        return cls(loaded.path, loaded.data, loaded.image, loaded.format, loaded.sha256)

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height


@dataclass
class ForensicRegion:
    """A region an analysis points at, in original-image pixels ``[x1, y1, x2, y2]``."""

    box: list[int]
    label: str  # e.g. "clone target 1", "noise level departs from the rest"
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"box": list(self.box), "label": self.label, "score": self.score}


@dataclass
class ForensicResult:
    """The outcome of one analysis on one image.

    ``indicators`` is JSON-ready and holds the keys of the CLI contract for this analysis (for
    example ``{"detected", "score", "first_quality"}`` for double_jpeg). ``applicable`` is False
    when the method does not apply to this file (JPEG structure of a PNG); ``error`` is set when
    the analysis failed on this file (the other analyses still run).
    """

    name: str  # registry key: jpeg, double_jpeg, spectrum, copy_move, noise, ela, metadata
    title: str  # "Double JPEG compression"
    statement: str  # one line: what this result shows, in words an investigator can quote
    limits: str  # what the method cannot tell; shown next to it and in the report
    indicators: dict[str, Any] = field(default_factory=dict)
    regions: list[ForensicRegion] = field(default_factory=list)
    map: np.ndarray | None = field(default=None, repr=False)  # 2-D float32 in [0, 1]
    map_legend: str | None = None  # e.g. "bright = high local noise level"
    # False for a map that is not a picture of the image's area (a spectrum): it is shown beside
    # the image, never laid over it or cut under a close-up
    map_spatial: bool = True
    parameters: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    applicable: bool = True
    error: str | None = None

    @classmethod
    def not_applicable(
        cls, name: str, title: str, limits: str, statement: str, **indicators: Any
    ) -> ForensicResult:
        """The result for a file the method does not apply to (a PNG for the JPEG analyses, an
        image too small): ``statement`` says why; ``indicators`` are the analysis's CLI keys,
        left empty."""
        return cls(name=name, title=title, statement=statement, limits=limits,
                   indicators=indicators, applicable=False)  # fmt: skip

    def to_dict(self, map_path: str | None = None) -> dict[str, Any]:
        """The JSON form used by the CLI, the analysis record and the report attachment."""
        return {
            "name": self.name,
            "title": self.title,
            "applicable": self.applicable,
            "error": self.error,
            "statement": self.statement,
            "limits": self.limits,
            "indicators": self.indicators,
            "regions": [r.to_dict() for r in self.regions],
            "map": map_path,
            "map_legend": self.map_legend,
            "map_spatial": self.map_spatial,
            "parameters": self.parameters,
            "seconds": round(self.seconds, 4),
        }


def result_from_dict(record: dict[str, Any]) -> ForensicResult:
    """A result back from its :meth:`ForensicResult.to_dict` form (its map is not in it: the
    caller reads the PNG the record names). Records written before ``map_spatial`` existed held
    one map that is not spatial, the spectrum's."""
    regions = [ForensicRegion(list(r.get("box") or []), str(r.get("label") or ""), r.get("score"))
               for r in record.get("regions") or [] if len(r.get("box") or []) == 4]
    name = str(record.get("name", ""))
    return ForensicResult(
        name=name,
        title=str(record.get("title", name)),
        statement=str(record.get("statement", "")),
        limits=str(record.get("limits", "")),
        indicators=dict(record.get("indicators") or {}),
        regions=regions,
        map_legend=record.get("map_legend"),
        map_spatial=bool(record.get("map_spatial", name != "spectrum")),
        parameters=dict(record.get("parameters") or {}),
        seconds=float(record.get("seconds") or 0.0),
        applicable=bool(record.get("applicable", True)),
        error=record.get("error"),
    )


def as_map(values: np.ndarray) -> np.ndarray:
    """Scale a 2-D array to float32 [0, 1] for display (robust to outliers: 1st–99th percentile)."""
    arr = np.asarray(values, dtype=np.float32)
    if arr.size == 0:
        return arr
    lo, hi = np.percentile(arr, [1, 99])
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return np.zeros_like(arr)
    return np.clip((arr - lo) / (hi - lo), 0.0, 1.0)


def luminance(image: Image.Image) -> np.ndarray:
    """The image's luma (ITU-R BT.601, as JPEG uses) as float32, 0–255."""
    return np.asarray(image.convert("L"), dtype=np.float32)
