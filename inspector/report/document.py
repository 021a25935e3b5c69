"""One report being laid out: the page writer, fonts, case facts, the analyses with their
re-checked evidence files and the distinct models, plus the small helpers every section uses.

The sections themselves live in :mod:`~inspector.report.front_matter` (cover, how to read,
limitations, summary), :mod:`~inspector.report.image_page` and :mod:`~inspector.report.custody`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtGui import QColor, QFont, QPdfWriter

from inspector import __version__
from inspector.core.results import Analysis, ModelProvenance
from inspector.report import custody, forensics_section, front_matter, image_page
from inspector.report.case_facts import CaseFacts
from inspector.report.drawing import Fonts, fit
from inspector.report.evidence import EvidenceCheck, ImageLoader, check_evidence
from inspector.report.layout import PageWriter
from inspector.report.table import Cell, Column

__all__ = ["CloseupLoader", "ReportDocument"]

CloseupLoader = Callable[[str, int], "Image.Image | None"]

THUMB_MM = (16, 12)  # summary-table thumbnails


def _model_key(m: ModelProvenance) -> str:
    return json.dumps(dataclasses.asdict(m), sort_keys=True, default=str)


class ReportDocument:
    def __init__(self, writer: QPdfWriter, analyses: Sequence[Analysis], facts: CaseFacts,
                 image_loader: ImageLoader, closeup_loader: CloseupLoader | None,
                 custody: list[dict[str, Any]], attachment_sha: str, page_size: str,
                 base_dir: Path | None) -> None:
        self.f = Fonts.make()
        self.analyses = list(analyses)
        self.facts = facts
        self.closeup_loader = closeup_loader
        self.custody = custody
        self.attachment_sha = attachment_sha
        self.page_size = page_size
        self.base_dir = base_dir  # the case folder: relative evidence and map paths
        self.pw = PageWriter(
            writer,
            footer=lambda i, n: (
                f"LTE Inspector {__version__} — Case {facts.number} — page {i} of {n}"
            ),
            footer_font=self.f.footer,
        )
        self.mm = self.pw.mm(1.0)
        self.models: list[ModelProvenance] = []
        seen: dict[str, int] = {}
        self.model_index: dict[str, int] = {}
        for a in self.analyses:
            key = _model_key(a.model)
            if key not in seen:
                seen[key] = len(self.models)
                self.models.append(a.model)
            self.model_index[a.id] = seen[key]
        thumb = (self.pw.mm(THUMB_MM[0]), self.pw.mm(THUMB_MM[1]))
        self.checks: dict[str, EvidenceCheck] = {
            a.id: check_evidence(a, image_loader, base_dir, self.image_size(a), thumb)
            for a in self.analyses
        }

    # -- geometry ------------------------------------------------------------------------------
    def image_size(self, a: Analysis, max_height_mm: float = image_page.PICTURE_HEIGHTS_MM[0]
                   ) -> tuple[float, float]:
        """The drawn size of an evidence picture on its page (aspect ratio kept); at most
        `max_height_mm` high (the largest by default)."""
        return fit(a.evidence.width or 4, a.evidence.height or 3, self.pw.width,
                   self.pw.mm(max_height_mm))

    @property
    def thumb_size(self) -> tuple[float, float]:
        return self.pw.mm(THUMB_MM[0]), self.pw.mm(THUMB_MM[1])

    # -- building blocks -----------------------------------------------------------------------
    def heading(self, text: str, font: QFont, color: QColor | str = "#000000",
                before_mm: float = 2.5, after_mm: float = 1.0, anchor: str | None = None) -> None:
        """A heading kept on the page of what follows it."""
        self.pw.heading(text, font, color, before=self.pw.mm(before_mm),
                        after=self.pw.mm(after_mm), anchor=anchor)

    def kv(self, rows: Iterable[tuple[str, str | Cell]], key_width: float = 0.2) -> None:
        """A two-column table of labels and values."""
        f = self.f
        table_rows = [
            [Cell(k, font=f.small_bold, fill=QColor("#F2F2F2")),
             v if isinstance(v, Cell) else Cell(v, font=f.small)]
            for k, v in rows
        ]
        self.pw.table([Column("", key_width), Column("", 1 - key_width)], table_rows, f.small,
                      padding_mm=1.0)

    def page_of(self, anchor: str) -> int | None:
        """1-based page number of a section already laid out."""
        index = self.pw.anchors.get(anchor)
        return None if index is None else index + 1

    # -- the whole report ----------------------------------------------------------------------
    def build(self) -> None:
        pw = self.pw
        front_matter.cover(self)
        forensics_section.forensic_limitations(self)  # with the limitations, once for the case
        pw.new_page()
        front_matter.summary(self)
        for k, a in enumerate(self.analyses, 1):
            pw.new_page()
            image_page.image_page(self, k, a)
        if self.custody:
            pw.new_page()
            custody.custody_section(self)
