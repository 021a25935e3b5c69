"""Showing one image in the main window: re-read and re-hashed first, then drawn.

Part of :class:`~inspector.gui.main_window.MainWindow` (a mixin, so the window's widgets are
``self``'s): selecting an image re-reads and re-hashes its file off the GUI thread; only when the
hash matches its analysis are the boxes, close-ups, verdicts and examiner input shown; a changed,
missing or failed file is said in red and clears every panel of the previous image. Selections
overtaken by newer ones are dropped (a token), and the queue, the batch table and the view keep
the same image selected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex
from PySide6.QtGui import QImage

from inspector.core.preview import EvidenceCheck
from inspector.gui.image_records import (
    ImageRecord,
    check_for_display,
    detail_tile,
    live_preview,
    load_closeups,
)
from inspector.gui.image_view import ImageView

__all__ = ["ImageDisplay"]


class ImageDisplay:
    """Mixin of MainWindow: what is shown, and keeping the lists on it."""

    def show_path(self, path: str, *, follow: bool = False) -> None:
        """Show one image: its file is re-read and re-hashed first, off the GUI thread."""
        self.drafts.keep()
        if not follow:
            self.follow_live = path in self.queue.running and self.follow_action.isChecked()
        self.shown_path = path
        self._show_token += 1
        token = self._show_token
        self._select_in_lists(path)
        self._clear_panels(f"Reading {Path(path).name}…")
        record = self.records.setdefault(path, ImageRecord())
        if record.error is not None:
            self._show_failed(path, record.error)
            return
        if record.live_image is not None:  # being analysed: these are the bytes just hashed
            self.loader.submit(live_preview, record.live_image,
                               on_done=lambda img: self._show_live(token, path, img))
            return
        recorded = record.analysis.evidence.sha256 if record.analysis else None
        self.loader.submit(check_for_display, self._resolve(path), recorded,
                           on_done=lambda found: self._checked(token, path, *found))

    def _draw_regions(self, analysis: Any, record: ImageRecord) -> None:
        """The analysis's regions over the shown image, each with how surely it was written."""
        for r in analysis.regions:
            self.view.add_region(r.number, r.box, r.label,
                                 examined=r.examined or r.number in record.closeups,
                                 confidence=r.confidence)

    def _clear_panels(self, message: str) -> None:
        self.displayed_path = None
        self.view.clear(message)
        self.state_bar.clear()
        self.strip.clear()
        self.verdicts.clear()
        self.evidence.clear("Reading the file…")
        self.examiner.set_analysis(None)
        self.forensics.clear()

    def _clear_shown(self) -> None:
        self.drafts.keep()
        self.shown_path = None
        self._show_token += 1
        self._clear_panels(ImageView.DROP_MESSAGE)
        self.evidence.clear()

    def _show_failed(self, path: str, message: str) -> None:
        self.view.clear(f"{Path(path).name} could not be analysed:\n{message}")
        self.evidence.show_error(path, message)
        self.state_bar.show_state(f"Not analysed: {message}", can_reanalyse=False)

    def _show_live(self, token: int, path: str, preview: Any) -> None:
        if token != self._show_token:
            return
        record = self.records[path]
        if record.live_image is None and record.analysis is not None:
            self.show_path(path, follow=True)  # finished meanwhile: show it re-hashed
            return
        size = record.live_image.size if record.live_image is not None else None
        self.view.set_image(preview, full_size=size)
        self.displayed_path = path
        if record.evidence is not None and size is not None:
            self.forensics.show(path, record.evidence.sha256, size)
        for r in record.regions:
            self.view.add_region(r.number, r.box, r.label, examined=r.number in record.closeups)
        self._show_closeups(record.closeups)
        if record.evidence is not None:
            self.evidence.show_evidence(record.evidence)
        self._show_streams(record)

    def _checked(self, token: int, path: str, check: EvidenceCheck,
                 preview: QImage | None, thumbnail: QImage | None) -> None:
        if token != self._show_token:
            return  # the examiner has moved on
        record = self.records[path]
        record.check = check
        analysis = record.analysis
        self.queue_model.set_evidence_state(path, check.state)
        if thumbnail is not None:  # the queue shows the file as it is now, too
            self.queue_model.set_icon(path, thumbnail)
        if check.state in ("missing", "unreadable"):
            message = check.describe(analysis.evidence.sha256 if analysis else None)
            self.view.clear(message)
            self.state_bar.show_state(message, can_reanalyse=False)
            if analysis is not None:
                self.evidence.show_evidence(analysis.evidence, check)
            else:
                self.evidence.show_error(path, check.message)
            return
        self.view.set_image(preview, full_size=(check.width, check.height))
        self.displayed_path = path
        same_bytes = analysis is not None and analysis.evidence.sha256 == check.sha256
        self.forensics.show(path, check.sha256, (check.width, check.height),
                            analysis if same_bytes else None)
        if analysis is None:
            self.evidence.show_unanalysed(check)
            self._show_streams(record)
            return
        self.evidence.show_evidence(analysis.evidence, check)
        if check.state == "changed":  # new pixels: the old boxes and verdicts do not apply
            self.view.set_alert("FILE CHANGED SINCE ANALYSIS — recorded results hidden")
            self.state_bar.show_state(check.describe(analysis.evidence.sha256),
                                      can_reanalyse=True)
            return
        self._draw_regions(analysis, record)
        self.verdicts.show_analysis(analysis)
        self.drafts.show(analysis)
        if record.closeups:
            self._show_closeups(record.closeups)
        elif analysis.closeups:
            case = self.cases.owner(analysis.id)
            self.loader.submit(load_closeups, case, analysis,
                               on_done=lambda found: self._closeups_loaded(token, path, found))

    def _closeups_loaded(self, token: int, path: str, found: dict) -> None:
        if token == self._show_token and found:
            self.records[path].closeups = found
            self._show_closeups(found)

    def _show_streams(self, record: ImageRecord) -> None:
        """What a running (or interrupted) analysis has written so far."""
        for query in (1, 2):
            if record.streams[query]:
                self.verdicts.set_streaming(query, record.streams[query])

    def _show_closeups(self, closeups: dict) -> None:
        self.strip.clear()
        for number, (label, closeup) in sorted(closeups.items()):
            self.strip.add_closeup(number, label, closeup)

    def _resolve(self, path: str) -> str:
        """A path recorded relative to where the CLI ran: try the case folder's neighbourhood."""
        p = Path(path)
        if p.is_absolute() or p.exists() or self.case is None:
            return path
        for base in (self.case.root.parent, self.case.root):
            if (base / p).exists():
                return str(base / p)
        return path

    def _detail_wanted(self, rect, zoom: float) -> None:
        """Full-resolution pixels of the visible area of a previewed image (off the GUI thread)."""
        path, token = self.displayed_path, self._show_token
        if path is None:
            return
        record = self.records[path]
        expected = record.check.sha256 if record.check else None
        box = (rect.left(), rect.top(), rect.right(), rect.bottom())
        dpr = self.view.viewport().devicePixelRatioF()
        target = (max(1, round(self.view.viewport().width() * dpr)),
                  max(1, round(self.view.viewport().height() * dpr)))
        source = record.live_image
        self.loader.submit(detail_tile, source, self._resolve(path), expected, box, target,
                           on_done=lambda q: self._detail_ready(token, q, rect))

    def loupe_tile(self, box: tuple, on_done) -> None:
        """Full-resolution pixels of ``box`` (inclusive original pixels) for the loupe, decoded
        off the GUI thread; ``on_done(None)`` when the shown image changed meanwhile."""
        path, token = self.displayed_path, self._show_token
        if path is None:
            on_done(None)
            return
        record = self.records[path]
        expected = record.check.sha256 if record.check else None
        size = (box[2] - box[0] + 1, box[3] - box[1] + 1)
        self.loader.submit(detail_tile, record.live_image, self._resolve(path), expected, box,
                           size, on_done=lambda q: on_done(q if token == self._show_token
                                                           else None))

    def _detail_ready(self, token: int, image: QImage | None, rect) -> None:
        if token == self._show_token and image is not None:
            self.view.set_detail(image, rect)

    def _select_in_lists(self, path: str) -> None:
        """Keep the queue row and the batch-table row on the shown image (no echo)."""
        self._syncing = True
        try:
            row = self.queue_model.row_of(path)
            if row >= 0:
                index = self.queue_model.index(row, 0)
                self.queue_view.selectionModel().setCurrentIndex(
                    index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
                self.queue_view.scrollTo(index)
            else:
                self.queue_view.selectionModel().clearSelection()
            source_row = self.table_model.row_of_path(path)
            if source_row >= 0:
                proxy_index = self.table_proxy.mapFromSource(self.table_model.index(source_row, 0))
                if proxy_index.isValid():
                    self.table.selectionModel().setCurrentIndex(
                        proxy_index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                        | QItemSelectionModel.SelectionFlag.Rows)
                    self.table.scrollTo(proxy_index)
            else:
                self.table.selectionModel().clearSelection()
        finally:
            self._syncing = False

    def _queue_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._syncing or not current.isValid():
            return
        path = self.queue_model.path_at(current.row())
        if path != self.shown_path:
            self.show_path(path)

    def _queue_clicked(self, index: QModelIndex) -> None:
        path = self.queue_model.path_at(index.row())
        if path != self.shown_path:
            self.show_path(path)

    def _table_path(self, index: QModelIndex) -> str:
        return self.table_model.analysis_at(self.table_proxy.mapToSource(index).row()) \
            .evidence.path

    def _table_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._syncing or not current.isValid():
            return
        path = self._table_path(current)
        if path != self.shown_path:
            self._ensure_row(path)
            self.show_path(path)

    def _table_activated(self, index: QModelIndex) -> None:
        path = self._table_path(index)
        self._ensure_row(path)
        self.tabs.setCurrentIndex(0)
        if path != self.shown_path:
            self.show_path(path)

    def _ensure_row(self, path: str) -> None:
        """A table row whose image is not in the queue list gets a (done) queue row."""
        if self.queue_model.row_of(path) >= 0:
            return
        analysis = next(a for a in self.table_model.analyses() if a.evidence.path == path)
        self.records.setdefault(path, ImageRecord(analysis=analysis))
        self.queue_model.set_state(path, "done")
        self.queue_model.set_analysis(path, analysis)

    def _region_selected(self, number: int) -> None:
        self.view.highlight_region(number)
        self.strip.highlight(number)
        self.verdicts.highlight_region(number)

    def _touched(self) -> None:
        """The examiner works on what is shown: stop moving the view to the running analysis."""
        if self.shown_path is not None:
            self.follow_live = False

    def _set_follow(self, on: bool) -> None:
        self.follow_live = on
        if on and self.queue.current and self.queue.current != self.shown_path:
            self.show_path(self.queue.current, follow=True)

    def _zoom_changed(self, zoom: float) -> None:
        self.zoom_label.setText(f"Zoom {zoom * 100:.0f} %" if self.view.has_image() else "")

    def _cursor_moved(self, pixel: tuple[int, int] | None) -> None:
        self.pixel_label.setText("" if pixel is None else f"x {pixel[0]}, y {pixel[1]}")
