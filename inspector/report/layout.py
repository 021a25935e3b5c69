"""Layout helpers for paged reports: wrapped text that flows across pages, tables, fixed blocks.

Layout happens first and drawing afterwards. :class:`PageWriter` measures everything against the
paint device (so wrapping matches what is drawn) and records, page by page, small drawing
operations; :meth:`PageWriter.finish` then replays them onto a painter, adding the footer, which
can therefore say "page i of N". Nothing here knows about analyses or cases.

A heading (:meth:`PageWriter.heading`) is held back until the content after it arrives, and is
placed on the page where the first part of that content fits (its first lines, the table header
and first row, or the whole picture), so a heading never ends a page.

All lengths are device pixels (the writer's resolution); :meth:`PageWriter.mm` and
:meth:`PageWriter.pt` convert.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QMarginsF, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPagedPaintDevice,
    QPainter,
    QPen,
    QTextLayout,
    QTextOption,
)

__all__ = ["Cell", "Column", "PageWriter", "clean_text", "wrap_text"]


DrawOp = Callable[[QPainter], None]
BlockDrawer = Callable[[QPainter, QRectF], None]

NON_BREAKING_HYPHEN = "\u2011"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def clean_text(text: object, *, single_line: bool = False) -> str:
    """Text safe to hand to Qt and to show: lone surrogates (undecodable file-name bytes) and
    control characters become visible escapes instead of vanishing or breaking the layout."""
    s = str(text)
    s = s.encode("utf-8", "backslashreplace").decode("utf-8")
    if single_line:
        s = s.replace("\n", "\\n").replace("\t", " ")
    s = s.replace("\r\n", "\n")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", s)


def _utf16_to_index(s: str) -> list[int]:
    """Map QString (UTF-16) offsets to Python string indices (astral characters take two)."""
    out: list[int] = []
    for i, ch in enumerate(s):
        out.append(i)
        if ord(ch) > 0xFFFF:
            out.append(i)
    out.append(len(s))
    return out


def wrap_text(text: str, font: QFont, width: float, device: QPagedPaintDevice) -> list[str]:
    """Break `text` into lines no wider than `width` device pixels. Explicit newlines are kept;
    words longer than a line (hashes, long file names) are broken anywhere. A line never ends
    inside a hyphenated word ("AI-generated", "P(AI-generated)"): text extracted from the PDF
    reads as printed, not as "AIgenerated"."""
    lines: list[str] = []
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    for para in clean_text(text).split("\n"):
        if not para.strip():
            lines.append("")
            continue
        # Laid out with non-breaking hyphens (one UTF-16 unit each, like "-", so the offsets
        # hold); the lines keep the text's own hyphens.
        layout = QTextLayout(para.replace("-", NON_BREAKING_HYPHEN), font, device)
        layout.setTextOption(option)
        index = _utf16_to_index(para)
        layout.beginLayout()
        while True:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(max(1.0, width))
            start = index[min(line.textStart(), len(index) - 1)]
            end = index[min(line.textStart() + line.textLength(), len(index) - 1)]
            lines.append(para[start:end].rstrip())
        layout.endLayout()
    return lines


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


@dataclass
class _Heading:
    lines: list[str]
    font: QFont
    color: QColor
    line_height: float
    ascent: float
    before: float
    after: float
    anchor: str | None = None

    @property
    def height(self) -> float:
        return len(self.lines) * self.line_height + self.after


class PageWriter:
    """Paginating recorder. Use the layout methods, then :meth:`finish` to draw everything."""

    def __init__(
        self,
        device: QPagedPaintDevice,
        footer: Callable[[int, int], str] | None = None,
        *,
        margins_mm: tuple[float, float, float, float] = (18.0, 16.0, 18.0, 20.0),
        footer_font: QFont | None = None,
    ) -> None:
        self.device = device
        device.setPageMargins(QMarginsF(0, 0, 0, 0))
        self.res = float(device.resolution())
        self.page_width = float(device.width())
        self.page_height = float(device.height())
        left, top, right, bottom = (self.mm(v) for v in margins_mm)
        self.left = left
        self.top = top
        self.right = self.page_width - right
        self.bottom = self.page_height - bottom
        self.footer = footer
        self.footer_font = footer_font or QFont()
        self.pages: list[list[DrawOp]] = [[]]
        self.y = self.top
        self.anchors: dict[str, int] = {}
        self._headings: list[_Heading] = []  # waiting for the content they introduce

    # -- units and geometry ------------------------------------------------------------------
    def mm(self, v: float) -> float:
        return v * self.res / 25.4

    def pt(self, v: float) -> float:
        return v * self.res / 72.0

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def content_height(self) -> float:
        return self.bottom - self.top

    @property
    def remaining(self) -> float:
        return self.bottom - self.y

    @property
    def page_index(self) -> int:
        return len(self.pages) - 1

    def metrics(self, font: QFont) -> QFontMetricsF:
        return QFontMetricsF(font, self.device)

    def line_height(self, font: QFont) -> float:
        return self.metrics(font).lineSpacing()

    def wrap(self, text: str, font: QFont, width: float | None = None) -> list[str]:
        return wrap_text(text, font, self.width if width is None else width, self.device)

    # -- flow --------------------------------------------------------------------------------
    def new_page(self) -> None:
        """Start a new page (a no-op on an untouched page)."""
        if self.pages[-1] or self.y > self.top:
            self.pages.append([])
        self.y = self.top

    def ensure(self, height: float) -> None:
        """Break the page unless `height` still fits (a block taller than a page starts one)."""
        if self.y + height > self.bottom and self.y > self.top:
            self.new_page()

    def space(self, height: float) -> None:
        self.y = min(self.y + height, self.bottom)

    def mark(self, name: str) -> None:
        self.anchors[name] = self.page_index

    def fits(self, layout: Callable[[], None]) -> bool:
        """Whether what `layout()` lays out would end on the current page. A dry run: nothing
        it records is kept."""
        saved = (self.pages, self.y, list(self._headings), dict(self.anchors))
        self.pages = [list(self.pages[-1])]
        try:
            layout()
            return len(self.pages) == 1
        finally:
            self.pages, self.y, self._headings, self.anchors = saved

    # -- headings ----------------------------------------------------------------------------
    def heading(self, text: str, font: QFont, color: QColor | str = "#000000", *,
                before: float = 0.0, after: float = 0.0, anchor: str | None = None) -> None:
        """A heading kept on the same page as the start of what follows it (see the module
        docstring); `before` is skipped at the top of a page. `anchor` names the page it lands
        on (:attr:`anchors`)."""
        fm = self.metrics(font)
        self._headings.append(_Heading(self.wrap(text, font), font, QColor(color),
                                       fm.lineSpacing(), fm.ascent(), before, after, anchor))

    @property
    def pending_height(self) -> float:
        """Height of the headings still waiting for their content."""
        if not self._headings:
            return 0.0
        return self._headings[0].before + sum(h.height for h in self._headings)

    def _place_headings(self, first: float) -> None:
        """Draw the waiting headings where `first` pixels of their content fit below them."""
        if not self._headings:
            return
        headings, self._headings = self._headings, []
        own = sum(h.height for h in headings)
        before = headings[0].before if self.y > self.top else 0.0
        if self.y + before + own + first > self.bottom and self.y > self.top:
            self.new_page()
            before = 0.0
        self.y += before
        for h in headings:
            if h.anchor:
                self.anchors[h.anchor] = self.page_index
            for line in h.lines:
                if line:
                    self.record(_text_op(self.left, self.y + h.ascent, line, h.font, h.color))
                self.y += h.line_height
            self.y += h.after

    def record(self, op: DrawOp) -> None:
        self.pages[-1].append(op)

    # -- content -----------------------------------------------------------------------------
    def text(
        self,
        text: str,
        font: QFont,
        color: QColor | str = "#000000",
        *,
        indent: float = 0.0,
        after: float | None = None,
        keep_lines: int = 2,
        keep_after: float = 0.0,
    ) -> None:
        """A wrapped paragraph flowing across pages (at least `keep_lines` lines stay together
        at a page break; `keep_after` more pixels are kept free below it, so a heading is not
        left alone at the foot of a page)."""
        colour = QColor(color)
        fm = self.metrics(font)
        lh, ascent = fm.lineSpacing(), fm.ascent()
        lines = self.wrap(text, font, self.width - indent)
        first = lh * min(len(lines), max(1, keep_lines)) + keep_after
        self._place_headings(first)
        self.ensure(first)
        x = self.left + indent
        for line in lines:
            self.ensure(lh)
            if line:
                self.record(_text_op(x, self.y + ascent, line, font, colour))
            self.y += lh
        self.space(lh * 0.35 if after is None else after)

    def block(self, height: float, draw: BlockDrawer, *, width: float | None = None,
              x: float | None = None, after: float = 0.0) -> QRectF:
        """Reserve a fixed-height rectangle (moved to the next page when it does not fit) and
        draw it with `draw(painter, rect)` at render time."""
        height = min(height, self.content_height - self.pending_height)
        self._place_headings(height)
        self.ensure(height)
        rect = QRectF(self.left if x is None else x, self.y,
                      self.width if width is None else width, height)
        self.record(_block_op(QRectF(rect), draw))
        self.y += height + after
        return rect

    def table(
        self,
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
        """A table whose rows wrap their text; a row up to a quarter page high moves to the next
        page whole, a taller one is split at the page end; the header repeats on every page."""
        total = sum(c.width for c in columns) or 1.0
        widths = [self.width * c.width / total for c in columns]
        xs = [self.left + sum(widths[:i]) for i in range(len(widths))]
        pad = self.mm(padding_mm)
        grid_pen = QPen(QColor("#9a9a9a"), self.mm(0.15))

        def prepared(cells: Sequence[Cell | str], default_font: QFont) -> list[tuple]:
            out = []
            for cell, w in zip(cells, widths, strict=True):
                c = dataclasses.replace(cell) if isinstance(cell, Cell) else Cell(str(cell))
                paragraphs = [(c.text, c.font, c.color)] if c.text else []
                paragraphs += [(t, f or c.font, col or c.color) for t, f, col in c.parts]
                lines: list[_Line] = []
                for text, f, col in paragraphs:
                    f = f or default_font
                    fm = self.metrics(f)
                    lines += [_Line(line, f, col or QColor("#000000"), fm.lineSpacing(),
                                    fm.ascent(), fm.horizontalAdvance(line))
                              for line in self.wrap(text, f, w - 2 * pad)]
                out.append((c, lines))
            return out

        header = None
        if header_font is not None:
            header = prepared([Cell(c.title) for c in columns], header_font)

        def emit(cells: list[tuple], start: list[int], fill: QColor | None) -> None:
            """Draw as many lines of every cell as fit from `start`; advance `start`."""
            fit = self.bottom - self.y - 2 * pad
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
            y0 = self.y
            ops: list[DrawOp] = []
            for i, ((c, lines), s, (n, custom)) in enumerate(
                zip(cells, start, slices, strict=True)
            ):
                cell_rect = QRectF(xs[i], y0, widths[i], row_h)
                bg = c.fill or fill
                if bg is not None:
                    ops.append(_fill_op(cell_rect, QColor(bg)))
                inner = QRectF(xs[i] + pad, y0 + pad, widths[i] - 2 * pad, row_h - 2 * pad)
                if custom:
                    draw = c.draw
                    ops.append(_block_op(QRectF(inner), draw))
                y = inner.top()
                for line in lines[s:s + n]:
                    if line.text:
                        if columns[i].align & Qt.AlignmentFlag.AlignRight:
                            x = inner.right() - line.width
                        elif columns[i].align & Qt.AlignmentFlag.AlignHCenter:
                            x = inner.left() + (inner.width() - line.width) / 2
                        else:
                            x = inner.left()
                        ops.append(_text_op(x, y + line.ascent, line.text, line.font,
                                            line.color))
                    y += line.height
                start[i] = s + n
                if custom:
                    c.draw = None  # drawn once, on the first slice
            if grid:
                ops.append(_grid_op(xs, widths, y0, row_h, grid_pen))
            for op in ops:
                self.record(op)
            self.y = y0 + row_h

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
            return row_h <= min(self.content_height / 4, self.content_height - header_h)

        first = header_h
        if rows:
            row0 = need(prepared(rows[0], font), [0] * len(columns))
            first += row0 if moves_whole(row0) else 3 * self.line_height(font) + 2 * pad
        self._place_headings(first)
        self.ensure(first)
        draw_header()
        for r, row in enumerate(rows):
            cells = prepared(row, font)
            start = [0] * len(columns)
            fill = QColor(zebra) if zebra and r % 2 else None
            row_h = need(cells, start)
            if (self.y + row_h > self.bottom and self.y > self.top + header_h + 1
                    and moves_whole(row_h)):  # else split it here
                self.new_page()
                draw_header()
            while True:
                emit(cells, start, fill)
                if all(s >= len(c[1]) for c, s in zip(cells, start, strict=True)):
                    break
                self.new_page()
                draw_header()
        self.space(self.mm(2.5) if after is None else after)

    # -- output ------------------------------------------------------------------------------
    def finish(self, painter: QPainter | None = None) -> int:
        """Draw every recorded page (with its footer) onto the device; returns the page count."""
        self._place_headings(0.0)  # a heading with nothing after it still gets drawn
        pages = self.pages if self.pages[-1] or len(self.pages) == 1 else self.pages[:-1]
        own = painter is None
        if painter is None:
            painter = QPainter()
            if not painter.begin(self.device):
                raise RuntimeError("could not start drawing the report (QPainter.begin failed)")
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        try:
            n = len(pages)
            for i, ops in enumerate(pages):
                if i:
                    self.device.newPage()
                for op in ops:
                    painter.save()
                    try:
                        op(painter)
                    finally:
                        painter.restore()
                if self.footer is not None:
                    self._draw_footer(painter, self.footer(i + 1, n))
        finally:
            if own:
                painter.end()
        return len(pages)

    def _draw_footer(self, painter: QPainter, text: str) -> None:
        painter.save()
        fm = self.metrics(self.footer_font)
        y = self.bottom + self.mm(7)
        painter.setPen(QPen(QColor("#9a9a9a"), self.mm(0.15)))
        painter.drawLine(QPointF(self.left, y - fm.ascent() - self.mm(1.5)),
                         QPointF(self.right, y - fm.ascent() - self.mm(1.5)))
        painter.setFont(self.footer_font)
        painter.setPen(QColor("#333333"))
        line = clean_text(text, single_line=True)
        painter.drawText(QPointF(self.left + (self.width - fm.horizontalAdvance(line)) / 2, y),
                         line)
        painter.restore()


def _text_op(x: float, baseline: float, text: str, font: QFont, color: QColor) -> DrawOp:
    def op(p: QPainter) -> None:
        p.setFont(font)
        p.setPen(color)
        p.drawText(QPointF(x, baseline), text)

    return op


def _block_op(rect: QRectF, draw: BlockDrawer) -> DrawOp:
    def op(p: QPainter) -> None:
        draw(p, rect)

    return op


def _fill_op(rect: QRectF, color: QColor) -> DrawOp:
    def op(p: QPainter) -> None:
        p.fillRect(rect, color)

    return op


def _grid_op(xs: list[float], widths: list[float], y: float, h: float, pen: QPen) -> DrawOp:
    def op(p: QPainter) -> None:
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        for x, w in zip(xs, widths, strict=True):
            p.drawRect(QRectF(x, y, w, h))

    return op
