"""The first pages of a report: the cover (case, examiner, dates, software, model provenance),
how to read the report, its limitations (stated once, for every image) and the summary table of
initial, corrected and recorded verdicts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter

from inspector import __version__
from inspector.core.results import Analysis
from inspector.core.wording import (
    AGAINST_FINDINGS,
    P_AI_LABEL,
    changed_text,
    confidence_text,
    format_time,
    format_time_seconds,
    verdict_text,
)
from inspector.report.drawing import (
    ALERT_COLOUR,
    CHANGED_COLOUR,
    DEMO_COLOUR,
    MUTED,
    draw_placeholder,
    fit,
)
from inspector.report.table import Cell, Column
from inspector.report.text_lines import clean_text
from inspector.report.texts import HOW_TO_READ, LIMITATIONS, demo_warning, recorded

if TYPE_CHECKING:
    from inspector.report.document import ReportDocument

__all__ = ["ATTACHMENT_NAME", "LIMITATIONS_ANCHOR", "cover", "summary"]

ATTACHMENT_NAME = "case-results.json"
LIMITATIONS_ANCHOR = "limitations"


def cover(doc: ReportDocument) -> None:
    pw, f, facts = doc.pw, doc.f, doc.facts
    pw.text("Forensic image analysis report", f.title, after=pw.mm(2))
    pw.text(facts.heading, f.h2, after=pw.mm(4))
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    rows: list[tuple[str, str | Cell]] = [
        ("Case number", facts.number),
        ("Case title", facts.title_line),
        ("Examiner", facts.examiner_line),
    ]
    if facts.exported_by:
        rows.append(("Report exported by", facts.exported_by))
    rows += [
        ("Case created", format_time_seconds(facts.created) or "not recorded"),
        ("Report generated", format_time_seconds(now)),
        ("Software", f"LTE Inspector {__version__}"),
        ("Images in this report", _image_count(doc)),
        ("Page size", doc.page_size),
        ("Machine-readable results",
         Cell(f"embedded file attachment {ATTACHMENT_NAME}", font=f.small,
              parts=[(f"SHA-256 {doc.attachment_sha}", f.mono, None)])),
    ]
    doc.kv((k, clean_text(v) if isinstance(v, str) else v) for k, v in rows)

    doc.heading("Model provenance", f.h2)
    if not doc.models:
        pw.text("No analyses in this case.", f.body)
    for i, model in enumerate(doc.models, 1):
        used = sum(1 for v in doc.model_index.values() if v == i - 1)
        if len(doc.models) > 1:
            doc.heading(f"Model {i} (used for {used} image{'s' * (used != 1)})", f.h3,
                        before_mm=1.5)
        if model.is_demo:
            pw.text(demo_warning(model), f.bold, DEMO_COLOUR)
        gen = (json.dumps(model.generation, sort_keys=True, ensure_ascii=False, default=str)
               if model.generation else "not recorded")
        adapter = ("none" if not model.adapter_id else
                   f"{model.adapter_id} (SHA-256 {recorded(model.adapter_sha256)})")
        doc.kv([
            ("Model", f"{recorded(model.model_id)}"
                      + (f" ({model.model_type})" if model.model_type else "")
                      + ("  —  DEMO, not a detector" if model.is_demo else "")),
            ("Revision", recorded(model.revision)),
            ("Weights SHA-256", Cell(recorded(model.weights_sha256), font=f.mono)),
            ("Adapter", adapter),
            ("Backend", f"{recorded(model.backend)}; quantization {recorded(model.quantization)}"
                        f"; {recorded(model.dtype)} on {recorded(model.device)}"),
            ("Prompts / generation", f"prompt version {recorded(model.prompts_version)}; {gen}"),
            ("Software at analysis", recorded(model.software_version)),
        ])

    doc.heading("How to read this report", f.h2)
    pw.text(HOW_TO_READ, f.body)
    doc.heading("Limitations", f.h2, anchor=LIMITATIONS_ANCHOR)
    pw.text(LIMITATIONS, f.body)


def _image_count(doc: ReportDocument) -> str:
    a = doc.analyses
    parts = [str(len(a))]
    changed = sum(1 for x in a if x.changed)
    overridden = sum(1 for x in a if x.overridden)
    files = sum(1 for x in a if not doc.checks[x.id].ok)
    if changed:
        parts.append(f"{changed} changed by Query 2")
    if overridden:
        parts.append(f"{overridden} with an examiner override")
    if files:
        parts.append(f"{files} evidence file{'s' * (files != 1)} changed or unreadable since "
                     "the analysis")
    return parts[0] + (f" ({'; '.join(parts[1:])})" if len(parts) > 1 else "")


def _record_cell(doc: ReportDocument, a: Analysis) -> Cell:
    f = doc.f
    ex = a.examiner
    if a.overridden:
        who = ex.examiner or "an unnamed examiner"
        when = format_time(ex.updated)
        return Cell(verdict_text(a.verdict_of_record), font=f.small_bold, parts=[
            (f"examiner override by {who}" + (f", {when}" if when else ""), f.small, None)])
    return Cell(verdict_text(a.verdict_of_record), font=f.small_bold,
                parts=[("the model's corrected verdict", f.small, QColor(MUTED))])


def _corrected_cell(doc: ReportDocument, a: Analysis) -> Cell | str:
    """The summary's corrected verdict, marked when none of the model's findings supports it."""
    text = verdict_text(a.final_verdict) + (" (examine skipped)" if a.query2 is None else "")
    if a.follows_findings is not False:
        return text
    return Cell(text, parts=[(AGAINST_FINDINGS, doc.f.small_bold,
                              QColor(ALERT_COLOUR))])


def summary(doc: ReportDocument) -> None:
    pw, f = doc.pw, doc.f
    doc.heading("Summary: initial, corrected and recorded verdicts", f.h1)
    n_changed = sum(1 for a in doc.analyses if a.changed)
    n_unparsed = sum(1 for a in doc.analyses
                     if a.initial_verdict is None or a.final_verdict is None)
    n_override = sum(1 for a in doc.analyses if a.overridden)
    n_against = sum(1 for a in doc.analyses if a.follows_findings is False)
    pw.text(f"{len(doc.analyses)} image(s): {n_changed} changed verdict after the close look, "
            f"{n_override} overridden by the examiner, {n_unparsed} with an unparsed verdict"
            + (f", {n_against} whose corrected verdict follows none of the model's own findings"
               if n_against else "") + ".", f.body)
    columns = [  # widths: "AI-generated" and the P(AI-generated) header stay on one line
        Column("Image", 0.1), Column("#", 0.03), Column("File and SHA-256", 0.125),
        Column("Initial (Query 1)", 0.12), Column("Corrected (Query 2)", 0.12),
        Column("Change", 0.135), Column(P_AI_LABEL, 0.16), Column("Verdict of record", 0.21),
    ]
    thumb_h = doc.thumb_size[1]
    rows = []
    for k, a in enumerate(doc.analyses, 1):
        check = doc.checks[a.id]

        def draw_thumb(p: QPainter, r: QRectF, q: QImage | None = check.thumb) -> None:
            if q is None:
                draw_placeholder(p, r, "no file", doc.f.footer)
                return
            w, h = fit(q.width(), q.height(), r.width(), r.height())
            p.drawImage(QRectF(r.left(), r.top(), w, h), q)

        file_parts = [((a.evidence.sha256 or "")[:12] or "—", f.mono, None)]
        if not check.ok:
            file_parts.append(("FILE CHANGED" if check.state == "changed" else "FILE NOT READ",
                               f.small_bold, QColor(ALERT_COLOUR)))
        rows.append([
            Cell(draw=draw_thumb, height=thumb_h),
            str(k),
            Cell(clean_text(Path(a.evidence.path).name, single_line=True), parts=file_parts),
            verdict_text(a.initial_verdict),
            _corrected_cell(doc, a),
            Cell(changed_text(a).replace(" → ", " →\n"), font=f.small_bold,
                 color=QColor(CHANGED_COLOUR)) if a.changed else changed_text(a),
            confidence_text(a.final_confidence),
            _record_cell(doc, a),
        ])
    if rows:
        pw.table(columns, rows, f.small, header_font=f.small_bold, zebra="#F7F7F7")
    pw.text(f"Short hashes are the first 12 hex digits; each image's page has the full SHA-256. "
            f"{P_AI_LABEL} is the model's probability for its corrected verdict (\"not "
            "available\" when the backend does not expose it). The verdict of record is the "
            "examiner's override where there is one, otherwise the model's corrected verdict.",
            f.small, MUTED)
