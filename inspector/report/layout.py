"""Paged layout for reports: wrapped text that flows across pages, headings, tables, fixed blocks.

Layout happens first and drawing afterwards. :class:`PageWriter` measures everything against the
paint device (so wrapping matches what is drawn) and records, page by page, small drawing
operations; :meth:`PageWriter.finish` then replays them onto a painter, adding the footer, which
can therefore say "page i of N". Nothing here knows about analyses or cases. Tables are laid out
by :mod:`inspector.report.table`, text is wrapped by :mod:`inspector.report.text_lines`, and the
recorded operations are :mod:`inspector.report.draw_ops`.

A heading (:meth:`PageWriter.heading`) is held back until the content after it arrives, and is
placed on the page where the first part of that content fits (its first lines, the table header
and first row, or the whole picture), so a heading never ends a page.

All lengths are device pixels (the writer's resolution); :meth:`PageWriter.mm` and
:meth:`PageWriter.pt` convert.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Unpack

from PySide6.QtCore import QMarginsF, QPointF, QRectF
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPagedPaintDevice, QPainter, QPen

from inspector.report.draw_ops import BlockDrawer, DrawOp, block_op, text_op
from inspector.report.table import Cell, Column, TableOptions, lay_out_table
from inspector.report.text_lines import clean_text, wrap_text

__all__ = ["PageWriter"]


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

    def place_headings(self, first: float) -> None:
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
                    self.record(text_op(self.left, self.y + h.ascent, line, h.font, h.color))
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
        self.place_headings(first)
        self.ensure(first)
        x = self.left + indent
        for line in lines:
            self.ensure(lh)
            if line:
                self.record(text_op(x, self.y + ascent, line, font, colour))
            self.y += lh
        self.space(lh * 0.35 if after is None else after)

    def block(self, height: float, draw: BlockDrawer, *, width: float | None = None,
              x: float | None = None, after: float = 0.0) -> QRectF:
        """Reserve a fixed-height rectangle (moved to the next page when it does not fit) and
        draw it with `draw(painter, rect)` at render time."""
        height = min(height, self.content_height - self.pending_height)
        self.place_headings(height)
        self.ensure(height)
        rect = QRectF(self.left if x is None else x, self.y,
                      self.width if width is None else width, height)
        self.record(block_op(QRectF(rect), draw))
        self.y += height + after
        return rect

    def table(self, columns: Sequence[Column], rows: Sequence[Sequence[Cell | str]],
              font: QFont, **options: Unpack[TableOptions]) -> None:
        """A table whose rows wrap their text (see :mod:`inspector.report.table`)."""
        lay_out_table(self, columns, rows, font, **options)

    # -- output ------------------------------------------------------------------------------
    def finish(self, painter: QPainter | None = None) -> int:
        """Draw every recorded page (with its footer) onto the device; returns the page count."""
        self.place_headings(0.0)  # a heading with nothing after it still gets drawn
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
