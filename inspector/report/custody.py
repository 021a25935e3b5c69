"""The chain-of-custody section: the case's append-only log as recorded, one row per entry, with
who did it (the examiner the entry names, else the case's examiner, marked), when (to the second,
never broken inside a date or a time), what, and the details in readable lines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QColor, QFont

from inspector.core.wording import format_time_seconds
from inspector.report.case_facts import custody_examiner
from inspector.report.drawing import MUTED, Fonts
from inspector.report.table import Cell, Column
from inspector.report.text_lines import clean_text
from inspector.report.texts import action_label, field_label, recorded

if TYPE_CHECKING:
    from inspector.report.document import ReportDocument

__all__ = ["custody_section", "custody_when"]

_TIME_KEYS = ("time", "when", "timestamp", "at")
_ACTION_KEYS = ("action", "what", "event")
_WHO_KEYS = ("who", "examiner", "user", "actor")


def custody_when(entry: dict[str, Any]) -> str:
    """"2026-12-02\\n17:03:05 UTC": the date and the time each on a line of its own."""
    for key in _TIME_KEYS:
        if entry.get(key):
            text = format_time_seconds(str(entry[key]))
            date, _, time = text.partition(" ")
            return f"{date}\n{time}" if time else text
    return "—"


def _details(entry: dict[str, Any], f: Fonts) -> Cell:
    """The entry's detail, file, SHA-256 (one unbroken line) and anything else, line by line."""
    detail = str(entry.get("detail") or "")
    lines = [detail] if detail else []
    if entry.get("file"):
        lines.append(f"File: {entry['file']}")
    parts: list[tuple[str, QFont | None, QColor | None]] = []
    if entry.get("sha256"):
        parts = [("SHA-256:", f.small, None), (clean_text(str(entry["sha256"])), f.mono_small,
                                               None)]
    aid = entry.get("analysis_id")
    if aid and str(aid) not in detail:
        lines.append(f"Analysis: {aid}")
    known = {"detail", "file", "sha256", "analysis_id", *_TIME_KEYS, *_ACTION_KEYS, *_WHO_KEYS}
    for key, value in entry.items():
        if key not in known and value not in (None, "", [], {}):
            lines.append(f"{field_label(str(key))}: {recorded(value)}")
    text = clean_text("\n".join(lines)) if lines else ("" if parts else "—")
    return Cell(text, font=f.small, parts=parts)


def custody_section(doc: ReportDocument) -> None:
    pw, f = doc.pw, doc.f
    doc.heading("Chain of custody", f.h1, before_mm=0)
    pw.text("The case's append-only custody log, as recorded (times in UTC).", f.body)
    rows, unnamed = [], False
    whens, whos, whats = ["0000-00-00", "00:00:00 UTC"], [], []
    for raw in doc.custody:
        entry = dict(raw) if isinstance(raw, dict) else {"detail": str(raw)}
        who = custody_examiner(entry, doc.facts)
        if who.endswith(" (case examiner)"):
            unnamed = True
            who = who.removesuffix(" (case examiner)") + "\n(case examiner)"
        action = action_label(next((str(entry[k]) for k in _ACTION_KEYS if entry.get(k)), ""))
        whos += who.split("\n")
        whats.append(action)
        rows.append([custody_when(entry), clean_text(who), action, _details(entry, f)])
    # Columns as wide as their words (within limits); the details get the rest, which holds a
    # SHA-256 on one line.
    fm, pad = pw.metrics(f.small), 2 * pw.mm(1.2) + pw.mm(1.0)

    def width(texts: list[str], low_mm: float, high_mm: float) -> float:
        widest = max((fm.horizontalAdvance(t) for t in texts), default=0.0)
        return min(max(widest + pad, pw.mm(low_mm)), pw.mm(high_mm)) / pw.width

    when_w, who_w, what_w = width(whens, 15, 30), width(whos, 16, 34), width(whats, 14, 30)
    pw.table([Column("When", when_w), Column("Who", who_w), Column("What", what_w),
              Column("Details", 1 - when_w - who_w - what_w)], rows, f.small,
             header_font=f.small_bold)
    if unnamed:
        pw.text("\"(case examiner)\": the log entry names no examiner; the case's examiner "
                f"({doc.facts.examiner}) is shown.", f.small, MUTED)
