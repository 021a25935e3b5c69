"""Who and what a report is about (Qt-free): the case's number and title, its examiner, and who
did each thing in the custody log — with sensible fall-backs, so a report never says "not
recorded" where a name or a title exists.

A case opened by the desktop often has no title (its number is the folder's name) and no examiner
(the examiner types their name with their first note). The title then falls back to the case
folder's name, and the examiner to the names in the examiner's notes and overrides, then in the
custody log, then to whoever exports the report — each marked with where it came from.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspector.core.results import Analysis

__all__ = ["CaseFacts", "case_facts", "custody_examiner", "meta_dict", "meta_value"]

_WHO_KEYS = ("who", "examiner", "user", "actor")


def meta_value(meta: Any, key: str, default: Any = None) -> Any:
    if isinstance(meta, dict):
        return meta.get(key, default)
    return getattr(meta, key, default)


def meta_dict(meta: Any) -> dict[str, Any]:
    """The case metadata as a plain dict (dataclass, dict or any object with the fields)."""
    if isinstance(meta, dict):
        return dict(meta)
    if dataclasses.is_dataclass(meta) and not isinstance(meta, type):
        return dataclasses.asdict(meta)
    for name in ("to_dict", "as_dict"):
        fn = getattr(meta, name, None)
        if callable(fn):
            with contextlib.suppress(Exception):
                return dict(fn())
    return {k: getattr(meta, k, None) for k in ("number", "title", "examiner", "created")}


def _name(value: Any) -> str:
    return " ".join(str(value).split()) if value else ""


def _unique(names: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for n in names:
        if n and n not in seen:
            seen.append(n)
    return seen


@dataclass(frozen=True)
class CaseFacts:
    number: str
    title: str  # never empty: the given title, else the case folder's name, else the number
    title_given: bool
    folder: str  # the case folder's name ("" when the report is not of a case folder)
    examiner: str  # "" only when no name is recorded anywhere
    examiner_source: str  # "" (the case names them) or where the name was found
    exported_by: str  # who exports this report ("" when not said)
    created: str

    @property
    def heading(self) -> str:
        """"Case 2026-0417 — Flood photos", or "Case session-20261202" when the title would
        only repeat the number."""
        if self.title and self.title != self.number:
            return f"Case {self.number} — {self.title}"
        return f"Case {self.number}"

    @property
    def title_line(self) -> str:
        if self.title_given:
            return self.title
        if self.folder:
            return f"{self.title} (no title given; the case folder's name)"
        return f"{self.title} (no title given; the case number)"

    @property
    def examiner_line(self) -> str:
        if not self.examiner:
            return "not named in the case, the examiner's notes or the custody log"
        if not self.examiner_source:
            return self.examiner
        return f"{self.examiner} ({self.examiner_source}; the case file names no examiner)"


def case_facts(meta: Any, analyses: Sequence[Analysis], custody: Sequence[dict[str, Any]] = (),
               folder: Path | str | None = None, exported_by: str = "") -> CaseFacts:
    number = _name(meta_value(meta, "number")) or (Path(folder).name if folder else "") or "—"
    folder_name = Path(folder).resolve().name if folder else ""
    title = _name(meta_value(meta, "title"))
    given = bool(title)
    if not title:
        title = folder_name or number
    exported_by = _name(exported_by)
    examiner, source = _name(meta_value(meta, "examiner")), ""
    if not examiner:
        for names, where in (
            (_unique(_name(a.examiner.examiner) for a in analyses),
             "named in the examiner's notes and overrides"),
            (_unique(_custody_name(e) for e in custody), "named in the custody log"),
            ([exported_by], "exported this report"),
        ):
            names = [n for n in names if n]
            if names:
                examiner, source = ", ".join(names), where
                break
    return CaseFacts(number, title, given, folder_name, examiner, source, exported_by,
                     str(meta_value(meta, "created") or ""))


def _custody_name(entry: Any) -> str:
    if not isinstance(entry, dict):
        return ""
    for key in _WHO_KEYS:
        name = _name(entry.get(key))
        if name:
            return name
    return ""


def custody_examiner(entry: dict[str, Any], facts: CaseFacts) -> str:
    """Who did what a custody entry records: the name in the entry, else the case's examiner
    (marked as such), else "not named"."""
    name = _custody_name(entry)
    if name:
        return name
    if facts.examiner:
        return f"{facts.examiner} (case examiner)"
    return "not named"
