"""Item models for the queue list and the batch comparison table (GUI thread only)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Slot,
)
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QApplication, QStyle

from inspector.core.pipeline import Done, FinalVerdict, InitialVerdict
from inspector.core.results import Analysis
from inspector.core.wording import (
    P_AI_LABEL,
    changed_text,
    confidence_text,
    findings_disagreement_text,
    override_text,
    p_ai_reading,
    verdict_text,
)

THUMBNAIL_SIZE = 64
VERDICT_FILTERS = (None, "real", "ai-generated", "unparsed")
NOT_LOADED = "not-loaded"  # queue state: the model failed to load, so the image was not analysed
ALERT_COLOUR = QColor("#C00000")  # failed rows, changed or missing evidence

_Index = QModelIndex | QPersistentModelIndex
DisplayRole = Qt.ItemDataRole.DisplayRole
DecorationRole = Qt.ItemDataRole.DecorationRole
ToolTipRole = Qt.ItemDataRole.ToolTipRole
ForegroundRole = Qt.ItemDataRole.ForegroundRole
TextAlignmentRole = Qt.ItemDataRole.TextAlignmentRole
UserRole = int(Qt.ItemDataRole.UserRole)


def thumbnail_image(image: Any, size: int = THUMBNAIL_SIZE) -> QImage:
    """A small QImage (at most size × size, aspect kept) of a PIL image. GUI thread."""
    from PIL import Image

    w, h = image.size
    scale = min(size / w, size / h, 1.0)
    small = image.resize(
        (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR
    ).convert("RGB")
    data = small.tobytes()
    qimage = QImage(data, small.width, small.height, 3 * small.width, QImage.Format.Format_RGB888)
    return qimage.copy()  # own the pixels: `data` goes away


_placeholder: QIcon | None = None
_failed_icon: QIcon | None = None


def failed_icon() -> QIcon:
    global _failed_icon
    if _failed_icon is None:
        _failed_icon = QApplication.style().standardIcon(
            QStyle.StandardPixmap.SP_MessageBoxCritical)
    return _failed_icon


def placeholder_icon() -> QIcon:
    global _placeholder
    if _placeholder is None:
        pixmap = QPixmap(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
        pixmap.fill(QColor(200, 200, 200))
        _placeholder = QIcon(pixmap)
    return _placeholder


# --------------------------------------------------------------------------------------------
# Queue
# --------------------------------------------------------------------------------------------


@dataclass
class QueueItem:
    path: str
    state: str = "queued"
    icon: QIcon | None = None
    initial: str | None = None  # verdict as parsed; None = not known yet or unparsed
    initial_known: bool = False
    analysis: Analysis | None = None
    error: str | None = None
    evidence: str = ""  # "changed" | "missing" when the file no longer matches its analysis

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def alarming(self) -> bool:
        return self.state in ("failed", NOT_LOADED) or self.evidence in ("changed", "missing")

    def display_text(self) -> str:
        if self.state == "failed":
            return f"{self.name} — failed: {self.error or 'unknown error'}"
        if self.state == NOT_LOADED:
            return f"{self.name} — not analysed: model not loaded"
        if self.evidence == "changed":
            return f"{self.name} — FILE CHANGED since analysis"
        if self.evidence == "missing":
            return f"{self.name} — FILE MISSING"
        if self.analysis is not None and self.state == "done":
            a = self.analysis
            text = (f"{self.name} — {verdict_text(a.initial_verdict)} → "
                    f"{verdict_text(a.final_verdict)}")
            if a.overridden:
                text += f" · examiner: {verdict_text(a.verdict_of_record)}"
            return text
        if self.state == "analysing":
            if self.initial_known:
                return f"{self.name} — {verdict_text(self.initial)} → …"
            return f"{self.name} — analysing…"
        return f"{self.name} — {self.state}"

    def tooltip(self) -> str:
        lines = [self.path, f"State: {self.state}"]
        a = self.analysis
        if a is not None:
            lines.append(
                f"Initial: {verdict_text(a.initial_verdict)} "
                f"({P_AI_LABEL} {confidence_text(a.query1.confidence)})"
            )
            lines.append(
                f"Final: {verdict_text(a.final_verdict)} "
                f"({P_AI_LABEL} {confidence_text(a.final_confidence)})"
            )
            if a.overridden:
                lines.append(override_text(a.examiner))
            lines.append(f"Regions: {len(a.regions)}")
        elif self.initial_known:
            lines.append(f"Initial: {verdict_text(self.initial)}")
        if self.error:
            lines.append(f"Error: {self.error}")
        return "\n".join(lines)


class QueueModel(QAbstractListModel):
    """One row per image: thumbnail, state and, when done, initial → final verdicts."""

    PathRole = UserRole + 1
    StateRole = UserRole + 2
    AnalysisRole = UserRole + 3
    ErrorRole = UserRole + 4
    InitialVerdictRole = UserRole + 5
    FinalVerdictRole = UserRole + 6

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: list[QueueItem] = []
        self._rows: dict[str, int] = {}

    # -- wiring ---------------------------------------------------------------------------------

    def connect_queue(self, queue: Any, host: Any) -> None:
        """Follow an AnalysisQueue and its WorkerHost (both in the GUI thread)."""
        queue.state_changed.connect(self.set_state)
        queue.item_finished.connect(self.set_analysis)
        queue.item_failed.connect(self.set_error)
        host.pipeline_event.connect(self.handle_event)

    # -- Qt model -------------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: _Index, role: int = DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == DisplayRole:
            return item.display_text()
        if role == DecorationRole:
            if item.state in ("failed", NOT_LOADED):
                return failed_icon()
            return item.icon if item.icon is not None else placeholder_icon()
        if role == ToolTipRole:
            return item.tooltip()
        if role == ForegroundRole:
            return ALERT_COLOUR if item.alarming else None
        if role == self.PathRole:
            return item.path
        if role == self.StateRole:
            return item.state
        if role == self.AnalysisRole:
            return item.analysis
        if role == self.ErrorRole:
            return item.error
        if role == self.InitialVerdictRole:
            return item.analysis.initial_verdict if item.analysis else item.initial
        if role == self.FinalVerdictRole:
            return item.analysis.final_verdict if item.analysis else None
        return None

    def roleNames(self) -> dict[int, bytes]:
        names = dict(super().roleNames())
        names.update({
            self.PathRole: b"path",
            self.StateRole: b"state",
            self.AnalysisRole: b"analysis",
            self.ErrorRole: b"error",
            self.InitialVerdictRole: b"initialVerdict",
            self.FinalVerdictRole: b"finalVerdict",
        })
        return names

    # -- access ---------------------------------------------------------------------------------

    def row_of(self, path: str | Path) -> int:
        """The row of `path`, or -1."""
        return self._rows.get(str(path), -1)

    def path_at(self, row: int) -> str:
        return self._items[row].path

    def paths(self) -> list[str]:
        return [item.path for item in self._items]

    def set_icon(self, path: str, image: QImage) -> None:
        """The row's thumbnail (a small QImage made off the GUI thread)."""
        row = self.row_of(path)
        if row >= 0:
            self._items[row].icon = QIcon(QPixmap.fromImage(image))
            self._changed(row)

    def set_evidence_state(self, path: str, state: str) -> None:
        """"changed" / "missing" mark the row red; anything else clears the mark."""
        row = self.row_of(path)
        if row >= 0:
            self._items[row].evidence = state if state in ("changed", "missing") else ""
            self._changed(row)

    def refresh(self, path: str) -> None:
        """Redraw a row whose analysis changed in place (e.g. the examiner's override)."""
        row = self.row_of(path)
        if row >= 0:
            self._changed(row)

    def item(self, path: str | Path) -> QueueItem | None:
        row = self.row_of(path)
        return self._items[row] if row >= 0 else None

    # -- updates --------------------------------------------------------------------------------

    def add_paths(self, paths: list[str | Path]) -> None:
        """Add rows (state queued); a path already listed is reset to queued."""
        for p in paths:
            self.set_state(str(p), "queued")

    def remove_path(self, path: str | Path) -> None:
        row = self.row_of(path)
        if row < 0:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._items[row]
        self._rows = {item.path: i for i, item in enumerate(self._items)}
        self.endRemoveRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._items.clear()
        self._rows.clear()
        self.endResetModel()

    @Slot(str, str)
    def set_state(self, path: str, state: str) -> None:
        row = self.row_of(path)
        if row < 0:
            row = len(self._items)
            self.beginInsertRows(QModelIndex(), row, row)
            self._items.append(QueueItem(path, state))
            self._rows[path] = row
            self.endInsertRows()
            return
        item = self._items[row]
        if state in ("queued", "analysing") and item.state not in ("queued", "analysing"):
            # analysed again: forget the previous outcome
            item.analysis, item.error, item.initial, item.initial_known = None, None, None, False
            item.evidence = ""
        item.state = state
        self._changed(row)

    @Slot(str, object)
    def set_analysis(self, path: str, analysis: Analysis) -> None:
        row = self.row_of(path)
        if row < 0:
            return
        item = self._items[row]
        item.analysis, item.error, item.state = analysis, None, "done"
        self._changed(row)

    @Slot(str, str)
    def set_error(self, path: str, message: str) -> None:
        row = self.row_of(path)
        if row < 0:
            return
        item = self._items[row]
        item.error, item.state = message, "failed"
        self._changed(row)

    @Slot(str, object)
    def handle_event(self, path: str, event: Any) -> None:
        """A pipeline event from the worker (already in the GUI thread)."""
        row = self.row_of(path)
        if row < 0:
            return
        item = self._items[row]
        if isinstance(event, InitialVerdict):
            item.initial, item.initial_known = event.query.verdict, True
        elif isinstance(event, FinalVerdict | Done):
            item.analysis = event.analysis
        else:
            return
        self._changed(row)

    def _changed(self, row: int) -> None:
        index = self.index(row, 0)
        self.dataChanged.emit(index, index)


# --------------------------------------------------------------------------------------------
# Batch comparison
# --------------------------------------------------------------------------------------------


class BatchTableModel(QAbstractTableModel):
    """Every analysed image, one row each (a re-analysed file replaces its row)."""

    COLUMNS = ("File", "Initial", "Final", "Changed", "Examiner override", P_AI_LABEL,
               "Regions", "Seconds")
    FILE, INITIAL, FINAL, CHANGED, OVERRIDE, CONFIDENCE, REGIONS, SECONDS = range(8)
    HEADER_TIPS = {
        OVERRIDE: "The examiner's verdict of record, where one was saved (who and when in the "
                  "tooltip); it replaces the model's verdict in reports and exports.",
        CONFIDENCE: "P(AI-generated) of the final verdict, from the model's token probabilities "
                    "(uncalibrated); n/a when the backend does not expose them.",
    }
    SortRole = UserRole + 1  # raw value: str/float/int, None when unknown (sorts last)
    AnalysisRole = UserRole + 2

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._analyses: list[Analysis] = []

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._analyses)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = DisplayRole):
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.COLUMNS):
            if role == DisplayRole:
                return self.COLUMNS[section]
            if role == ToolTipRole:
                return self.HEADER_TIPS.get(section)
        return super().headerData(section, orientation, role)

    def analysis_at(self, row: int) -> Analysis:
        return self._analyses[row]

    def analyses(self) -> list[Analysis]:
        return list(self._analyses)

    def set_analyses(self, analyses: list[Analysis]) -> None:
        self.beginResetModel()
        self._analyses = list(analyses)
        self.endResetModel()

    def add_analysis(self, analysis: Analysis) -> None:
        """Add one analysis; a file analysed again replaces its row."""
        for row, existing in enumerate(self._analyses):
            if existing.evidence.path == analysis.evidence.path:
                self._analyses[row] = analysis
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.COLUMNS) - 1))
                return
        row = len(self._analyses)
        self.beginInsertRows(QModelIndex(), row, row)
        self._analyses.append(analysis)
        self.endInsertRows()

    def clear(self) -> None:
        self.set_analyses([])

    def row_of_path(self, path: str) -> int:
        """The row showing the file at ``path``, or -1."""
        for row, a in enumerate(self._analyses):
            if a.evidence.path == path:
                return row
        return -1

    def refresh(self, analysis: Analysis) -> None:
        """Redraw the row of an analysis changed in place (the examiner's override)."""
        for row, existing in enumerate(self._analyses):
            if existing.id == analysis.id:
                self._analyses[row] = analysis
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.COLUMNS) - 1))

    def data(self, index: _Index, role: int = DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._analyses):
            return None
        a = self._analyses[index.row()]
        column = index.column()
        if role == DisplayRole:
            return self._display(a, column)
        if role == self.SortRole:
            return self._raw(a, column)
        if role == self.AnalysisRole:
            return a
        if role == ToolTipRole and column == self.FILE:
            return a.evidence.path
        if role == ToolTipRole and column == self.FINAL:
            return findings_disagreement_text(a)
        if role == ToolTipRole and column == self.CONFIDENCE:
            return p_ai_reading(a.final_confidence)
        if role == ToolTipRole and column == self.OVERRIDE and a.overridden:
            return override_text(a.examiner) + (f"\nNotes: {a.examiner.notes}"
                                                if a.examiner.notes else "")
        if role == TextAlignmentRole and column >= self.CONFIDENCE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, a: Analysis, column: int) -> str:
        if column == self.FILE:
            return Path(a.evidence.path).name
        if column == self.INITIAL:
            return verdict_text(a.initial_verdict)
        if column == self.FINAL:  # the mark is explained by the row's tooltip
            return verdict_text(a.final_verdict) + (" ⚠" if a.follows_findings is False else "")
        if column == self.CHANGED:
            return "—" if a.changed is None else changed_text(a)
        if column == self.OVERRIDE:
            return verdict_text(a.examiner.override_verdict) if a.overridden else "—"
        if column == self.CONFIDENCE:
            p = a.final_confidence
            return "n/a" if p is None else confidence_text(p)
        if column == self.REGIONS:
            return str(len(a.regions))
        seconds = _seconds(a)
        return "—" if seconds is None else f"{seconds:.1f}"

    def _raw(self, a: Analysis, column: int) -> Any:
        if column == self.FILE:
            return Path(a.evidence.path).name.casefold()
        if column == self.INITIAL:
            return a.initial_verdict
        if column == self.FINAL:
            return a.final_verdict
        if column == self.CHANGED:
            return None if a.changed is None else int(a.changed)
        if column == self.OVERRIDE:
            return a.examiner.override_verdict
        if column == self.CONFIDENCE:
            return a.final_confidence
        if column == self.REGIONS:
            return len(a.regions)
        return _seconds(a)


def _seconds(a: Analysis) -> float | None:
    value = a.timings.get("total")
    return None if value is None else float(value)


class BatchFilterProxy(QSortFilterProxyModel):
    """Sorts on BatchTableModel.SortRole (None last in either order) and filters rows."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(BatchTableModel.SortRole)
        self._changed_only = False
        self._against_findings_only = False
        self._verdict: str | None = None

    @property
    def changed_only(self) -> bool:
        return self._changed_only

    @property
    def verdict_filter(self) -> str | None:
        return self._verdict

    def set_changed_only(self, on: bool) -> None:
        self._refilter(lambda: setattr(self, "_changed_only", bool(on)))

    @property
    def against_findings_only(self) -> bool:
        return self._against_findings_only

    def set_against_findings_only(self, on: bool) -> None:
        """Keep only rows whose final verdict follows none of Query 2's own findings."""
        self._refilter(lambda: setattr(self, "_against_findings_only", bool(on)))

    def set_verdict_filter(self, verdict: str | None) -> None:
        """Keep rows whose *final* verdict is `verdict` ("unparsed": none parsed); None: all."""
        if verdict not in VERDICT_FILTERS:
            raise ValueError(f"verdict filter must be one of {VERDICT_FILTERS}; got {verdict!r}")
        self._refilter(lambda: setattr(self, "_verdict", verdict))

    def _refilter(self, change) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt ≥ 6.9
            self.beginFilterChange()
            change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            change()
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:
        source = self.sourceModel()
        if not isinstance(source, BatchTableModel):
            return True
        a = source.analysis_at(source_row)
        if self._changed_only and a.changed is not True:
            return False
        if self._against_findings_only and a.follows_findings is not False:
            return False
        if self._verdict is not None:
            final = a.final_verdict if a.final_verdict in VERDICT_FILTERS else None
            wanted = None if self._verdict == "unparsed" else self._verdict
            if final != wanted:
                return False
        return True

    def lessThan(self, left: _Index, right: _Index) -> bool:
        role = self.sortRole()
        a, b = left.data(role), right.data(role)
        descending = self.sortOrder() == Qt.SortOrder.DescendingOrder
        if a is None or b is None:
            # Qt reverses the comparison for descending order; None stays last either way.
            if a is None and b is None:
                return False
            return descending if a is None else not descending
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)
