"""Where everything is in a case folder, and which names may go there.

Layout::

    DIR/case.json                                      case metadata (CaseMeta)
    DIR/analyses/<sha256>/<created>_<analysis id>.json  one file per analysis; several = history
    DIR/closeups/<analysis id>/region-<n>.png          the close-ups Query 2 saw
    DIR/closeups/<analysis id>/forensics-<name>.png    forensic analyses' maps (8-bit greyscale)
    DIR/custody.jsonl                                  append-only chain-of-custody log
    DIR/recovered/<time>/                              what interrupted saves left (case_recovery)

Analysis ids, evidence hashes and forensic analysis names become parts of paths, so each is
checked here before it is used (a :class:`CaseError` says which one is wrong).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from inspector.core.atomic import fsync_dir

__all__ = [
    "ANALYSES_DIR",
    "CASE_FILE",
    "CLOSEUPS_DIR",
    "CUSTODY_FILE",
    "CaseError",
    "analysis_file",
    "check_analysis_id",
    "closeup_path",
    "forensic_map_relpath",
    "make_dirs",
]

CASE_FILE = "case.json"
CUSTODY_FILE = "custody.jsonl"
ANALYSES_DIR = "analyses"
CLOSEUPS_DIR = "closeups"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ANALYSIS_ID = re.compile(r"^[0-9A-Za-z_-]{1,128}$")
_FORENSIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class CaseError(Exception):
    """A case folder is missing, corrupt, or cannot be used as asked; the message says why."""


def check_analysis_id(analysis_id: str) -> None:
    if not isinstance(analysis_id, str) or not _ANALYSIS_ID.match(analysis_id):
        raise CaseError(f"invalid analysis id {analysis_id!r}")


def closeup_path(root: Path, analysis_id: str, region_number: int) -> Path:
    check_analysis_id(analysis_id)
    return root / CLOSEUPS_DIR / analysis_id / f"region-{int(region_number)}.png"


def forensic_map_relpath(analysis_id: str, name: str) -> str:
    """Where an analysis's forensic map is kept, relative to the case folder (as recorded)."""
    check_analysis_id(analysis_id)
    if not _FORENSIC_NAME.match(name):
        raise CaseError(f"invalid forensic analysis name {name!r}")
    return f"{CLOSEUPS_DIR}/{analysis_id}/forensics-{name}.png"


def analysis_file(root: Path, sha256: str, created: str, analysis_id: str) -> Path:
    """The file of one analysis: its evidence hash's folder, named so that names sort by time."""
    check_analysis_id(analysis_id)
    if not _SHA256.match(sha256):
        raise CaseError(f"analysis {analysis_id} has no valid evidence SHA-256 ({sha256!r})")
    return root / ANALYSES_DIR / sha256 / f"{_compact_time(created)}_{analysis_id}.json"


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


def make_dirs(folder: Path) -> None:
    """Create ``folder`` (and parents) and make the new directory entries durable."""
    missing = []
    p = folder
    while not p.exists():
        missing.append(p)
        p = p.parent
    folder.mkdir(parents=True, exist_ok=True)
    for created in reversed(missing):
        fsync_dir(created.parent)
