"""What an interrupted save leaves in a case folder, and moving it into the recovered folder.

A save killed part-way (power cut, ``kill -9``) can leave two kinds of leftovers:

* temp files of atomic writes (``.<name>.<random>.tmp``, see :mod:`inspector.core.atomic`);
* close-up folders (``closeups/<analysis id>``) whose analysis file was never written: an analysis
  is stored close-ups first and its JSON last.

Neither is ever read as part of the case. Opening the case moves them, keeping their paths, into
``recovered/<time>/`` (the *recovered folder*), so they stop coming back as notes on every open and
nothing is deleted: an examiner can still look at them. Leftovers younger than
:data:`LEFTOVER_MIN_AGE` stay where they are, since another window or command may be saving into
the same case right now.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from inspector.core.atomic import TEMP_SUFFIX, fsync_dir, is_temp_name

__all__ = [
    "LEFTOVER_MIN_AGE",
    "RECOVERED_DIR",
    "Leftovers",
    "find_leftovers",
    "move_leftovers",
    "recover_leftovers",
]

RECOVERED_DIR = "recovered"
# A save writes its close-ups, maps and JSON within seconds; anything older is no save under way.
LEFTOVER_MIN_AGE = 60.0  # seconds


@dataclass
class Leftovers:
    """Paths relative to the case folder, split by whether they are old enough to move."""

    temp_files: list[Path] = field(default_factory=list)
    closeup_folders: list[Path] = field(default_factory=list)
    recent: list[Path] = field(default_factory=list)  # left in place: a save may be under way

    @property
    def to_move(self) -> list[Path]:
        return [*self.closeup_folders, *self.temp_files]


def _newest_change(path: Path) -> float:
    """The latest modification time of ``path`` or anything in it."""
    times = [path.stat().st_mtime]
    if path.is_dir():
        times += [p.stat().st_mtime for p in path.rglob("*")]
    return max(times)


def find_leftovers(root: Path, closeups_dir: Path, analysis_ids: Iterable[str],
                   analysis_files: Iterable[Path], now: float | None = None) -> Leftovers:
    """The leftovers in the case at ``root``.

    A close-up folder is kept when any analysis file names its id (``<created>_<id>.json``), even
    one this version cannot read (a newer schema, a damaged file): its close-ups are not orphans.
    """
    now = time.time() if now is None else now
    # the created time in a file name has no "_": the id is all after the first one
    named = set(analysis_ids) | {path.stem.partition("_")[2] for path in analysis_files}
    found = Leftovers()

    def sort(path: Path, kind: list[Path]) -> None:
        young = now - _newest_change(path) < LEFTOVER_MIN_AGE
        (found.recent if young else kind).append(path.relative_to(root))

    orphans = []
    if closeups_dir.is_dir():
        orphans = [f for f in sorted(closeups_dir.iterdir()) if f.is_dir() and f.name not in named]
    for folder in orphans:
        sort(folder, found.closeup_folders)
    recovered = root / RECOVERED_DIR
    for path in sorted(root.rglob(f".*{TEMP_SUFFIX}")):
        if (path.is_file() and is_temp_name(path) and recovered not in path.parents
                and not any(folder in path.parents for folder in orphans)):
            sort(path, found.temp_files)
    return found


def move_leftovers(root: Path, leftovers: Leftovers) -> Path:
    """Move every old-enough leftover into a new ``recovered/<time>/`` folder of the case,
    keeping its path; the folder (relative to ``root``). Nothing is deleted; OSError when a move
    fails (what was moved before stays moved and in place; the caller says so)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = root / RECOVERED_DIR / stamp
    suffix = 1
    while target.exists():
        suffix += 1
        target = root / RECOVERED_DIR / f"{stamp}-{suffix}"
    for relative in leftovers.to_move:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(root / relative, destination)
        fsync_dir(destination.parent)
        fsync_dir((root / relative).parent)
    return target.relative_to(root)


def recover_leftovers(root: Path, closeups_dir: Path, analysis_ids: Iterable[str],
                      analysis_files: Iterable[Path], log_move: Callable[[str, str], None]
                      ) -> tuple[list[str], list[Path]]:
    """Find the leftovers of the case at ``root`` and move the old enough ones aside.

    ``log_move(folder, detail)`` writes the one custody entry of a move. Returns the notes for
    the user (one for a move; one per leftover left in place) and the temp files still in the
    case.
    """
    found = find_leftovers(root, closeups_dir, analysis_ids, analysis_files)
    notes: list[str] = []
    stray = []
    for relative in found.recent:
        path = root / relative
        if path.is_dir():
            notes.append(f"ignored close-ups without an analysis (a save under way, or an "
                         f"interrupted one): {path}")
        else:
            stray.append(path)
            notes.append(f"ignored a temp file left by a save under way or interrupted: {path}")
    if not found.to_move:
        return notes, stray
    folders, temps = len(found.closeup_folders), len(found.temp_files)
    what = " and ".join(filter(None, [
        f"{temps} temp file{'s' if temps != 1 else ''}" if temps else "",
        f"{folders} close-up folder{'s' if folders != 1 else ''} without an analysis"
        if folders else "",
    ]))  # fmt: skip
    try:
        moved_to = move_leftovers(root, found)
        log_move(moved_to.as_posix(),
                 f"moved {what} left by interrupted saves to {moved_to.as_posix()} "
                 f"(nothing deleted): " + ", ".join(p.as_posix() for p in found.to_move))
    except OSError as exc:
        notes.append(f"could not move {what} left by interrupted saves into "
                     f"{root / RECOVERED_DIR}: {exc.strerror or exc}")
        return notes, stray + [root / p for p in found.temp_files if (root / p).exists()]
    notes.append(f"moved {what} left by interrupted saves to {root / moved_to} (nothing deleted)")
    return notes, stray
