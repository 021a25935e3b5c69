"""The forensic results the window holds, per image *and* per content (path, SHA-256).

Keyed by the bytes, not the name: a file changed on disk gets a new key, so its old results are
never shown over its new pixels (docs/decisions/0006). Maps are kept as 8-bit arrays — exactly
what a case stores as PNG — so a result looks the same whether it was just computed or read
back from the case. Only the most recently used images are kept in memory; a saved result is read
back from its case and a forensics-only result is computed again when needed.

The slow parts (running the analyses without a model, reading saved maps back) are plain
functions run off the GUI thread by ``gui.background``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inspector.core.forensics import (
    ANALYSIS_NAMES,
    ForensicInput,
    ForensicResult,
    run_forensics,
)
from inspector.core.forensics.base import result_from_dict
from inspector.gui.forensic_layers import map_u8

__all__ = [
    "ForensicEntry",
    "ForensicStore",
    "available_analyses",
    "compact",
    "load_saved",
    "run_alone",
]

MODEL, ALONE, SAVED = "model", "alone", "case"  # where an entry's results come from


def available_analyses() -> tuple[str, ...]:
    """The analyses this build can run (all of ANALYSIS_NAMES once every module is installed)."""
    return tuple(n for n in ANALYSIS_NAMES
                 if importlib.util.find_spec(f"inspector.core.forensics.{n}") is not None)


def compact(result: ForensicResult) -> ForensicResult:
    """A copy of ``result`` whose map is 8-bit (what the window keeps and the case stores)."""
    values = None if result.map is None else map_u8(result.map)
    return dataclasses.replace(result, map=values)


@dataclass
class ForensicEntry:
    """The forensic results of one file content."""

    path: str
    sha256: str
    origin: str  # MODEL (run after the model, saved with its analysis), ALONE or SAVED
    expected: tuple[str, ...] = ()  # names being run; results arrive in this order
    results: dict[str, ForensicResult] = field(default_factory=dict)
    complete: bool = False
    analysis_id: str | None = None  # the model analysis that holds them, once saved
    failure: str | None = None  # why the analyses could not run at all

    def add(self, result: ForensicResult) -> None:
        self.results[result.name] = compact(result)

    def ordered(self) -> list[ForensicResult]:
        return [self.results[n] for n in ANALYSIS_NAMES if n in self.results]

    def maps_for_case(self) -> dict[str, np.ndarray]:
        """The maps as [0, 1] float arrays, as ``CaseStore.add_analysis(forensic_maps=)`` takes
        them (8-bit values divide back exactly: the case writes the same bytes)."""
        return {name: r.map.astype(np.float32) / 255.0
                for name, r in self.results.items() if r.map is not None}


class ForensicStore:
    """Entries by (path, SHA-256), the least recently used dropped beyond ``capacity``.

    Entries still filling (an analysis under way) are never dropped.
    """

    def __init__(self, capacity: int = 12) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, str], ForensicEntry] = OrderedDict()

    def get(self, path: str, sha256: str | None) -> ForensicEntry | None:
        if sha256 is None:
            return None
        entry = self._entries.get((path, sha256))
        if entry is not None:
            self._entries.move_to_end((path, sha256))
        return entry

    def put(self, entry: ForensicEntry) -> ForensicEntry:
        key = (entry.path, entry.sha256)
        self._entries[key] = entry
        self._entries.move_to_end(key)
        for old_key in [k for k, e in self._entries.items() if e.complete]:
            if len(self._entries) <= self.capacity:
                break
            if old_key != key:
                del self._entries[old_key]
        return entry

    def drop(self, entry: ForensicEntry) -> None:
        """Forget ``entry`` — only that one: another may have taken its key meanwhile."""
        if self._entries.get((entry.path, entry.sha256)) is entry:
            del self._entries[(entry.path, entry.sha256)]

    def keys(self) -> list[tuple[str, str]]:
        return list(self._entries)

    def clear(self) -> None:
        self._entries.clear()


# -- slow work, run off the GUI thread ----------------------------------------------------------


def run_alone(path: str, expected_sha: str | None, names: Iterable[str],
              on_result: Callable[[ForensicResult], None],
              is_cancelled: Callable[[], bool]) -> tuple[str, list[ForensicResult]]:
    """Read, hash and decode the file once and run the analyses on it (no model).

    Returns (SHA-256 of the bytes analysed, results). Raises ``ChangedWhileReading`` when the
    file no longer holds ``expected_sha`` (it changed after it was shown).
    """
    from inspector.core.imageio import load_image

    loaded = load_image(path)
    if expected_sha is not None and loaded.sha256 != expected_sha:
        raise ChangedWhileReading(path)
    evidence = ForensicInput.from_loaded(loaded)
    results = run_forensics(evidence, only=tuple(names),
                            on_result=lambda r: on_result(compact(r)),
                            is_cancelled=is_cancelled)
    return loaded.sha256, results


class ChangedWhileReading(Exception):
    """The file changed between being shown and being read for the analyses."""


def load_saved(case_root: Path | None, path: str, sha256: str, analysis_id: str,
               forensics: dict[str, dict[str, Any]]) -> ForensicEntry:
    """The forensic results recorded with an analysis, their maps read from the case folder.

    A map that cannot be read is said in that result's ``error``; the rest are shown.
    """
    from PIL import Image

    entry = ForensicEntry(path, sha256, SAVED, tuple(forensics), complete=True,
                          analysis_id=analysis_id)
    for name, record in forensics.items():
        result = result_from_dict({"name": name, **record})
        relpath = record.get("map")
        if relpath and case_root is not None:
            try:
                with Image.open(case_root / relpath) as im:
                    result.map = np.asarray(im.convert("L"), dtype=np.uint8).copy()
            except (OSError, ValueError) as exc:
                result.error = result.error or f"its map could not be read from the case: {exc}"
        entry.results[name] = result
    return entry
