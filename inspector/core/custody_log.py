"""A case's chain-of-custody log (``custody.jsonl``): one JSON object per line, only appended to.

Each entry is written with ``O_APPEND`` in one ``write`` and fsynced, so lines never interleave and
an entry, once returned, survives a crash. A line cut short by a crash is skipped on reading and
reported by its number; the next entry starts on a line of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from inspector.core.atomic import fsync_dir

__all__ = ["analysis_order", "append_custody", "read_custody"]


def append_custody(path: Path, action: str, examiner: str, sha256: str, file: str,
                   detail: str = "", analysis_id: str | None = None) -> dict[str, Any]:
    """Append one entry to the log at ``path`` (created if missing); never rewrites it."""
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


def read_custody(path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """Every complete entry, in order, and the numbers of the lines that are damaged (skipped)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], []
    entries, damaged = [], []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw.decode("utf-8"))
            if not isinstance(entry, dict):
                raise ValueError("not an object")
        except (UnicodeDecodeError, ValueError):
            damaged.append(number)
            continue
        entries.append(entry)
    return entries, damaged


def analysis_order(entries: list[dict[str, Any]]) -> dict[str, int]:
    """Analysis id → the position of its "analysed" entry: the order analyses were stored in."""
    order: dict[str, int] = {}
    for index, entry in enumerate(entries):
        analysis_id = entry.get("analysis_id")
        if entry.get("action") == "analysed" and isinstance(analysis_id, str):
            order.setdefault(analysis_id, index)
    return order


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() == 0:
            return True
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"
