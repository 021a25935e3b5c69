"""PDF reports of a case (QtGui QPdfWriter/QPainter; runs offscreen without a display)."""

from __future__ import annotations

from inspector.report.export import ReportExport, export_case_report
from inspector.report.pdf import PAGE_SIZES, render_case_report, render_report

__all__ = ["PAGE_SIZES", "ReportExport", "export_case_report", "render_case_report",
           "render_report"]
