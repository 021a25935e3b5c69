"""The comparison table of a case or a batch: one row per image, initial against final verdict
and the examiner's verdict of record; written as CSV for spreadsheets (``--csv``, File › Export).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from inspector.core.atomic import atomic_write_bytes
from inspector.core.results import Analysis

__all__ = ["COMPARISON_COLUMNS", "comparison_rows_for", "write_comparison_csv"]

COMPARISON_COLUMNS = (
    "file", "sha256", "initial", "final", "changed", "confidence", "regions", "seconds",
    "verdict_of_record", "override", "override_by", "override_at", "examiner_notes",
    "follows_findings",
)  # fmt: skip



def comparison_rows_for(analyses: Iterable[Analysis]) -> list[dict[str, Any]]:
    """One row per analysis: initial vs final verdict (None = unparsed), as the report shows.

    ``verdict_of_record`` is the examiner's override when there is one, else the final verdict;
    ``override_by`` / ``override_at`` say who overrode and when (empty without an override), and
    ``examiner_notes`` why. ``follows_findings`` is False when the final verdict agrees with
    none of Query 2's findings, None when there is nothing to compare
    (:attr:`Analysis.follows_findings`).
    """
    rows = []
    for a in analyses:
        overridden = a.overridden
        rows.append({
            "file": a.evidence.path,
            "sha256": a.evidence.sha256,
            "initial": a.initial_verdict,
            "final": a.final_verdict,
            "changed": a.changed,
            "confidence": a.final_confidence,
            "regions": len(a.regions),
            "seconds": a.timings.get("total"),
            "verdict_of_record": a.verdict_of_record,
            "override": a.examiner.override_verdict,
            "override_by": a.examiner.examiner if overridden else "",
            "override_at": (a.examiner.updated or "") if overridden else "",
            "examiner_notes": a.examiner.notes,
            "follows_findings": a.follows_findings,
        })  # fmt: skip
    return rows


def _csv_text(value: Any) -> str:
    # Spreadsheets run cells starting with these as formulas; evidence file names, examiner names
    # and notes are untrusted text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r", "\n"):
        return "'" + value
    return value


def write_comparison_csv(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write the comparison table as CSV (UTF-8 with BOM, for spreadsheets), atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COMPARISON_COLUMNS)
    for row in rows:
        changed = row["changed"]
        conf = row["confidence"]
        seconds = row["seconds"]
        writer.writerow([
            _csv_text(row["file"]),
            row["sha256"],
            row["initial"] or "unparsed",
            row["final"] or "unparsed",
            {True: "yes", False: "no", None: ""}[changed],
            "" if conf is None else f"{conf:.4f}",
            row["regions"],
            "" if seconds is None else f"{seconds:.3f}",
            row["verdict_of_record"] or "unparsed",
            row["override"] or "",
            _csv_text(row["override_by"] or ""),
            row["override_at"] or "",
            _csv_text(row["examiner_notes"] or ""),
            {True: "yes", False: "no", None: ""}[row["follows_findings"]],
        ])  # fmt: skip
    atomic_write_bytes(path, buf.getvalue().encode("utf-8-sig"))
