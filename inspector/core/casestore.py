"""Case store: one folder per case, written so that a crash never leaves a half-written record.

Layout::

    DIR/case.json                                      case metadata (CaseMeta)
    DIR/analyses/<sha256>/<created>_<analysis id>.json  one file per analysis; several = history
    DIR/closeups/<analysis id>/region-<n>.png          the close-ups Query 2 saw
    DIR/closeups/<analysis id>/forensics-<name>.png    forensic analyses' maps (8-bit greyscale)
    DIR/custody.jsonl                                  append-only chain-of-custody log

Every file except the custody log is written atomically (temp file in the same folder, fsync,
``os.replace``, fsync of the folder), so a reader sees either the old file or the new one, never a
partial one. An analysis is stored close-ups first and its JSON last: once the JSON exists, its
close-ups do too. The custody log is only ever appended to (``O_APPEND``, one ``write`` per line,
fsync). Evidence files are never opened by the store; it records their hashes only.

A crash can leave stray temp files (``.<name>.<random>.tmp``) or close-ups whose analysis JSON was
never written; they are never read as part of the case. Opening the case moves them into
``DIR/recovered/<time>/`` with one custody entry (:mod:`inspector.core.case_recovery`; nothing is
deleted) and says so once in :attr:`CaseStore.problems`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inspector import __version__
from inspector.core.atomic import (  # noqa: F401  (atomic_write_json: re-exported)
    atomic_write_bytes,
    atomic_write_json,
    fsync_dir,
    is_temp_name,
)
from inspector.core.case_recovery import recover_leftovers
from inspector.core.comparison import comparison_rows_for, write_comparison_csv
from inspector.core.forensics import map_png_bytes
from inspector.core.results import OVERRIDE_VERDICTS, Analysis, ExaminerInput, utc_now

__all__ = [
    "CASE_SCHEMA_VERSION",
    "CaseError",
    "CaseMeta",
    "CaseStore",
    "atomic_write_bytes",
    "atomic_write_json",
]

log = logging.getLogger(__name__)

CASE_SCHEMA_VERSION = 1
CASE_FILE = "case.json"
CUSTODY_FILE = "custody.jsonl"
ANALYSES_DIR = "analyses"
CLOSEUPS_DIR = "closeups"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ANALYSIS_ID = re.compile(r"^[0-9A-Za-z_-]{1,128}$")
_FORENSIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class CaseError(Exception):
    """A case folder is missing, corrupt, or cannot be used as asked; the message says why."""


def _mkdir(folder: Path) -> None:
    """Create ``folder`` (and parents) and make the new directory entries durable."""
    missing = []
    p = folder
    while not p.exists():
        missing.append(p)
        p = p.parent
    folder.mkdir(parents=True, exist_ok=True)
    for created in reversed(missing):
        fsync_dir(created.parent)


# --------------------------------------------------------------------------------------------
# Case metadata
# --------------------------------------------------------------------------------------------


@dataclass
class CaseMeta:
    number: str
    title: str = ""
    examiner: str = ""
    created: str = field(default_factory=utc_now)
    software_version: str = __version__
    schema_version: int = CASE_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {"schema_version": data.pop("schema_version"), **data}

    @classmethod
    def from_dict(cls, data: Any) -> CaseMeta:
        if not isinstance(data, dict):
            raise ValueError("case.json does not hold a JSON object")
        version = data.get("schema_version")
        if not isinstance(version, int) or version > CASE_SCHEMA_VERSION:
            raise ValueError(
                f"case schema version {version!r} is not supported by this version of the app "
                f"(it reads up to {CASE_SCHEMA_VERSION}); update LTE Inspector"
            )
        if not isinstance(data.get("number"), str):
            raise ValueError("case.json has no case number")
        return cls(
            number=data["number"],
            title=str(data.get("title", "")),
            examiner=str(data.get("examiner", "")),
            created=str(data.get("created", "")),
            software_version=str(data.get("software_version", "")),
            schema_version=version,
        )


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------


def _compact_time(iso: str) -> str:
    """'2026-11-22T12:00:00+00:00' → '20261122T120000Z' (safe in file names on every OS)."""
    try:
        moment = dt.datetime.fromisoformat(iso)
    except ValueError:
        return re.sub(r"[^0-9A-Za-z]", "", iso)[:32] or "undated"
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    text = moment.strftime("%Y%m%dT%H%M%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + ("Z" if moment.tzinfo is not None else "")


def _is_temp(path: Path) -> bool:
    return is_temp_name(path)


@dataclass
class _Stored:
    analysis: Analysis
    path: Path


class CaseStore:
    """A case folder. Use :meth:`create`, :meth:`open` or :meth:`open_or_create`."""

    def __init__(self, root: Path, meta: CaseMeta) -> None:  # use the class methods
        self.root = Path(root)
        self.meta = meta
        self.problems: list[str] = []  # what opening found wrong (ignored, not fatal)
        self.stray_temp_files: list[Path] = []  # left in place: a save may still be under way
        self._by_id: dict[str, _Stored] = {}
        self._by_sha: dict[str, list[str]] = {}  # sha256 -> analysis ids, oldest first
        self._order: list[str] = []  # every analysis id, oldest first

    # ---- paths ------------------------------------------------------------------------------

    @property
    def case_file(self) -> Path:
        return self.root / CASE_FILE

    @property
    def custody_file(self) -> Path:
        return self.root / CUSTODY_FILE

    @property
    def analyses_dir(self) -> Path:
        return self.root / ANALYSES_DIR

    @property
    def closeups_dir(self) -> Path:
        return self.root / CLOSEUPS_DIR

    def closeup_path(self, analysis_id: str, region_number: int) -> Path:
        _check_id(analysis_id)
        return self.closeups_dir / analysis_id / f"region-{int(region_number)}.png"

    def forensic_map_relpath(self, analysis_id: str, name: str) -> str:
        """Where an analysis's forensic map is kept, relative to the case folder (as recorded)."""
        _check_id(analysis_id)
        if not _FORENSIC_NAME.match(name):
            raise CaseError(f"invalid forensic analysis name {name!r}")
        return f"{CLOSEUPS_DIR}/{analysis_id}/forensics-{name}.png"

    def analysis_path(self, analysis_id: str) -> Path:
        try:
            return self._by_id[analysis_id].path
        except KeyError:
            raise CaseError(f"no analysis {analysis_id!r} in case {self.root}") from None

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
            others = [p.name for p in root.iterdir() if not _is_temp(p)]
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
            _mkdir(root)
            _mkdir(root / ANALYSES_DIR)
            _mkdir(root / CLOSEUPS_DIR)
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
        case_file = root / CASE_FILE
        if not root.is_dir():
            raise CaseError(f"no case folder at {root}")
        if not case_file.is_file():
            raise CaseError(f"{root} is not a case folder (it has no {CASE_FILE})")
        try:
            meta = CaseMeta.from_dict(json.loads(case_file.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CaseError(f"the case file {case_file} is unreadable or corrupt: {exc}") from exc
        except (ValueError, TypeError) as exc:
            raise CaseError(f"the case file {case_file} is not valid: {exc}") from exc
        store = cls(root, meta)
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
        self._by_id = {}
        self._by_sha = {}
        self._order = []
        self.stray_temp_files = []
        analysis_files: list[Path] = []
        stored: list[_Stored] = []
        if self.analyses_dir.is_dir():
            for folder in sorted(self.analyses_dir.iterdir()):
                if not folder.is_dir():
                    continue
                for path in sorted(folder.glob("*.json")):
                    if _is_temp(path):
                        continue
                    analysis_files.append(path)
                    try:
                        analysis = Analysis.from_dict(json.loads(path.read_text(encoding="utf-8")))
                    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
                        self._problem(f"ignored an unreadable analysis file {path}: {exc}")
                        continue
                    if analysis.evidence.sha256 != folder.name:
                        self._problem(
                            f"ignored {path}: it describes evidence {analysis.evidence.sha256}, "
                            f"not {folder.name}"
                        )
                        continue
                    if analysis.id in self._by_id:
                        self._problem(f"ignored {path}: analysis id {analysis.id} is duplicated")
                        continue
                    entry = _Stored(analysis, path)
                    self._by_id[analysis.id] = entry
                    stored.append(entry)
        order = self._custody_order()
        stored.sort(
            key=lambda s: (s.analysis.created, order.get(s.analysis.id, len(order)), s.path.name)
        )
        for entry in stored:
            self._by_sha.setdefault(entry.analysis.evidence.sha256, []).append(entry.analysis.id)
            self._order.append(entry.analysis.id)
        self._recover_leftovers(analysis_files)

    def _recover_leftovers(self, analysis_files: list[Path]) -> None:
        """Move what interrupted saves left into the recovered folder (see case_recovery)."""
        notes, self.stray_temp_files = recover_leftovers(
            self.root, self.closeups_dir, self._by_id, analysis_files,
            lambda folder, detail: self.log("recovered-leftovers", "", "", folder, detail),
        )  # fmt: skip
        for note in notes:
            self._problem(note)

    def _problem(self, message: str) -> None:
        self.problems.append(message)
        log.info("%s", message)  # callers show `problems` themselves: not a second time here

    def _custody_order(self) -> dict[str, int]:
        order: dict[str, int] = {}
        for index, entry in enumerate(self.custody()):
            analysis_id = entry.get("analysis_id")
            if entry.get("action") == "analysed" and isinstance(analysis_id, str):
                order.setdefault(analysis_id, index)
        return order

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
        _check_id(analysis.id)
        sha = analysis.evidence.sha256
        if not _SHA256.match(sha):
            raise CaseError(f"analysis {analysis.id} has no valid evidence SHA-256 ({sha!r})")
        if analysis.id in self._by_id:
            raise CaseError(f"analysis {analysis.id} is already in the case")
        for number, image in sorted((closeups or {}).items()):
            folder = self.closeups_dir / analysis.id
            _mkdir(folder)
            buf = io.BytesIO()
            image.save(buf, format="PNG")
            atomic_write_bytes(self.closeup_path(analysis.id, number), buf.getvalue())
        for name, values in sorted((forensic_maps or {}).items()):
            result = (analysis.forensics or {}).get(name)
            if result is None or values is None:  # a map without its result is not kept
                continue
            relpath = self.forensic_map_relpath(analysis.id, name)
            _mkdir(self.closeups_dir / analysis.id)
            atomic_write_bytes(self.root / relpath, map_png_bytes(values))
            result["map"] = relpath
        folder = self.analyses_dir / sha
        _mkdir(folder)
        path = folder / f"{_compact_time(analysis.created)}_{analysis.id}.json"
        atomic_write_json(path, analysis.to_dict())
        analysis = Analysis.from_dict(analysis.to_dict())  # the cache holds what the disk holds
        self._by_id[analysis.id] = _Stored(analysis, path)
        self._by_sha.setdefault(sha, []).append(analysis.id)
        self._order.append(analysis.id)
        initial, final = analysis.initial_verdict, analysis.final_verdict
        verdicts = f"{initial or 'unparsed'} → {final or 'unparsed'}"
        self.log(
            "analysed", examiner, sha, analysis.evidence.path,
            f"analysis {analysis.id}: {verdicts}; model {analysis.model.model_id}",
            analysis_id=analysis.id,
        )  # fmt: skip
        return path

    def get(self, analysis_id: str) -> Analysis:
        try:
            return self._by_id[analysis_id].analysis
        except KeyError:
            raise CaseError(f"no analysis {analysis_id!r} in case {self.root}") from None

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
        entry = self._by_id.get(analysis_id)
        if entry is None:
            raise CaseError(f"no analysis {analysis_id!r} in case {self.root}")
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

    def log(
        self,
        action: str,
        examiner: str,
        sha256: str,
        file: str,
        detail: str = "",
        *,
        analysis_id: str | None = None,
    ) -> dict[str, Any]:
        """Append one line to the custody log (O_APPEND, one write, fsync); never rewrites it."""
        entry: dict[str, Any] = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "examiner": examiner or "",
            "action": action,
            "sha256": sha256 or "",
            "file": str(file or ""),
            "detail": detail or "",
        }
        if analysis_id is not None:
            entry["analysis_id"] = analysis_id
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        path = self.custody_file
        new = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0),
                     0o644)
        try:
            if not new and not _ends_with_newline(path):
                line = b"\n" + line  # a crash cut the last line short: keep ours separate
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if new:
            fsync_dir(path.parent)
        return entry

    def custody(self) -> list[dict[str, Any]]:
        """Every complete custody line, in order (a line cut short by a crash is reported)."""
        try:
            data = self.custody_file.read_bytes()
        except FileNotFoundError:
            return []
        entries = []
        for number, raw in enumerate(data.split(b"\n"), start=1):
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw.decode("utf-8"))
                if not isinstance(entry, dict):
                    raise ValueError("not an object")
            except (UnicodeDecodeError, ValueError):
                message = f"custody log line {number} is incomplete or damaged; skipped"
                if message not in self.problems:
                    self._problem(message)
                continue
            entries.append(entry)
        return entries

    # ---- exports ----------------------------------------------------------------------------

    def comparison_rows(self) -> list[dict[str, Any]]:
        return comparison_rows_for(self.latest())

    def write_csv(self, path: str | Path) -> None:
        write_comparison_csv(path, self.comparison_rows())

    def __repr__(self) -> str:
        return f"CaseStore({str(self.root)!r}, number={self.meta.number!r})"


def _check_id(analysis_id: str) -> None:
    if not isinstance(analysis_id, str) or not _ANALYSIS_ID.match(analysis_id):
        raise CaseError(f"invalid analysis id {analysis_id!r}")


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() == 0:
            return True
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"
