"""The Forensics tab: every forensic analysis of the shown image, what it found and its limits.

A list (one row per analysis: title, finding, seconds; errors in red, "not applicable" greyed)
over the full text of all of them — statement, key indicators, limits, parameters — so the
limits of each method (ELA's caveat among them) are always on screen next to its finding.
Selecting a row scrolls the text to it and asks for its layer (``layer_selected``). The results
are never mixed with the model's verdict: they sit in their own tab, with where they are kept.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QTextDocument
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QSplitter,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from inspector.core.forensics import ForensicResult
from inspector.gui.forensic_layers import map_qimage

__all__ = ["ForensicsPanel", "finding_text", "indicator_text"]

ERROR_COLOUR = "#C00000"
MUTED_COLOUR = "#6B6B6B"
MAP_SCHEME = "forensic-map"  # forensic-map:NAME — a map shown in the text, not over the image
MAP_WIDTH = 240  # pixels: a map that is not spatial (a spectrum), drawn beside its finding


class _MapBrowser(QTextBrowser):
    """The findings' text, with the maps that are not pictures of the image drawn in it."""

    def __init__(self) -> None:
        super().__init__()
        self.maps: dict[str, QImage] = {}

    def loadResource(self, kind: int, url: QUrl):  # noqa: N802 (Qt's name)
        if url.scheme() == MAP_SCHEME and kind == QTextDocument.ResourceType.ImageResource:
            return self.maps.get(url.path())
        return super().loadResource(kind, url)


def _scalar(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def indicator_text(indicators: dict[str, Any]) -> list[tuple[str, str]]:
    """The indicators in a line each: scalars as they are, short lists joined, the rest
    summarised by their size (the full metadata is in the Metadata tab)."""
    rows = []
    for key, value in indicators.items():
        if isinstance(value, dict):
            text = f"{len(value)} entr{'y' if len(value) == 1 else 'ies'}" if value else "none"
        elif isinstance(value, list | tuple):
            scalars = all(not isinstance(v, dict | list | tuple) for v in value)
            if scalars and len(value) <= 8:
                text = ", ".join(_scalar(v) for v in value) or "none"
            else:
                text = f"{len(value)} item{'' if len(value) == 1 else 's'}"
        else:
            text = _scalar(value)
        rows.append((key, text))
    return rows


def finding_text(result: ForensicResult) -> str:
    if result.error:
        return f"Error: {result.error}"
    if not result.applicable:
        return f"Not applicable: {result.statement}"
    return result.statement


class ForensicsPanel(QWidget):
    layer_selected = Signal(str)  # analysis name of the selected row

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.list = QTreeWidget()
        self.list.setColumnCount(3)
        self.list.setHeaderLabels(["Analysis", "Finding", "Time"])
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        self.list.setAccessibleName("Forensic analyses")
        header = self.list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.list.currentItemChanged.connect(self._current_changed)
        self.details = _MapBrowser()
        self.details.setOpenLinks(False)
        self.details.setAccessibleName("Forensic findings and limits")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.list)
        split.addWidget(self.details)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)
        self._names: list[str] = []
        self.clear()

    # -- content --------------------------------------------------------------------------------

    def clear(self, message: str = "No image selected.") -> None:
        self._names = []
        self.list.blockSignals(True)  # emptying moves the current row: that is no selection
        self.list.clear()
        self.list.blockSignals(False)
        self.details.setHtml(f"<i>{html.escape(message)}</i>")
        self.status.setText(message)

    def show_results(self, results: list[ForensicResult], status: str,
                     pending: list[str] | None = None) -> None:
        """The results so far (display order), a status line (where they are kept, what runs),
        and the titles of analyses still to come."""
        current = self.current_name()
        self.status.setText(status)
        self.list.blockSignals(True)
        try:
            self.list.clear()
            self._names = []
            for result in results:
                self._add_row(result)
            for title in pending or []:
                row = QTreeWidgetItem([title, "running…", ""])
                row.setForeground(1, QBrush(QColor(MUTED_COLOUR)))
                row.setFlags(Qt.ItemFlag.NoItemFlags)
                self.list.addTopLevelItem(row)
            if current in self._names:
                self.list.setCurrentItem(self.list.topLevelItem(self._names.index(current)))
        finally:
            self.list.blockSignals(False)
        self.details.maps = {r.name: map_qimage(r.map) for r in results
                             if r.map is not None and not r.map_spatial}
        self.details.setHtml(self._details_html(results, pending or []))
        if current in self._names:
            self.details.scrollToAnchor(current)

    def _add_row(self, result: ForensicResult) -> None:
        seconds = f"{result.seconds:.2f} s" if result.seconds else ""
        row = QTreeWidgetItem([result.title, finding_text(result), seconds])
        row.setData(0, Qt.ItemDataRole.UserRole, result.name)
        tip = f"{finding_text(result)}\n\nLimits: {result.limits}" if result.limits else ""
        for column in range(3):
            row.setToolTip(column, tip)
        if result.error:
            row.setForeground(1, QBrush(QColor(ERROR_COLOUR)))
        elif not result.applicable:
            for column in range(3):
                row.setForeground(column, QBrush(QColor(MUTED_COLOUR)))
        self.list.addTopLevelItem(row)
        self._names.append(result.name)

    def _details_html(self, results: list[ForensicResult], pending: list[str]) -> str:
        parts = []
        for r in results:
            state = ""
            if r.error:
                state = f"<p style='color:{ERROR_COLOUR}'><b>Error:</b> {html.escape(r.error)}</p>"
            elif not r.applicable:
                state = f"<p style='color:{MUTED_COLOUR}'><b>Not applicable.</b></p>"
            rows = "".join(
                f"<tr><td style='color:{MUTED_COLOUR}'>{html.escape(k)}</td>"
                f"<td>{html.escape(v)}</td></tr>" for k, v in indicator_text(r.indicators))
            timing = f" <span style='color:{MUTED_COLOUR}'>({r.seconds:.2f} s)</span>" \
                if r.seconds else ""
            legend = ""
            if r.map is not None and not r.map_spatial:  # not a place in the image: shown here
                legend = (f"<p><img src='{MAP_SCHEME}:{html.escape(r.name)}' width={MAP_WIDTH}>"
                          f"</p><p><b>Map:</b> {html.escape(r.map_legend or '')}</p>")
            elif r.map is not None and r.map_legend:
                legend = f"<p><b>Layer:</b> {html.escape(r.map_legend)}</p>"
            parts.append(
                f"<a name='{html.escape(r.name)}'></a><h3>{html.escape(r.title)}{timing}</h3>"
                f"{state}<p>{html.escape(r.statement)}</p>"
                + (f"<table cellspacing=2>{rows}</table>" if rows else "") + legend
                + (f"<p style='background:#FFF4CC; color:#000000; padding:4px'><b>Limits:</b> "
                   f"{html.escape(r.limits)}</p>" if r.limits else ""))
        if pending:
            parts.append("<p><i>Still running: " + html.escape(", ".join(pending)) + "</i></p>")
        return "".join(parts) or "<i>No forensic results.</i>"

    # -- selection ------------------------------------------------------------------------------

    def names(self) -> list[str]:
        return list(self._names)

    def current_name(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else item.data(0, Qt.ItemDataRole.UserRole)

    def select(self, name: str) -> None:
        """Select the row of ``name`` (emits ``layer_selected`` like a click)."""
        if name in self._names:
            self.list.setCurrentItem(self.list.topLevelItem(self._names.index(name)))

    def row_text(self, name: str) -> str:
        item = self.list.topLevelItem(self._names.index(name))
        return " | ".join(item.text(c) for c in range(3))

    def text(self) -> str:
        return self.status.text() + "\n" + self.details.toPlainText()

    def _current_changed(self, current: QTreeWidgetItem | None, _previous) -> None:
        name = None if current is None else current.data(0, Qt.ItemDataRole.UserRole)
        if name:
            self.details.scrollToAnchor(name)
            self.layer_selected.emit(name)
