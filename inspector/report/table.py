"""Tables for paged reports: columns, cells, and rows that wrap, move or split at a page end.

A row up to a quarter page high moves to the next page whole, a taller one is split at the page
end; the header repeats on every page. Laid out through a :class:`~inspector.report.layout.
PageWriter` (its :meth:`~inspector.report.layout.PageWriter.table`), like everything on a page.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPen

from inspector.report.draw_ops import BlockDrawer, DrawOp, block_op, fill_op, grid_op, text_op

if TYPE_CHECKING:
    from inspector.report.layout import PageWriter

__all__ = ["Cell", "Column", "TableOptions", "lay_out_table"]


@dataclass
class Column:
    title: str
    width: float  # fraction of the table width (the fractions are normalised)
    align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft


@dataclass
class Cell:
    """A table cell: wrapped text, optionally styled, or a fixed-height custom drawing."""

    text: str = ""
    font: QFont | None = None
    color: QColor | None = None
    fill: QColor | None = None
    draw: BlockDrawer | None = None  # drawn in the cell's content rectangle
    height: float = 0.0  # content height `draw` needs
    # more paragraphs after `text`, each (text, font or None, colour or None): a verdict in a
    # large font over a line of detail in a small one
    parts: list[tuple[str, QFont | None, QColor | None]] = field(default_factory=list)


@dataclass
class _Line:
    """One wrapped line of a table cell, with its own font."""

    text: str
    font: QFont
    color: QColor
    height: float
    ascent: float
    width: float


class TableOptions(TypedDict, total=False):
    """The optional arguments of :func:`lay_out_table` (and of ``PageWriter.table``)."""

    header_font: QFont | None  # None: no header row
    header_fill: QColor | str | None
    padding_mm: float
    grid: bool
    zebra: QColor | str | None  # the fill of every second row
    after: float | None  # space below the table (device pixels; None: 2.5 mm)


def lay_out_table(
    pw: PageWriter,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell | str]],
    font: QFont,
    *,
    header_font: QFont | None = None,
    header_fill: QColor | str | None = "#e8e8e8",
    padding_mm: float = 1.2,
    grid: bool = True,
    zebra: QColor | str | None = None,
    after: float | None = None,
) -> None:
    """Lay out a table on ``pw`` whose rows wrap their text (see the module docstring)."""
    total = sum(c.width for c in columns) or 1.0
    widths = [pw.width * c.width / total for c in columns]
    xs = [pw.left + sum(widths[:i]) for i in range(len(widths))]
    pad = pw.mm(padding_mm)
    grid_pen = QPen(QColor("#9a9a9a"), pw.mm(0.15))

    def prepared(cells: Sequence[Cell | str], default_font: QFont) -> list[tuple]:
        out = []
        for cell, w in zip(cells, widths, strict=True):
            c = dataclasses.replace(cell) if isinstance(cell, Cell) else Cell(str(cell))
            paragraphs = [(c.text, c.font, c.color)] if c.text else []
            paragraphs += [(t, f or c.font, col or c.color) for t, f, col in c.parts]
            lines: list[_Line] = []
            for text, f, col in paragraphs:
                f = f or default_font
                fm = pw.metrics(f)
                lines += [_Line(line, f, col or QColor("#000000"), fm.lineSpacing(),
                                fm.ascent(), fm.horizontalAdvance(line))
                          for line in pw.wrap(text, f, w - 2 * pad)]
            out.append((c, lines))
        return out

    header = None
    if header_font is not None:
        header = prepared([Cell(c.title) for c in columns], header_font)

    def emit(cells: list[tuple], start: list[int], fill: QColor | None) -> None:
        """Draw as many lines of every cell as fit from `start`; advance `start`."""
        fit = pw.bottom - pw.y - 2 * pad
        row_h = 0.0
        slices = []
        for (c, lines), s in zip(cells, start, strict=True):
            n, h = 0, 0.0
            while s + n < len(lines) and h + lines[s + n].height <= fit:
                h += lines[s + n].height
                n += 1
            custom = c.draw is not None and s == 0 and c.height <= fit
            row_h = max(row_h, h, c.height if custom else 0.0)
            slices.append((n, custom))
        row_h += 2 * pad
        y0 = pw.y
        ops: list[DrawOp] = []
        for i, ((c, lines), s, (n, custom)) in enumerate(
            zip(cells, start, slices, strict=True)
        ):
            cell_rect = QRectF(xs[i], y0, widths[i], row_h)
            bg = c.fill or fill
            if bg is not None:
                ops.append(fill_op(cell_rect, QColor(bg)))
            inner = QRectF(xs[i] + pad, y0 + pad, widths[i] - 2 * pad, row_h - 2 * pad)
            if custom:
                draw = c.draw
                ops.append(block_op(QRectF(inner), draw))
            y = inner.top()
            for line in lines[s:s + n]:
                if line.text:
                    if columns[i].align & Qt.AlignmentFlag.AlignRight:
                        x = inner.right() - line.width
                    elif columns[i].align & Qt.AlignmentFlag.AlignHCenter:
                        x = inner.left() + (inner.width() - line.width) / 2
                    else:
                        x = inner.left()
                    ops.append(text_op(x, y + line.ascent, line.text, line.font,
                                        line.color))
                y += line.height
            start[i] = s + n
            if custom:
                c.draw = None  # drawn once, on the first slice
        if grid:
            ops.append(grid_op(xs, widths, y0, row_h, grid_pen))
        for op in ops:
            pw.record(op)
        pw.y = y0 + row_h

    def need(cells: list[tuple], start: list[int]) -> float:
        h = 0.0
        for (c, lines), s in zip(cells, start, strict=True):
            h = max(h, sum(line.height for line in lines[s:]),
                    c.height if c.draw is not None else 0.0)
        return h + 2 * pad

    def draw_header() -> None:
        if header is not None:
            emit(header, [0] * len(columns), QColor(header_fill) if header_fill else None)

    header_h = need(header, [0] * len(columns)) if header is not None else 0.0

    def moves_whole(row_h: float) -> bool:
        """A short row goes to the next page whole; a tall one is split at the page end
        rather than leave a large gap."""
        return row_h <= min(pw.content_height / 4, pw.content_height - header_h)

    first = header_h
    if rows:
        row0 = need(prepared(rows[0], font), [0] * len(columns))
        first += row0 if moves_whole(row0) else 3 * pw.line_height(font) + 2 * pad
    pw.place_headings(first)
    pw.ensure(first)
    draw_header()
    for r, row in enumerate(rows):
        cells = prepared(row, font)
        start = [0] * len(columns)
        fill = QColor(zebra) if zebra and r % 2 else None
        row_h = need(cells, start)
        if (pw.y + row_h > pw.bottom and pw.y > pw.top + header_h + 1
                and moves_whole(row_h)):  # else split it here
            pw.new_page()
            draw_header()
        while True:
            emit(cells, start, fill)
            if all(s >= len(c[1]) for c, s in zip(cells, start, strict=True)):
                break
            pw.new_page()
            draw_header()
    pw.space(pw.mm(2.5) if after is None else after)
