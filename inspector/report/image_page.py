"""One image's pages: the verdicts side by side (initial, corrected, of record — with the
examiner's override, who, when and why), the evidence block, the picture with its numbered
regions and the close-up finding of each, the close-ups the model saw, and both explanations."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen

from inspector.core.results import Analysis, CloseupRecord, QueryRecord
from inspector.core.wording import (
    changed_text,
    closeup_ablation_text,
    findings_disagreement_text,
    format_time,
    override_text,
    p_ai_text,
    region_text,
    verdict_text,
)
from inspector.report.drawing import (
    ALERT_COLOUR,
    BOX_COLOURS,
    CHANGED_COLOUR,
    DEMO_COLOUR,
    IMAGE_DPI,
    MUTED,
    downscaled,
    draw_boxes,
    draw_placeholder,
    fit,
    pil_to_qimage,
)
from inspector.report.evidence import EvidenceCheck, evidence_rows
from inspector.report.forensics_section import forensics_section
from inspector.report.front_matter import LIMITATIONS_ANCHOR
from inspector.report.table import Cell, Column
from inspector.report.text_lines import clean_text
from inspector.report.texts import demo_warning

if TYPE_CHECKING:
    from inspector.report.document import ReportDocument

__all__ = ["image_page"]

PICTURE_HEIGHTS_MM = (76, 70, 64, 58)  # the largest that keeps the section on one page
CLOSEUPS_PER_ROW = 4  # below the picture
CLOSEUP_MAX_HEIGHT_MM = 28  # in rows below the picture
CLOSEUP_BESIDE_MAX_HEIGHT_MM = 36
CLOSEUP_MIN_WIDTH_MM = 25
SIDE_GAP_MM = 5  # between the picture and the close-ups beside it
TILE_GAP_MM = 3
CAPTION_GAP_MM = 1.0
EXPLANATION_SIDE_BY_SIDE_LINES = 24  # longer explanations are shown full width, one by one


def image_page(doc: ReportDocument, k: int, a: Analysis) -> None:
    pw, f = doc.pw, doc.f
    check = doc.checks[a.id]
    name = clean_text(Path(a.evidence.path).name, single_line=True)
    pw.mark(a.id)
    doc.heading(f"Image {k} of {len(doc.analyses)}: {name}", f.h1, before_mm=0, after_mm=1.5)
    if a.model.is_demo:
        pw.text(demo_warning(a.model), f.small_bold, DEMO_COLOUR)
    _verdicts(doc, a)
    _examiner_notes(doc, a)
    if not check.ok:
        pw.text("WARNING: " + ("this evidence file has changed since the analysis (its SHA-256 "
                               "no longer matches)" if check.state == "changed" else
                               "this evidence file could not be read for this report")
                + "; see the file check below.", f.bold, ALERT_COLOUR)
    page = doc.page_of(LIMITATIONS_ANCHOR)
    pw.text("These verdicts come from a model and an examiner's reading of it; the limitations "
            f"stated {f'on page {page}' if page else 'at the start'} apply.", f.small, MUTED)

    doc.heading("Evidence", f.h2)
    model_note = (f" (model {doc.model_index[a.id] + 1} on the cover)"
                  if len(doc.models) > 1 else "")
    doc.kv(evidence_rows(a, check, f, model_note))

    doc.heading("Image and located regions", f.h2)

    def rest_of_page(picture_mm: float) -> None:
        below = _picture(doc, a, check, picture_mm)
        _regions(doc, a, check)
        if not a.closeups and a.regions:
            pw.text("No close-ups were examined.", f.body)
        if ablation := closeup_ablation_text(a):
            pw.text(ablation, f.bold, ALERT_COLOUR)
        _closeups_below(doc, a, below)
        _explanations(doc, a)

    # A smaller picture when that keeps the image's section on one page.
    drawn = doc.image_size(a)[1]  # at the largest size; a wide picture may be lower already
    sizes = [PICTURE_HEIGHTS_MM[0]] + [mm for mm in PICTURE_HEIGHTS_MM[1:] if pw.mm(mm) < drawn]
    picture_mm = next((mm for mm in sizes if pw.fits(lambda mm=mm: rest_of_page(mm))),
                      PICTURE_HEIGHTS_MM[0])
    rest_of_page(picture_mm)
    forensics_section(doc, a)  # the classic analyses, beside the model's (never changing it)


def _verdicts(doc: ReportDocument, a: Analysis) -> None:
    f = doc.f
    changed = QColor(CHANGED_COLOUR)
    initial = Cell(verdict_text(a.initial_verdict), font=f.verdict,
                   parts=[(p_ai_text(a.query1.confidence), f.small, None)])
    if a.query2 is None:
        corrected = Cell(verdict_text(a.final_verdict), font=f.verdict, parts=[
            ("Query 2 did not run, so the initial verdict stands.", f.small, None)])
    else:
        if a.changed:
            change = (f"Changed by the close look: {changed_text(a)}", f.small_bold, changed)
        elif a.changed is False:
            change = ("Unchanged after the close look.", f.small, None)
        else:
            change = (f"Change {changed_text(a)}.", f.small, None)
        parts = [(p_ai_text(a.query2.confidence), f.small, QColor("#000000")), change]
        if disagreement := findings_disagreement_text(a):
            parts.append((disagreement, f.small_bold, QColor(ALERT_COLOUR)))
        corrected = Cell(verdict_text(a.final_verdict), font=f.verdict,
                         color=changed if a.changed else None, parts=parts)
    if a.overridden:
        record = Cell(verdict_text(a.verdict_of_record), font=f.verdict,
                      parts=[(override_text(a.examiner) + ".", f.small_bold, None)])
    else:
        record = Cell(verdict_text(a.verdict_of_record), font=f.verdict, parts=[
            ("The model's corrected verdict; no examiner override.", f.small, None)])
    doc.pw.table([Column("Initial — Query 1 (Locate)", 1),
                  Column("Corrected — Query 2 (Examine)", 1),
                  Column("Verdict of record", 1)],
                 [[initial, corrected, record]], f.small, header_font=f.small_bold,
                 after=doc.pw.mm(1.5))


def _examiner_notes(doc: ReportDocument, a: Analysis) -> None:
    ex = a.examiner
    if not ex.notes.strip():
        return
    when = format_time(ex.updated)
    who = ex.examiner or "an unnamed examiner"
    doc.heading(f"Examiner's notes — {who}" + (f", {when}" if when else ""), doc.f.small_bold,
                before_mm=0, after_mm=0.3)
    doc.pw.text(ex.notes, doc.f.body)


def _picture(doc: ReportDocument, a: Analysis, check: EvidenceCheck,
             max_height_mm: float) -> list[CloseupRecord]:
    """The picture with its boxes and, where the page has room beside it, the close-ups;
    returns the close-ups still to be shown (below the regions table)."""
    pw, f, mm = doc.pw, doc.f, doc.mm
    w, h = doc.image_size(a, max_height_mm)
    jpeg = check.display_jpeg
    if jpeg is None:
        h = min(h, pw.mm(40))
    size = (a.evidence.width, a.evidence.height)
    panel = pw.width - w - pw.mm(SIDE_GAP_MM)
    beside: list[_Tile] = []
    label_h = pw.line_height(f.small_bold) + pw.mm(1)
    cols, tile_w, gap = 1, 0.0, pw.mm(TILE_GAP_MM)
    if a.closeups and panel >= pw.mm(CLOSEUP_MIN_WIDTH_MM):
        # The fewest columns whose grid is no taller than the picture, else the lowest grid.
        grids = []
        for n in range(1, int((panel + gap) // (pw.mm(CLOSEUP_MIN_WIDTH_MM) + gap)) + 1):
            n_w = (panel - gap * (n - 1)) / n
            n_tiles = _tiles(doc, a, a.closeups, n_w, CLOSEUP_BESIDE_MAX_HEIGHT_MM)
            grids.append((label_h + _grid_height(doc, n_tiles, n), n, n_w, n_tiles))
        fitting = [g for g in grids if g[0] <= h]
        stack, cols, tile_w, tiles = fitting[0] if fitting else min(grids, key=lambda g: g[0])
        if stack <= 1.3 * h:
            beside = tiles
        else:  # the rows that fit beside the picture; the rest go below
            while tiles and label_h + _grid_height(doc, tiles, cols) > h:
                tiles = tiles[:-cols] if len(tiles) % cols == 0 else tiles[:-(len(tiles) % cols)]
            beside = tiles
    x = pw.left if beside else pw.left + (pw.width - w) / 2
    height = max(h, label_h + _grid_height(doc, beside, cols)) if beside else h

    def draw(p: QPainter, r: QRectF) -> None:
        target = QRectF(r.left(), r.top(), w, h)
        if jpeg is None:
            draw_placeholder(p, target, "Evidence file not available: " + check.status, f.body)
            draw_boxes(p, target, a.regions, size, f.h3, mm)  # where they were, on no pixels
        else:
            p.drawImage(target, QImage.fromData(QByteArray(jpeg), "JPEG"))
            p.setPen(QPen(QColor("#666666"), 0.2 * mm))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(target)
            if check.ok:
                draw_boxes(p, target, a.regions, size, f.h3, mm)
            else:
                band = QRectF(target.left(), target.bottom() - 9 * mm, target.width(), 9 * mm)
                p.fillRect(band, QColor(255, 255, 255, 225))
                p.setPen(QColor(ALERT_COLOUR))
                p.setFont(f.small_bold)
                p.drawText(band, int(Qt.AlignmentFlag.AlignCenter)
                           | int(Qt.TextFlag.TextWordWrap),
                           "The file as it is now — NOT the analysed file. Regions not drawn.")
        if beside:
            left = r.left() + w + pw.mm(SIDE_GAP_MM)
            p.setFont(f.small_bold)
            p.setPen(QColor("#000000"))
            p.drawText(QPointF(left, r.top() + pw.metrics(f.small_bold).ascent()),
                       "Close-ups sent to Query 2")
            _draw_tiles(doc, a, p, left, r.top() + label_h, beside, cols, tile_w)

    pw.block(height, draw, width=w + (panel if beside else 0), x=x, after=pw.mm(2))
    return a.closeups[len(beside):]


def _regions(doc: ReportDocument, a: Analysis, check: EvidenceCheck) -> None:
    pw, f = doc.pw, doc.f
    if not a.regions:
        pw.text("The model located no suspicious regions.", f.body)
    else:
        findings = {fd.region: fd for fd in a.findings}
        rows = []
        for region in a.regions:
            colour, text_colour = BOX_COLOURS[(region.number - 1) % len(BOX_COLOURS)]
            finding = findings.pop(region.number, None)
            if finding is not None:
                seen, points = clean_text(finding.observation), verdict_text(finding.points_to)
            elif region.examined:
                seen, points = "no finding given for this region", "—"
            else:
                seen, points = "not examined close up (dashed box)", "—"
            rows.append([
                Cell(str(region.number), font=f.small_bold, fill=QColor(colour),
                     color=QColor(text_colour)),
                clean_text(region_text(region.label, region.confidence)),
                ", ".join(f"{v:.0f}" for v in region.box),
                seen, points,
            ])
        for number, finding in sorted(findings.items()):  # findings about no located region
            rows.append([str(number), "(no such region)", "—", clean_text(finding.observation),
                         verdict_text(finding.points_to)])
        pw.table([Column("#", 0.05), Column("Region (Query 1)", 0.28),
                  Column("Box x1, y1, x2, y2 (px)", 0.17),
                  Column("Close-up finding (Query 2)", 0.35), Column("Points to", 0.15)],
                 rows, f.small, header_font=f.small_bold, after=pw.mm(1.5))
        if not check.ok and check.display_jpeg is not None:
            pw.text("The box coordinates are those of the analysed file; they are not drawn on "
                    "the changed file above.", f.small, ALERT_COLOUR)
    if a.tags:
        pw.text("Image-level tags (Query 2): " + ", ".join(clean_text(t) for t in a.tags),
                f.small)


@dataclass
class _Tile:
    closeup: CloseupRecord
    size: tuple[float, float]  # drawn size
    caption: list[str]  # wrapped lines


def _tiles(doc: ReportDocument, a: Analysis, closeups: list[CloseupRecord], tile_w: float,
           max_h_mm: float = CLOSEUP_MAX_HEIGHT_MM) -> list[_Tile]:
    pw, f = doc.pw, doc.f
    labels = {r.number: r for r in a.regions}
    tiles = []
    for c in closeups:
        ow, oh = (list(c.output_size) + [0, 0])[:2] if c.output_size else (1, 1)
        region = labels.get(c.region)
        label = clean_text(region.label) if region else "(region not recorded)"
        caption = pw.wrap(f"{c.region} · {label} (×{c.scale:.1f})", f.small, tile_w)
        if len(caption) > 2:  # the regions table has the whole label
            caption = [caption[0], pw.wrap(caption[1] + " …", f.small, tile_w)[0]]
            if not caption[1].endswith("…"):
                caption[1] = caption[1][:-2].rstrip() + " …"
        tiles.append(_Tile(c, fit(ow or 1, oh or 1, tile_w, pw.mm(max_h_mm)), caption))
    return tiles


def _row_heights(doc: ReportDocument, tiles: list[_Tile], cols: int) -> list[tuple[float, float]]:
    """(picture height, caption height) of each row of the grid."""
    lh = doc.pw.line_height(doc.f.small)
    return [(max(t.size[1] for t in tiles[i:i + cols]),
             max(len(t.caption) for t in tiles[i:i + cols]) * lh)
            for i in range(0, len(tiles), cols)]


def _grid_height(doc: ReportDocument, tiles: list[_Tile], cols: int) -> float:
    pw = doc.pw
    return sum(img_h + pw.mm(CAPTION_GAP_MM) + cap_h + pw.mm(TILE_GAP_MM)
               for img_h, cap_h in _row_heights(doc, tiles, cols))


def _draw_tiles(doc: ReportDocument, a: Analysis, p: QPainter, left: float, top: float,
                tiles: list[_Tile], cols: int, tile_w: float) -> None:
    """Draw the close-ups in a grid of `cols` columns from (left, top), captions below each."""
    pw, f, mm = doc.pw, doc.f, doc.mm
    lh, ascent = pw.line_height(f.small), pw.metrics(f.small).ascent()
    gap = pw.mm(TILE_GAP_MM)
    y = top
    for row, (img_h, cap_h) in enumerate(_row_heights(doc, tiles, cols)):
        for i, t in enumerate(tiles[row * cols:(row + 1) * cols]):
            x = left + i * (tile_w + gap)
            w, h = t.size
            target = QRectF(x + (tile_w - w) / 2, y + (img_h - h) / 2, w, h)
            img = None
            if doc.closeup_loader is not None:
                with contextlib.suppress(Exception):
                    img = doc.closeup_loader(a.id, t.closeup.region)
            if img is None:
                draw_placeholder(p, target, "close-up not stored", f.small)
            else:
                p.drawImage(target, pil_to_qimage(downscaled(img, w, h, IMAGE_DPI)))
                colour = BOX_COLOURS[(t.closeup.region - 1) % len(BOX_COLOURS)][0]
                p.setPen(QPen(QColor(colour), 0.8 * mm))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRect(target)
            p.setFont(f.small)
            p.setPen(QColor("#000000"))
            for j, line in enumerate(t.caption):
                p.drawText(QPointF(x, y + img_h + pw.mm(CAPTION_GAP_MM) + j * lh + ascent),
                           line)
        y += img_h + pw.mm(CAPTION_GAP_MM) + cap_h + gap


def _closeups_below(doc: ReportDocument, a: Analysis, closeups: list[CloseupRecord]) -> None:
    """Close-ups that did not fit beside the picture, in full-width rows."""
    pw, f = doc.pw, doc.f
    if not closeups:
        return
    doc.heading("Close-ups sent to Query 2" + (" (continued)" if len(closeups) <
                                                len(a.closeups) else ""), f.h3, before_mm=1.5)
    gap = pw.mm(TILE_GAP_MM)
    tile_w = (pw.width - gap * (CLOSEUPS_PER_ROW - 1)) / CLOSEUPS_PER_ROW
    tiles = _tiles(doc, a, closeups, tile_w)
    for start in range(0, len(tiles), CLOSEUPS_PER_ROW):
        row = tiles[start:start + CLOSEUPS_PER_ROW]

        def draw(p: QPainter, r: QRectF, row: list[_Tile] = row) -> None:
            _draw_tiles(doc, a, p, r.left(), r.top(), row, CLOSEUPS_PER_ROW, tile_w)

        pw.block(_grid_height(doc, row, CLOSEUPS_PER_ROW), draw)


def _answer_cell(doc: ReportDocument, q: QueryRecord) -> Cell:
    f = doc.f
    parts: list[tuple[str, object, object]] = []
    if q.problems:
        parts.append(("Problems reading the answer: "
                      + "; ".join(clean_text(p) for p in q.problems), f.small,
                      QColor(ALERT_COLOUR)))
    parts.append((f"{verdict_text(q.verdict)} · {p_ai_text(q.confidence)} · "
                  f"{q.generated_tokens} tokens in {q.seconds:.1f} s; stop: "
                  f"{q.stop_reason or 'not recorded'}", f.small, QColor(MUTED)))
    text = q.explanation or "No explanation could be read from the model's answer."
    return Cell(text, font=f.body, parts=parts)  # type: ignore[arg-type]


def _explanations(doc: ReportDocument, a: Analysis) -> None:
    f = doc.f
    doc.heading("The model's explanations", f.h2)
    if a.query2 is None:
        reason = clean_text(a.examine_skipped or "no reason recorded")
        second = Cell(f"The examine step did not run ({reason}). The final verdict is the "
                      f"initial verdict: {verdict_text(a.final_verdict)}.", font=f.body)
    else:
        second = _answer_cell(doc, a.query2)
    first = _answer_cell(doc, a.query1)
    titles = ("Query 1 — Locate (initial)", "Query 2 — Examine (corrected)")
    half = doc.pw.width / 2 - doc.pw.mm(2.4)
    longest = max(len(doc.pw.wrap(c.text, f.body, half)) for c in (first, second))
    if longest <= EXPLANATION_SIDE_BY_SIDE_LINES:  # side by side, to compare
        doc.pw.table([Column(titles[0], 1), Column(titles[1], 1)], [[first, second]], f.body,
                     header_font=f.small_bold)
        return
    for title, cell in zip(titles, (first, second), strict=True):  # long: one after the other
        doc.pw.table([Column(title, 1)], [[cell]], f.body, header_font=f.small_bold)
