"""The case report: a PDF an investigator can put in a case file.

Structure: a cover (case, examiner, dates, software, model provenance, how to read the report, its
limitations — stated once), a summary table (thumbnail, file, short hash, initial and corrected
verdicts, the change, P(AI-generated), the verdict of record with the examiner's override), then
one section per image (:mod:`~inspector.report.image_page`; with the forensic analyses where
they were run, :mod:`~inspector.report.forensics_section`), and the chain of custody. Every page
has a footer "LTE Inspector <version> — Case <n> — page i of N". The machine-readable results
are embedded as the file attachment ``case-results.json``.

This module holds the entry points; the sections are laid out by
:class:`~inspector.report.document.ReportDocument`. To render a case and record the export in its
custody log, use :func:`inspector.report.export.export_case_report`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtCore import QByteArray
from PySide6.QtGui import QPageSize, QPdfWriter

from inspector import __version__
from inspector.core.atomic import replacing
from inspector.core.results import Analysis
from inspector.report.case_facts import case_facts, meta_dict
from inspector.report.document import CloseupLoader, ReportDocument
from inspector.report.drawing import BOX_COLOURS, RESOLUTION, ensure_app
from inspector.report.evidence import ImageLoader
from inspector.report.front_matter import ATTACHMENT_NAME
from inspector.report.text_lines import clean_text

__all__ = [
    "ATTACHMENT_NAME",
    "BOX_COLOURS",
    "PAGE_SIZES",
    "render_case_report",
    "render_report",
    "results_json",
]

PAGE_SIZES = {"A4": QPageSize.PageSizeId.A4, "LETTER": QPageSize.PageSizeId.Letter}

def _page_size_id(page_size: str) -> QPageSize.PageSizeId:
    key = page_size.strip().upper()
    if key not in PAGE_SIZES:
        raise ValueError(f"page size {page_size!r} is not supported (use A4 or Letter)")
    return PAGE_SIZES[key]


def results_json(analyses: Sequence[Analysis], meta: Any,
                 custody: Sequence[dict[str, Any]] | None = None) -> bytes:
    """The machine-readable results embedded in the report."""
    data = {
        "case": meta_dict(meta),
        "analyses": [a.to_dict() for a in analyses],
        "custody": list(custody or []),
        "software": f"LTE Inspector {__version__}",
    }
    return json.dumps(data, ensure_ascii=False, indent=2, default=str).encode("utf-8")


def render_report(
    analyses: Sequence[Analysis],
    meta: Any,
    out_path: Path | str,
    page_size: str = "A4",
    image_loader: ImageLoader | None = None,
    closeup_loader: CloseupLoader | None = None,
    *,
    custody: Sequence[dict[str, Any]] | None = None,
    base_dir: Path | None = None,
    exported_by: str = "",
) -> int:
    """Write the PDF report of `analyses` to `out_path`; returns the number of pages.

    `meta` has (as attributes or keys) number, title, examiner, created. `image_loader(path)`
    reads an evidence file (default :func:`inspector.core.imageio.load_image`);
    `closeup_loader(analysis_id, region_number)` returns the stored close-up as a PIL image or
    None. `base_dir` is the case folder (relative evidence paths are looked for there; its name
    is the title of a case that has none); `exported_by` names who exports the report. The file
    is written to a temporary name and renamed into place.
    """
    if image_loader is None:
        from inspector.core.imageio import load_image

        image_loader = load_image
    size_id = _page_size_id(page_size)
    ensure_app()
    out_path = Path(out_path)
    custody = list(custody or [])
    payload = results_json(analyses, meta, custody)
    facts = case_facts(meta, analyses, custody, base_dir, exported_by)
    with replacing(out_path) as tmp:
        writer = QPdfWriter(str(tmp))
        try:
            writer.setResolution(RESOLUTION)
            writer.setPageSize(QPageSize(size_id))
            writer.setTitle(
                clean_text(f"LTE Inspector report — {facts.heading}", single_line=True)
            )
            writer.setCreator(f"LTE Inspector {__version__}")
            if facts.examiner and hasattr(writer, "setAuthor"):
                writer.setAuthor(clean_text(facts.examiner, single_line=True))
            writer.addFileAttachment(ATTACHMENT_NAME, QByteArray(payload), "application/json")
            doc = ReportDocument(writer, analyses, facts, image_loader, closeup_loader, custody,
                                 hashlib.sha256(payload).hexdigest(),
                                 "Letter" if size_id == QPageSize.PageSizeId.Letter else "A4",
                                 base_dir)
            doc.build()
            pages = doc.pw.finish()  # QPainter.end() writes the trailer and closes the file
            del doc
        finally:
            del writer  # the file is complete only once the writer is gone
    return pages


def render_case_report(store: Any, out_path: Path | str, page_size: str = "A4",
                       exported_by: str = "") -> int:
    """Render the report of a case store (its latest analysis of every image); returns the
    number of pages. Nothing is logged: :func:`inspector.report.export.export_case_report`
    renders and records the export in the custody log."""

    def closeup_loader(analysis_id: str, region: int) -> Image.Image | None:
        path = Path(store.closeup_path(analysis_id, region))
        if not path.is_file():
            return None
        with Image.open(path) as im:
            im.load()
            return im.copy()

    custody_fn = getattr(store, "custody", None)
    custody = list(custody_fn()) if callable(custody_fn) else []
    root = getattr(store, "root", None)
    return render_report(
        store.latest(), store.meta, out_path, page_size, closeup_loader=closeup_loader,
        custody=custody, base_dir=Path(root) if root is not None else None,
        exported_by=exported_by,
    )
