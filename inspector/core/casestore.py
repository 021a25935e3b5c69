"""Case store: one folder per case, written so that a crash never leaves a half-written record.

What lies where in the folder is :mod:`inspector.core.case_layout`; the metadata is
:mod:`inspector.core.case_meta`, the analysis files :mod:`inspector.core.analysis_files` and the
custody log :mod:`inspector.core.custody_log`. :class:`CaseStore` ties them together: it creates
and opens cases, keeps every analysis in memory as the disk holds it, and logs what it changes.

Every file except the custody log is written atomically (:mod:`inspector.core.atomic`), so a
reader sees either the old file or the new one, never a partial one; the custody log is only ever
appended to. Evidence files are never opened by the store; it records their hashes only.

A crash can leave stray temp files (``.<name>.<random>.tmp``) or close-ups whose analysis JSON was
never written; they are never read as part of the case. Opening the case moves them into
``DIR/recovered/<time>/`` with one custody entry (:mod:`inspector.core.case_recovery`; nothing is
deleted) and says so once in :attr:`CaseStore.problems`.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from inspector.core.analysis_files import StoredAnalysis, read_analyses, write_analysis
from inspector.core.atomic import atomic_write_json, is_temp_name
from inspector.core.case_layout import (
    ANALYSES_DIR,
    CASE_FILE,
    CLOSEUPS_DIR,
    CUSTODY_FILE,
    CaseError,
    closeup_path,
    make_dirs,
)
from inspector.core.case_meta import CaseMeta, read_case_meta
from inspector.core.case_recovery import recover_leftovers
from inspector.core.comparison import comparison_rows_for, write_comparison_csv
from inspector.core.custody_log import analysis_order, append_custody, read_custody
from inspector.core.results import OVERRIDE_VERDICTS, Analysis, ExaminerInput, utc_now

__all__ = ["CaseError", "CaseStore"]

log = logging.getLogger(__name__)


class CaseStore:
    """A case folder. Use :meth:`create`, :meth:`open` or :meth:`open_or_create`."""

    def __init__(self, root: Path, meta: CaseMeta) -> None:  # use the class methods
        self.root = Path(root)
        self.meta = meta
        self.problems: list[str] = []  # what opening found wrong (ignored, not fatal)
        self.stray_temp_files: list[Path] = []  # left in place: a save may still be under way
        self._by_id: dict[str, StoredAnalysis] = {}
        self._by_sha: dict[str, list[str]] = {}  # sha256 -> analysis ids, oldest first
        self._order: list[str] = []  # every analysis id, oldest first

    # ---- paths ------------------------------------------------------------------------------

    @property
    def custody_file(self) -> Path:
        return self.root / CUSTODY_FILE

    @property
    def closeups_dir(self) -> Path:
        return self.root / CLOSEUPS_DIR

    def closeup_path(self, analysis_id: str, region_number: int) -> Path:
        return closeup_path(self.root, analysis_id, region_number)

    def analysis_path(self, analysis_id: str) -> Path:
        return self._stored(analysis_id).path

    # ---- opening and creating ---------------------------------------------------------------

    @classmethod
    def create(
        cls, root: str | Path, number: str, title: str = "", examiner: str = ""
    ) -> CaseStore:
        """Start a new case in ``root`` (created if missing; refused if it holds anything else)."""
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise CaseError(f"cannot create a case at {root}: it is a file, not a folder")
        if (root / CASE_FILE).exists():
            raise CaseError(f"{root} already holds a case; open it instead of creating it")
        if root.exists():
            others = [p.name for p in root.iterdir() if not is_temp_name(p)]
            if others:
                shown = ", ".join(sorted(others)[:5]) + (" …" if len(others) > 5 else "")
                raise CaseError(
                    f"cannot create a case in {root}: the folder is not empty and is not a case "
                    f"(it holds {shown}). Choose an empty or new folder."
                )
        number = str(number).strip()
        if not number:
            raise CaseError("a case needs a case number")
        try:
            make_dirs(root)
            make_dirs(root / ANALYSES_DIR)
            make_dirs(root / CLOSEUPS_DIR)
            meta = CaseMeta(number=number, title=title or "", examiner=examiner or "")
            atomic_write_json(root / CASE_FILE, meta.to_dict())  # last: marks the folder a case
            store = cls(root, meta)
            store.log("case-created", examiner, "", "", f"case {number}: {title}".rstrip(": "))
        except OSError as exc:
            raise CaseError(f"cannot create a case in {root}: {exc.strerror or exc}") from exc
        return store

    @classmethod
    def open(cls, root: str | Path) -> CaseStore:
        """Open an existing case and read every analysis in it."""
        root = Path(root)
        if not root.is_dir():
            raise CaseError(f"no case folder at {root}")
        if not (root / CASE_FILE).is_file():
            raise CaseError(f"{root} is not a case folder (it has no {CASE_FILE})")
        store = cls(root, read_case_meta(root / CASE_FILE))
        store.reload()
        return store

    @classmethod
    def open_or_create(
        cls,
        root: str | Path,
        number: str | None = None,
        title: str | None = None,
        examiner: str = "",
    ) -> CaseStore:
        root = Path(root)
        if (root / CASE_FILE).exists():
            return cls.open(root)
        return cls.create(root, number or root.resolve().name, title or "", examiner)

    def reload(self) -> None:
        """(Re)read the folder: analyses, then what interrupted saves left (moved aside)."""
        self.problems = []
        self._by_id, self._by_sha, self._order = {}, {}, []
        self.stray_temp_files = []
        found = read_analyses(self.root / ANALYSES_DIR)
        for problem in found.problems:
            self._problem(problem)
        self._by_id = {entry.analysis.id: entry for entry in found.stored}
        order = analysis_order(self.custody())
        for entry in sorted(found.stored, key=lambda s: (
                s.analysis.created, order.get(s.analysis.id, len(order)), s.path.name)):
            self._index(entry.analysis)
        notes, self.stray_temp_files = recover_leftovers(
            self.root, self.closeups_dir, self._by_id, found.files,
            lambda folder, detail: self.log("recovered-leftovers", "", "", folder, detail),
        )  # fmt: skip
        for note in notes:
            self._problem(note)

    def _index(self, analysis: Analysis) -> None:
        self._by_sha.setdefault(analysis.evidence.sha256, []).append(analysis.id)
        self._order.append(analysis.id)

    def _problem(self, message: str) -> None:
        self.problems.append(message)
        log.info("%s", message)  # callers show `problems` themselves: not a second time here

    # ---- analyses ---------------------------------------------------------------------------

    def add_analysis(
        self,
        analysis: Analysis,
        closeups: dict[int, Any] | None = None,
        examiner: str = "",
        *,
        forensic_maps: dict[str, np.ndarray] | None = None,
    ) -> Path:
        """Store an analysis, its close-ups (PIL images keyed by region number) and its forensic
        maps (2-D [0, 1] arrays keyed by analysis name).

        Close-ups and maps are written first and the analysis JSON last, so an analysis file never
        exists without them. Each map's relative path is set as the "map" of its result in
        ``analysis.forensics`` (the caller's object too). Earlier analyses of the same evidence
        stay as history.
        """
        if analysis.id in self._by_id:
            raise CaseError(f"analysis {analysis.id} is already in the case")
        entry = write_analysis(self.root, analysis, closeups, forensic_maps)
        analysis = entry.analysis  # the cache holds what the disk holds
        self._by_id[analysis.id] = entry
        self._index(analysis)
        initial, final = analysis.initial_verdict, analysis.final_verdict
        verdicts = f"{initial or 'unparsed'} → {final or 'unparsed'}"
        self.log(
            "analysed", examiner, analysis.evidence.sha256, analysis.evidence.path,
            f"analysis {analysis.id}: {verdicts}; model {analysis.model.model_id}",
            analysis_id=analysis.id,
        )  # fmt: skip
        return entry.path

    def _stored(self, analysis_id: str) -> StoredAnalysis:
        try:
            return self._by_id[analysis_id]
        except KeyError:
            raise CaseError(f"no analysis {analysis_id!r} in case {self.root}") from None

    def get(self, analysis_id: str) -> Analysis:
        return self._stored(analysis_id).analysis

    def latest(self) -> list[Analysis]:
        """The latest analysis of each evidence file, sorted by evidence path.

        A file is its path: one re-analysed after its bytes changed shows only its newest
        analysis (the older ones are its history), and two paths holding identical bytes are two
        files, each with its own analysis.
        """
        newest: dict[str, str] = {}
        for analysis_id in self._order:
            newest[self._by_id[analysis_id].analysis.evidence.path] = analysis_id
        latest = [self._by_id[i].analysis for i in newest.values()]
        return sorted(latest, key=lambda a: (a.evidence.path, a.evidence.sha256))

    def history(self, sha256: str) -> list[Analysis]:
        """Every analysis of these bytes (whatever path they were found at), oldest first."""
        return [self._by_id[i].analysis for i in self._by_sha.get(sha256, [])]

    def analysis_ids_for(self, sha256: str) -> list[str]:
        return list(self._by_sha.get(sha256, []))

    def has_analysis(self, sha256: str) -> bool:
        return bool(self._by_sha.get(sha256))

    def all_analyses(self) -> list[Analysis]:
        return [self._by_id[i].analysis for ids in self._by_sha.values() for i in ids]

    def update_examiner(
        self,
        analysis_id: str,
        examiner: str,
        notes: str = "",
        override_verdict: str | None = None,
    ) -> Analysis:
        """Record the examiner's notes and override on one analysis (file rewritten atomically)."""
        if override_verdict is not None and override_verdict not in OVERRIDE_VERDICTS:
            raise CaseError(
                f"override verdict must be one of {', '.join(OVERRIDE_VERDICTS)} or none, "
                f"not {override_verdict!r}"
            )
        entry = self._stored(analysis_id)
        analysis = entry.analysis
        previous = analysis.examiner
        updated = ExaminerInput(examiner or "", notes or "", override_verdict, utc_now())
        data = analysis.to_dict()
        data["examiner"] = asdict(updated)
        atomic_write_json(entry.path, data)
        analysis.examiner = updated
        detail = f"analysis {analysis_id}: override {override_verdict or 'none'}"
        if previous.override_verdict != override_verdict:
            detail += f" (was {previous.override_verdict or 'none'})"
        detail += "; notes updated" if previous.notes != updated.notes else ""
        self.log(
            "examiner-input", examiner, analysis.evidence.sha256, analysis.evidence.path, detail,
            analysis_id=analysis_id,
        )  # fmt: skip
        return analysis

    # ---- custody ----------------------------------------------------------------------------

    def log(self, action: str, examiner: str, sha256: str, file: str, detail: str = "", *,
            analysis_id: str | None = None) -> dict[str, Any]:
        """Append one entry to the custody log (see :mod:`inspector.core.custody_log`)."""
        return append_custody(self.custody_file, action, examiner, sha256, file, detail,
                              analysis_id)

    def custody(self) -> list[dict[str, Any]]:
        """Every complete custody entry, in order (a line cut short by a crash is reported)."""
        entries, damaged = read_custody(self.custody_file)
        for number in damaged:
            message = f"custody log line {number} is incomplete or damaged; skipped"
            if message not in self.problems:
                self._problem(message)
        return entries

    # ---- exports ----------------------------------------------------------------------------

    def comparison_rows(self) -> list[dict[str, Any]]:
        return comparison_rows_for(self.latest())

    def write_csv(self, path: str | Path) -> None:
        write_comparison_csv(path, self.comparison_rows())

    def __repr__(self) -> str:
        return f"CaseStore({str(self.root)!r}, number={self.meta.number!r})"
