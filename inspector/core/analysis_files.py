"""A case's analysis files: storing one analysis with its pictures, and reading them all back.

An analysis is stored close-ups and forensic maps first and its JSON last, every file atomically
(:mod:`inspector.core.atomic`): once the JSON exists, its pictures do too, and a crash leaves at
most pictures without an analysis, which opening the case moves aside
(:mod:`inspector.core.case_recovery`). Reading skips what it cannot use, saying why.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inspector.core.atomic import atomic_write_bytes, atomic_write_json, is_temp_name
from inspector.core.case_layout import (
    CLOSEUPS_DIR,
    analysis_file,
    closeup_path,
    forensic_map_relpath,
    make_dirs,
)
from inspector.core.forensics import map_png_bytes
from inspector.core.results import Analysis

__all__ = ["FoundAnalyses", "StoredAnalysis", "read_analyses", "write_analysis"]


@dataclass
class StoredAnalysis:
    analysis: Analysis
    path: Path


@dataclass
class FoundAnalyses:
    stored: list[StoredAnalysis] = field(default_factory=list)  # the readable ones, by file name
    # every analysis file, readable or not: its close-ups are not an interrupted save's leftovers
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the files skipped, and why


def read_analyses(analyses_dir: Path) -> FoundAnalyses:
    """Every analysis file under ``analyses_dir``; one that is unreadable, filed under another
    evidence hash or repeats an analysis id is skipped with a problem."""
    found = FoundAnalyses()
    seen: set[str] = set()
    folders = sorted(analyses_dir.iterdir()) if analyses_dir.is_dir() else []
    for folder in (f for f in folders if f.is_dir()):
        for path in sorted(folder.glob("*.json")):
            if is_temp_name(path):
                continue
            found.files.append(path)
            try:
                analysis = Analysis.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
                found.problems.append(f"ignored an unreadable analysis file {path}: {exc}")
                continue
            if analysis.evidence.sha256 != folder.name:
                found.problems.append(f"ignored {path}: it describes evidence "
                                      f"{analysis.evidence.sha256}, not {folder.name}")
                continue
            if analysis.id in seen:
                found.problems.append(f"ignored {path}: analysis id {analysis.id} is duplicated")
                continue
            seen.add(analysis.id)
            found.stored.append(StoredAnalysis(analysis, path))
    return found


def write_analysis(root: Path, analysis: Analysis, closeups: dict[int, Any] | None = None,
                   forensic_maps: dict[str, np.ndarray] | None = None) -> StoredAnalysis:
    """Store ``analysis`` in the case at ``root`` with its close-ups (PIL images keyed by region
    number) and forensic maps (2-D [0, 1] arrays keyed by analysis name), the JSON last.

    Each map's relative path is set as the "map" of its result in ``analysis.forensics`` (the
    caller's object too); a map without a result is not kept. Returns what the disk now holds.
    """
    path = analysis_file(root, analysis.evidence.sha256, analysis.created, analysis.id)
    pictures = root / CLOSEUPS_DIR / analysis.id
    for number, image in sorted((closeups or {}).items()):
        make_dirs(pictures)
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        atomic_write_bytes(closeup_path(root, analysis.id, number), buf.getvalue())
    for name, values in sorted((forensic_maps or {}).items()):
        result = (analysis.forensics or {}).get(name)
        if result is None or values is None:
            continue
        relpath = forensic_map_relpath(analysis.id, name)
        make_dirs(pictures)
        atomic_write_bytes(root / relpath, map_png_bytes(values))
        result["map"] = relpath
    make_dirs(path.parent)
    atomic_write_json(path, analysis.to_dict())
    return StoredAnalysis(Analysis.from_dict(analysis.to_dict()), path)
