"""The forensic analyses in the report: one section per image ("Forensic analyses (independent
of the model)") and the limits of every method used, stated once with the report's limitations.

An image's section holds a small copy of the picture with the analyses' regions (black dash-dot
boxes with letter tags, unlike the model's coloured numbered boxes; a copy-move pair is a source
and a target joined by an arrow), small copies of the maps stored in the case folder, a table of
each analysis's statement and key indicators, and one line per analysis that did not apply or
failed. The section is kept together: it starts a new page unless it fits on the current one.
A map file missing from the case folder is said in words, on its tile and below the figure.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPolygonF

from inspector.core.results import Analysis
from inspector.report.drawing import (
    ALERT_COLOUR,
    IMAGE_DPI,
    MUTED,
    RESOLUTION,
    THUMB_DPI,
    downscaled,
    draw_placeholder,
    fit,
    pil_to_qimage,
)
from inspector.report.forensic_texts import (
    Mark,
    indicator_lines,
    marks,
    method_limits,
    ordered_results,
    state,
    title_of,
)
from inspector.report.front_matter import ATTACHMENT_NAME
from inspector.report.table import Cell, Column
from inspector.report.text_lines import clean_text
from inspector.report.texts import (
    ELA_CAVEAT,
    FORENSICS_INTRO,
    FORENSICS_LIMITATIONS,
    FORENSICS_MARKS,
)

if TYPE_CHECKING:
    from inspector.report.document import ReportDocument

__all__ = ["FORENSIC_LIMITS_ANCHOR", "forensic_limitations", "forensics_section"]

FORENSIC_LIMITS_ANCHOR = "forensic-limits"
SECTION_TITLE = "Forensic analyses (independent of the model)"
PICTURE_MAX_MM = (70.0, 52.0)  # the copy of the picture with the forensic regions
MAP_MAX_MM = (42.0, 24.0)  # one map tile (picture part)
MAP_MIN_W_MM = 26.0
GAP_MM = 4.0
MARK_COLOUR = "#000000"  # black with a white halo: unlike any of the model's region colours


# -- the limitations, once for the case --------------------------------------------------------

def forensic_limitations(doc: ReportDocument) -> None:
    """The limits of each forensic method used in the case (nothing when none was run)."""
    limits = method_limits(doc.analyses)
    if not limits:
        return
    f = doc.f

    def start(rows: list[tuple[str, str]]) -> None:
        doc.heading("Limits of the forensic analyses", f.h3, before_mm=2.0,
                    anchor=FORENSIC_LIMITS_ANCHOR)
        doc.pw.text(FORENSICS_LIMITATIONS, f.body)
        doc.kv(rows, key_width=0.24)

    if not doc.pw.fits(lambda: start(limits[:1])):  # the introduction with the first method
        doc.pw.new_page()
    start(limits)
    if any("ela" in (a.forensics or {}) for a in doc.analyses):
        doc.pw.text(ELA_CAVEAT, f.bold)


# -- one image's section -----------------------------------------------------------------------

@dataclass
class _MapTile:
    title: str
    legend: str
    image: QImage | None  # None: `problem` says why
    problem: str
    size: tuple[int, int]  # the map's own pixel size (for its aspect), or (4, 3)


def forensics_section(doc: ReportDocument, a: Analysis) -> None:
    """The image's forensic section (nothing when no forensic analysis was run on it)."""
    results = ordered_results(a)
    if not results:
        return
    tiles = [_map_tile(doc, r) for r in results if state(r) == "done" and r.get("map")]
    pw = doc.pw
    if not pw.fits(lambda: _lay_out(doc, a, results, tiles)):
        pw.new_page()
    _lay_out(doc, a, results, tiles)


def _lay_out(doc: ReportDocument, a: Analysis, results: list[dict[str, Any]],
             tiles: list[_MapTile]) -> None:
    pw, f = doc.pw, doc.f
    doc.heading(SECTION_TITLE, f.h2)
    page = doc.page_of(FORENSIC_LIMITS_ANCHOR)
    done = [r for r in results if state(r) == "done"]
    drawn = [(r, *marks(r)) for r in done]
    all_marks = [m for _, ms, _ in drawn for m in ms]
    pw.text(f"{FORENSICS_INTRO}{' ' + FORENSICS_MARKS if all_marks else ''} The limits of each "
            f"method are stated {f'on page {page}' if page else 'at the start'}; every "
            f"indicator, parameter and the whole metadata are in the attachment "
            f"{ATTACHMENT_NAME}.", f.small, MUTED)
    if tiles or all_marks:
        keys = [f"{ms[0].tag[:1]} = {title_of(r)}"
                + (" (arrow: source → target)" if any(m.source for m in ms) else "")
                for r, ms, _ in drawn if ms]
        _figure(doc, a, all_marks, "Dash-dot boxes: " + "; ".join(keys) if keys else "", tiles)
        missing = [t for t in tiles if t.image is None]
        for t in missing:
            pw.text(f"The map of {t.title} is not shown: {t.problem}.", f.small, ALERT_COLOUR)
    if done:
        rows = []
        for r, ms, more in drawn:
            finding = Cell(clean_text(r.get("statement") or "No statement was recorded."),
                           font=f.small)
            finding.parts += [(m.text, f.small, QColor(MUTED)) for m in ms]
            if more:
                finding.parts.append((f"… and {more} more region(s), in the attachment.",
                                      f.small, QColor(MUTED)))
            if r["name"] == "ela":
                finding.parts.append(("Bright areas are not proof of editing; see the limits.",
                                      f.small_bold, None))
            rows.append([Cell(title_of(r), font=f.small_bold),
                         finding, "\n".join(indicator_lines(r))])
        pw.table([Column("Analysis", 0.2), Column("Result", 0.5), Column("Key indicators", 0.3)],
                 rows, f.small, header_font=f.small_bold, after=pw.mm(1.5))
    for r in results:
        kind = state(r)
        if kind == "done":
            continue
        said = clean_text(r.get("statement") or r.get("error") or "no reason recorded",
                          single_line=True)
        label = "Failed" if kind == "failed" else "Not applicable"
        pw.text(f"{label} — {title_of(r)}: {said}", f.small,
                ALERT_COLOUR if kind == "failed" else "#000000", after=pw.mm(0.6))


def _map_tile(doc: ReportDocument, result: dict[str, Any]) -> _MapTile:
    title = title_of(result)
    legend = clean_text(result.get("map_legend") or "", single_line=True)
    rel = str(result["map"])
    path = Path(rel)
    if not path.is_absolute():
        if doc.base_dir is None:
            return _MapTile(title, legend, None, f"it is kept in the case folder ({rel}), "
                            "which this report was not given", (4, 3))
        path = doc.base_dir / path
    if not path.is_file():
        return _MapTile(title, legend, None, f"the map file {rel} is missing from the case "
                        "folder", (4, 3))
    max_w, max_h = doc.pw.mm(MAP_MAX_MM[0]), doc.pw.mm(MAP_MAX_MM[1])
    try:
        with Image.open(path) as im:
            im.load()
            size = im.size
            grey = im.convert("L")
    except Exception as exc:  # noqa: BLE001 - a damaged file is reported, never fatal
        return _MapTile(title, legend, None, f"the map file {rel} could not be read "
                        f"({type(exc).__name__})", (4, 3))
    w, h = fit(size[0], size[1], max_w, max_h)
    return _MapTile(title, legend, pil_to_qimage(downscaled(grey, w, h, THUMB_DPI)), "", size)


def _figure(doc: ReportDocument, a: Analysis, all_marks: list[Mark], key: str,
            tiles: list[_MapTile]) -> None:
    """The picture with the forensic regions on the left, the maps in a grid beside it."""
    pw, f, mm = doc.pw, doc.f, doc.mm
    check = doc.checks[a.id]
    size = (a.evidence.width or 4, a.evidence.height or 3)
    pic_w, pic_h = fit(size[0], size[1], pw.mm(PICTURE_MAX_MM[0]), pw.mm(PICTURE_MAX_MM[1]))
    picture: QImage | None = None
    if check.ok and check.display_jpeg is not None:
        with Image.open(io.BytesIO(check.display_jpeg)) as im:
            picture = pil_to_qimage(downscaled(im, pic_w, pic_h, IMAGE_DPI))
    gap = pw.mm(GAP_MM)
    panel = pw.width - pic_w - gap
    cols = max(1, min(len(tiles), 4, int((panel + gap) // (pw.mm(MAP_MIN_W_MM) + gap))))
    tile_w = min(pw.mm(MAP_MAX_MM[0]), (panel - gap * (cols - 1)) / cols)
    lh_b, lh = pw.line_height(f.small_bold), pw.line_height(f.small)
    captions = [(_lines(pw.wrap(t.title, f.small_bold, tile_w), 2),
                 _lines(pw.wrap(t.legend, f.small, tile_w), 3) if t.legend else [])
                for t in tiles]
    rows = [range(i, min(i + cols, len(tiles))) for i in range(0, len(tiles), cols)]
    max_tile_h = pw.mm(MAP_MAX_MM[1] if len(rows) > 1 else 34)
    shapes = [fit(*t.size, tile_w, max_tile_h) for t in tiles]
    row_h = [(max(shapes[i][1] for i in row),
              max(len(captions[i][0]) * lh_b + len(captions[i][1]) * lh for i in row))
             for row in rows]
    grid_h = sum(ih + pw.mm(1) + ch for ih, ch in row_h) + gap * max(0, len(rows) - 1)
    key_lines = _lines(pw.wrap(key, f.small, pic_w), 4) if key else []
    height = max(pic_h + (pw.mm(1) + len(key_lines) * lh if key_lines else 0.0), grid_h)

    def draw(p: QPainter, r: QRectF) -> None:
        target = QRectF(r.left(), r.top(), pic_w, pic_h)
        if picture is None:
            draw_placeholder(p, target, "Evidence file not available or changed: the regions "
                             "are drawn without the picture.", f.small)
        else:
            p.drawImage(target, picture)
            p.setPen(QPen(QColor("#666666"), 0.2 * mm))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(target)
        draw_marks(p, target, all_marks, size, f.footer, mm)
        p.setFont(f.small)
        p.setPen(QColor(MUTED))
        for j, line in enumerate(key_lines):
            p.drawText(QPointF(r.left(), target.bottom() + pw.mm(1) + j * lh
                               + pw.metrics(f.small).ascent()), line)
        y = r.top()
        for row, (img_h, _cap_h) in zip(rows, row_h, strict=True):
            for col, i in enumerate(row):
                x = r.left() + pic_w + gap + col * (tile_w + gap)
                w, h = shapes[i]
                box = QRectF(x, y + (img_h - h) / 2, w, h)  # left, over its caption
                tile = tiles[i]
                if tile.image is None:
                    draw_placeholder(p, box, "map file missing", f.footer)
                else:
                    p.drawImage(box, tile.image)
                    p.setPen(QPen(QColor("#666666"), 0.2 * mm))
                    p.setBrush(Qt.BrushStyle.NoBrush)
                    p.drawRect(box)
                ty = y + img_h + pw.mm(1)
                title, legend_lines = captions[i]
                for font, colour, lines, step in ((f.small_bold, "#000000", title, lh_b),
                                                  (f.small, MUTED, legend_lines, lh)):
                    p.setFont(font)
                    p.setPen(QColor(colour))
                    for line in lines:
                        p.drawText(QPointF(x, ty + pw.metrics(font).ascent()), line)
                        ty += step
            y += img_h + pw.mm(1) + _cap_h + gap

    pw.block(height, draw, after=pw.mm(2))


def _lines(lines: list[str], most: int) -> list[str]:
    """At most `most` lines, the last ending in "…" when some were left out."""
    return lines if len(lines) <= most else lines[:most - 1] + [lines[most - 1].rstrip() + " …"]


def draw_marks(p: QPainter, rect: QRectF, items: list[Mark], size: tuple[int, int],
               font: Any, mm: float) -> None:
    """The forensic regions (image pixels of an image of `size`) on the drawn picture: black
    dash-dot boxes on a white halo with black letter tags; a copy-move pair also has its source
    box and an arrow from the source to the target."""
    sx, sy = rect.width() / (size[0] or 1), rect.height() / (size[1] or 1)

    def scaled(b: tuple[float, float, float, float]) -> QRectF:
        return QRectF(rect.left() + b[0] * sx, rect.top() + b[1] * sy,
                      max(1.0, (b[2] - b[0]) * sx), max(1.0, (b[3] - b[1]) * sy))

    p.save()
    p.setClipRect(rect)
    halo = QPen(QColor("#FFFFFF"), 0.75 * mm)
    line = QPen(QColor(MARK_COLOUR), 0.35 * mm, Qt.PenStyle.DashDotLine)
    solid = QPen(QColor(MARK_COLOUR), 0.3 * mm)
    p.setBrush(Qt.BrushStyle.NoBrush)
    for m in items:
        boxes = [scaled(m.box)] + ([scaled(m.source)] if m.source is not None else [])
        for box in boxes:
            p.setPen(halo)
            p.drawRect(box)
            p.setPen(line)
            p.drawRect(box)
        if m.source is not None:  # from the source's edge to the target's edge
            start = _edge(boxes[1], boxes[0].center())
            _arrow(p, start, _edge(boxes[0], start), halo, solid, mm)
    fm_h = font.pointSizeF() * RESOLUTION / 72.0
    p.setFont(font)
    for m in items:
        for b in [m.box] + ([m.source] if m.source is not None else []):
            box = scaled(b)
            tag = QRectF(box.left(), box.top(), fm_h * 0.75 * len(m.tag) + fm_h * 0.5,
                         fm_h * 1.3)
            if tag.right() > rect.right():
                tag.moveRight(rect.right())
            if tag.bottom() > rect.bottom():
                tag.moveBottom(rect.bottom())
            p.fillRect(tag, QColor(MARK_COLOUR))
            p.setPen(QColor("#FFFFFF"))
            p.drawText(tag, int(Qt.AlignmentFlag.AlignCenter), m.tag)
    p.restore()


def _edge(box: QRectF, toward: QPointF) -> QPointF:
    """Where the line from the centre of `box` to `toward` leaves the box."""
    c = box.center()
    dx, dy = toward.x() - c.x(), toward.y() - c.y()
    t = min(box.width() / 2 / abs(dx) if dx else math.inf,
            box.height() / 2 / abs(dy) if dy else math.inf)
    return c if t >= 1 or not math.isfinite(t) else QPointF(c.x() + t * dx, c.y() + t * dy)


def _arrow(p: QPainter, start: QPointF, end: QPointF, halo: QPen, pen: QPen, mm: float) -> None:
    """A line from `start` to `end` with an arrowhead at `end`, on a white halo."""
    dx, dy = end.x() - start.x(), end.y() - start.y()
    length = math.hypot(dx, dy)
    if length < 1.0:
        return
    ux, uy = dx / length, dy / length
    head = min(2.2 * mm, length / 2)
    base = QPointF(end.x() - ux * head, end.y() - uy * head)
    wing = QPointF(-uy * head * 0.5, ux * head * 0.5)
    tip = QPolygonF([end, base + wing, base - wing])
    for stroke in (halo, pen):
        p.setPen(stroke)
        p.drawLine(start, base)
    p.setPen(halo)
    p.setBrush(QColor("#FFFFFF"))
    p.drawPolygon(tip)
    p.setPen(pen)
    p.setBrush(QColor(MARK_COLOUR))
    p.drawPolygon(tip)
    p.setBrush(Qt.BrushStyle.NoBrush)
