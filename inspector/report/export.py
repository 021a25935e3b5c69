"""Export a case's PDF report and record it in the case's custody log — the one way the command
line and the window do it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspector.core.file_hash import file_sha256
from inspector.report.pdf import render_case_report

__all__ = ["ReportExport", "export_case_report"]


@dataclass(frozen=True)
class ReportExport:
    pages: int
    sha256: str  # of the PDF as written
    path: Path  # absolute


def export_case_report(store: Any, out_path: Path | str, page_size: str = "A4",
                       examiner: str = "") -> ReportExport:
    """Render the case report of `store` (a :class:`~inspector.core.casestore.CaseStore`) to
    `out_path`, hash the PDF, and append a "report-exported" entry naming `examiner` to the
    custody log. Raises what rendering raises (OSError, ValueError for a page size); nothing is
    logged then."""
    path = Path(out_path).resolve()
    pages = render_case_report(store, path, page_size, exported_by=examiner)
    sha = file_sha256(path)
    store.log("report-exported", examiner, sha, str(path),
              f"PDF report, {pages} pages, {page_size}")
    return ReportExport(pages, sha, path)
