"""The main window: queue on the left, the live Locate-Then-Examine view, the batch table.

Thin by design: the worker thread runs the pipeline, the models hold the queue and the table,
the widgets draw (laid out in ``window_layout``), :class:`CaseSession` writes the case and
``case_actions`` opens, creates and exports it, :class:`ExaminerDrafts` carries the examiner's
input to the case, :class:`Background` does slow work off the GUI thread, ``image_display`` shows
one image, ``forensics_view`` runs and shows the forensic analyses (after the model, or alone
without one) and ``window_dialogs`` holds the dialogs. This module wires them:

- What is shown is what is on disk now. Selecting an image re-reads and re-hashes its file off
  the GUI thread (``core.preview.check_evidence``); only when the hash matches the analysis are
  its boxes, close-ups, verdicts and examiner input shown. A changed or missing file is said in
  red on the image, the queue row and the Evidence tab, with an offer to re-analyse.
- Nothing the examiner types is lost: unsaved input is kept per analysis while the window is
  open and saved when the examiner moves to another image or closes the window; "saved" is said
  only after the case write succeeded, a failed write is an error bar with the text kept.
- Queue, batch table and view follow each other from mouse and keyboard; the view follows the
  running analysis only until the examiner touches something.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from inspector.core.casestore import CaseStore
from inspector.core.imageio import iter_image_files
from inspector.core.pipeline import (
    CloseupReady,
    FinalVerdict,
    ImageLoaded,
    InitialVerdict,
    PipelineOptions,
    QueryStarted,
    RegionLocated,
    TokenGenerated,
)
from inspector.core.results import Analysis
from inspector.gui.background import Background
from inspector.gui.case_actions import CaseActions
from inspector.gui.case_session import CaseSession
from inspector.gui.examiner_drafts import ExaminerDrafts
from inspector.gui.forensics_view import ForensicsController, forensic_names
from inspector.gui.image_display import ImageDisplay
from inspector.gui.image_records import ImageRecord
from inspector.gui.models import (
    NOT_LOADED,
    BatchFilterProxy,
    BatchTableModel,
    QueueModel,
    thumbnail_image,
)
from inspector.gui.settings import AppSettings, to_closeup_policy
from inspector.gui.window_dialogs import WindowDialogs
from inspector.gui.window_layout import build_menus, build_widgets
from inspector.gui.worker import AnalysisQueue, WorkerHost

BackendFactory = Callable[[], Any]

def default_case_folder() -> Path:
    """Today's session case, used until the user opens another one."""
    from platformdirs import user_data_dir

    day = dt.datetime.now().strftime("%Y%m%d")
    return Path(user_data_dir("lte-inspector")) / "cases" / f"session-{day}"


class MainWindow(ImageDisplay, CaseActions, WindowDialogs, QMainWindow):
    def __init__(
        self,
        settings: AppSettings,
        backend_factory: BackendFactory | None,
        *,
        notices: list[str] | None = None,
        case_folder: Path | None = None,
        is_demo: bool = False,
        demo_factory: BackendFactory | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.records: dict[str, ImageRecord] = {}
        self.shown_path: str | None = None
        self.displayed_path: str | None = None  # shown_path once its pixels are on screen
        self.follow_live = True
        self.case: CaseStore | None = None
        self.last_notice = ""
        self._show_token = 0
        self._syncing = False
        self._backend_factory = backend_factory
        self._demo_factory = demo_factory
        self.setWindowTitle("LTE Inspector")
        self.setAcceptDrops(True)

        self.loader = Background(2, "evidence-reader", self)  # hashing, decoding, previews
        # an opened case's rows are checked one by one on their own thread, so that a case of
        # many large files never delays the file the examiner selects
        self.case_checker = Background(1, "case-checker", self)
        self._case_checks: list = []
        self.cases = CaseSession(self)
        self.host = WorkerHost(self)
        self.queue = AnalysisQueue(self.host, self._pipeline_options(), self)
        self.queue_model = QueueModel(self)
        self.queue_model.connect_queue(self.queue, self.host)
        self.table_model = BatchTableModel(self)
        self.table_proxy = BatchFilterProxy(self)
        self.table_proxy.setSourceModel(self.table_model)

        build_widgets(self)
        self.drafts = ExaminerDrafts(self.examiner, self.cases, self)
        build_menus(self)
        self.forensics = ForensicsController(self)
        self._wire()
        self._open_case(case_folder or default_case_folder())

        banner = []
        if is_demo:
            banner.append("DEMO MODEL — this checkpoint shows how the app works; it is not a "
                          "detector. Configure a real model in Settings.")
        banner.extend(notices or [])
        self.set_banner("\n".join(banner))
        self.host.set_requested_batch_size(settings.batch_size or None)
        self.host.start()
        if backend_factory is not None:
            self.host.load(backend_factory)
        self._memory_timer = QTimer(self)
        self._memory_timer.timeout.connect(self._update_status)
        self._memory_timer.start(2000)
        self._update_status()
        self._update_buttons()

    # -- construction ---------------------------------------------------------------------------

    def _wire(self) -> None:
        self.open_button.clicked.connect(self.open_images)
        self.cancel_button.clicked.connect(self.queue.cancel_current)
        self.stop_button.toggled.connect(self._stop_toggled)
        self.queue_view.selectionModel().currentRowChanged.connect(self._queue_current_changed)
        self.queue_view.clicked.connect(self._queue_clicked)
        self.table.selectionModel().currentRowChanged.connect(self._table_current_changed)
        self.table.activated.connect(self._table_activated)  # Enter, double-click
        self.changed_only.toggled.connect(self.table_proxy.set_changed_only)
        self.against_findings_only.toggled.connect(self.table_proxy.set_against_findings_only)
        self.verdict_filter.currentIndexChanged.connect(
            lambda _: self.table_proxy.set_verdict_filter(self.verdict_filter.currentData())
        )
        self.host.loading.connect(lambda text: self.model_label.setText(f"Loading: {text}"))
        self.host.loaded.connect(self._model_loaded)
        self.host.load_failed.connect(self._model_failed)
        self.host.pipeline_event.connect(self._on_event)
        self.queue.state_changed.connect(self._queue_state_changed)
        self.queue.item_finished.connect(self._item_finished)
        self.queue.item_failed.connect(self._item_failed)
        self.view.region_clicked.connect(self._region_selected)
        self.view.touched.connect(self._touched)
        self.view.zoom_changed.connect(self._zoom_changed)
        self.view.cursor_moved.connect(self._cursor_moved)
        self.view.detail_wanted.connect(self._detail_wanted)
        self.strip.closeup_clicked.connect(self._region_selected)
        self.verdicts.finding_selected.connect(self._region_selected)
        self.drafts.saved.connect(self._examiner_saved)
        self.drafts.failed.connect(self.show_error)
        self.drafts.notice.connect(self.notify)
        self.examiner.edited.connect(self._touched)
        self.cases.write_failed.connect(self.show_error)
        self.state_bar.reanalyse_requested.connect(self.reanalyse_shown)

    # -- adding images --------------------------------------------------------------------------

    def add_paths(self, paths: list[str | Path]) -> int:
        """Queue images and folders (walked); returns how many files were queued."""
        files = [str(p) for p in iter_image_files(paths)]
        added = self.queue.add(files, self._pipeline_options())  # the queue model follows
        for path in added:
            self.records.setdefault(path, ImageRecord())
        if self.host.model_state == "failed" or (self.host.model_state == "none"
                                                 and self._backend_factory is None):
            self._mark_not_loaded()  # no model will come: say so (the forensics still run)
        if added and self.shown_path is None:
            self.show_path(added[0], follow=True)  # and keep following the queue
        return len(added)

    def open_images(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Add images")
        if names:
            self.add_paths(names)

    def open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of images")
        if folder:
            self.add_paths([folder])

    def paste(self) -> None:
        """Paste file paths, or an image (saved as a PNG in the case folder first)."""
        clipboard = QGuiApplication.clipboard()
        mime = clipboard.mimeData()
        if mime.hasUrls():
            self.add_paths([u.toLocalFile() for u in mime.urls() if u.isLocalFile()])
        elif mime.hasImage() and self.case is not None:
            target = self.case.root / "pasted" / (
                dt.datetime.now().strftime("%Y%m%dT%H%M%S") + ".png"
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            clipboard.image().save(str(target), "PNG")
            self.add_paths([target])
        elif mime.hasText():
            candidates = [line.strip() for line in mime.text().splitlines() if line.strip()]
            self.add_paths([c for c in candidates if os.path.exists(c)])

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.add_paths(paths)
            event.acceptProposedAction()

    def reanalyse_shown(self) -> None:
        """Analyse the shown file again: a new analysis; the old one stays in the case."""
        path = self.shown_path
        if path is None or path in self.queue.running or path in self.queue.pending:
            return
        self.records[path] = ImageRecord()
        self.queue.add([path], self._pipeline_options())
        self.follow_live = True
        self.show_path(path)

    # -- live analysis --------------------------------------------------------------------------

    def _queue_state_changed(self, path: str, state: str) -> None:
        if state == "analysing":
            self.records.setdefault(path, ImageRecord()).start_over()
        self._update_buttons()

    def _on_event(self, path: str, event: Any) -> None:
        record = self.records.setdefault(path, ImageRecord())
        if isinstance(event, ImageLoaded):
            record.live_image = event.image
            record.evidence = event.evidence
            self.loader.submit(thumbnail_image, event.image,
                               on_done=lambda q, p=path: self.queue_model.set_icon(p, q))
            if (self.follow_live and self._precedes_watched(path)) or self.shown_path is None:
                self._follow_next(path)  # after the previous image's examine has played out
            return
        if isinstance(event, RegionLocated):
            record.regions.append(event.region)
        elif isinstance(event, CloseupReady):
            record.closeups[event.closeup.region] = (event.label, event.image)
        elif isinstance(event, TokenGenerated):
            record.streams[event.query] += event.text
        if path != self.displayed_path:
            return
        if isinstance(event, RegionLocated):
            r = event.region
            self.view.add_region(r.number, r.box, r.label, examined=False)
        elif isinstance(event, TokenGenerated):
            self.verdicts.set_streaming(event.query, record.streams[event.query])
        elif isinstance(event, InitialVerdict):
            self.verdicts.show_initial(event.query)
        elif isinstance(event, CloseupReady):
            self.view.set_examined(event.closeup.region, True)
            self.strip.add_closeup(event.closeup.region, event.label, event.image)
        elif isinstance(event, QueryStarted) and event.query == 2:
            boxes = [r.box for r in record.regions if r.number in record.closeups]
            if boxes:
                self.view.play_examine(boxes)
        elif isinstance(event, FinalVerdict):
            analysis = event.analysis
            if self.view.is_animating():
                self.view.examine_finished.connect(
                    lambda a=analysis: self._show_final(path, a),
                    Qt.ConnectionType.SingleShotConnection,
                )
            else:
                self._show_final(path, analysis)

    def _show_final(self, path: str, analysis: Analysis) -> None:
        if path == self.displayed_path:
            self.verdicts.show_analysis(analysis)

    def _item_finished(self, path: str, analysis: Analysis) -> None:
        record = self.records.setdefault(path, ImageRecord())
        record.analysis = analysis
        record.live_image = None  # shown again from the file, re-hashed
        closeups = {n: image for n, (_, image) in record.closeups.items()}
        self.cases.add_analysis(analysis, closeups, self.settings.examiner, Path(path).name,
                                forensic_maps=self.forensics.finish(path, analysis))
        self.table_model.add_analysis(analysis)
        if path == self.displayed_path:
            self._draw_regions(analysis, record)  # as parsed at the end, with their confidence
            self.verdicts.show_analysis(analysis)
            self.drafts.show(analysis)
        if self.follow_live and path == self.shown_path and self.queue.running:
            self._follow_next(self.queue.running[0])  # a batch-mate still being analysed

    def _precedes_watched(self, path: str) -> bool:
        """Whether the view, following the queue, should move to `path` (just loaded): the shown
        image is no longer analysed, or `path` comes before it in the same batch (their images
        load within milliseconds of each other, so this settles before any text streams)."""
        running = self.queue.running
        if self.shown_path not in running or path not in running:
            return True
        return running.index(path) < running.index(self.shown_path)

    def _follow_next(self, path: str) -> None:
        """Move the view on to `path`, once the shown image's examine animation has played."""
        if self.view.is_animating():
            self.view.examine_finished.connect(
                lambda p=path: self.follow_live and self.show_path(p, follow=True),
                Qt.ConnectionType.SingleShotConnection,
            )
        else:
            self.show_path(path, follow=True)

    def _item_failed(self, path: str, message: str) -> None:
        self.records.setdefault(path, ImageRecord()).error = message
        self.notify(f"{Path(path).name}: {message}")
        if path == self.shown_path:
            self.show_path(path)

    # -- examiner input -------------------------------------------------------------------------

    def _examiner_saved(self, analysis: Analysis) -> None:
        """Its input is in the case now: every place that shows the verdict of record follows."""
        self.table_model.refresh(analysis)
        self.queue_model.refresh(analysis.evidence.path)
        if self.displayed_path == analysis.evidence.path:
            self.verdicts.show_analysis(analysis)
        self._remember_examiner(analysis.examiner.examiner)
        self.statusBar().showMessage(
            f"Examiner input for {Path(analysis.evidence.path).name} saved to the case", 4000)

    def _remember_examiner(self, name: str) -> None:
        if not name or name == self.settings.examiner:
            return
        from inspector.gui.settings import save_settings

        self.settings.examiner = name
        self.examiner.set_default_examiner(name)
        try:
            save_settings(self.settings)
        except OSError as exc:
            self.notify(f"Could not remember the examiner's name in the settings: {exc}")

    # -- model, settings, status ----------------------------------------------------------------

    def _pipeline_options(self) -> PipelineOptions:
        return PipelineOptions(policy=to_closeup_policy(self.settings),
                               forensics=forensic_names(self.settings))

    def _model_loaded(self, provenance) -> None:
        self.error_bar.clear()
        demo = " — DEMO, not a detector" if provenance.is_demo else ""
        self.model_label.setText(
            f"Model: {provenance.model_id} ({provenance.model_type}, {provenance.dtype}, "
            f"{provenance.quantization}) on {provenance.device}{demo}"
        )
        batch = self.host.batch_size
        self.model_label.setToolTip(f"Batch size: {batch.reason}")
        if batch.size > 1:
            self.model_label.setText(f"{self.model_label.text()} — {batch.size} images at a time")
        waiting = [p for p in self.queue_model.paths()
                   if self.queue_model.item(p).state == NOT_LOADED]
        if waiting:
            self.queue.add(waiting, self._pipeline_options())

    def _model_failed(self, message: str) -> None:
        self.model_label.setText("Model not loaded")
        actions = [("Open Settings…", self.open_settings)]
        if self._backend_factory is not None:
            actions.append(("Retry", lambda: self.host.load(self._backend_factory)))
        if self._demo_factory is not None:
            actions.append(("Use the demo model", self.use_demo_model))
        self.show_error(
            f"The model could not be loaded: {message}\nNext steps: check the model in Settings "
            "(Ctrl+,), or use the bundled demo model to see how the app works. Queued images "
            "wait as \"not analysed\".", actions)
        self._mark_not_loaded()

    def _mark_not_loaded(self) -> None:
        waiting = self.queue.pending
        self.queue.clear_pending()
        for path in waiting:
            self.queue_model.set_state(path, NOT_LOADED)
        self._update_buttons()

    def use_demo_model(self) -> None:
        if self._demo_factory is not None:
            self.error_bar.clear()
            self.set_banner("DEMO MODEL — this checkpoint shows how the app works; it is not a "
                            "detector. Configure a real model in Settings.")
            self.host.load(self._demo_factory)

    def _update_buttons(self) -> None:
        busy = self.queue.is_busy
        self.cancel_button.setEnabled(busy)
        self.stop_button.setEnabled(busy or bool(self.queue.pending) or self.queue.is_stopped)

    def _set_animation(self, on: bool) -> None:
        self.settings.animation = on
        self.view.animations_enabled = on

    def _stop_toggled(self, stop: bool) -> None:
        if stop:
            self.queue.stop_after_current()
        else:
            self.queue.resume()
        self._update_buttons()

    def open_settings(self) -> None:
        from inspector.gui.settings import SettingsDialog, save_settings

        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            self.settings = dialog.settings()
            try:
                save_settings(self.settings)
            except OSError as exc:
                self.notify(f"Could not save the settings: {exc}")
            self.examiner.set_default_examiner(self.settings.examiner)
            self.view.animations_enabled = self.settings.animation
            self.host.set_requested_batch_size(self.settings.batch_size or None)
            self.queue.options = self._pipeline_options()
            self.forensics.refresh()
            self.notify("Settings saved. A changed model is loaded when you restart the app.")

    def set_banner(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.setVisible(bool(text))

    def notify(self, message: str) -> None:
        """A passing notice in the status bar (lasting problems go to :meth:`show_error`)."""
        self.statusBar().showMessage(message, 15000)
        self.last_notice = message

    def show_error(self, message: str, actions: list | None = None) -> None:
        """A problem the examiner must not miss: a red bar over the window until dismissed."""
        self.error_bar.show_message(message, actions or [])
        self.notify(message.splitlines()[0])

    def _update_status(self) -> None:
        try:
            import psutil

            rss = psutil.Process().memory_info().rss / 2**30
            text = f"RAM {rss:.1f} GiB"
            if "torch" in sys.modules:
                torch = sys.modules["torch"]
                if torch.cuda.is_available():
                    text += f", GPU {torch.cuda.memory_allocated() / 2**30:.1f} GiB"
            self.memory_label.setText(text)
        except Exception:  # noqa: BLE001 - a status line must never break the window
            pass

    # -- closing --------------------------------------------------------------------------------

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        """Save what the examiner typed, cancel the analysis, stop the worker, finish writes."""
        self.drafts.keep()
        unnamed = self.drafts.unnamed()
        if unnamed and self.isVisible() and not os.environ.get("LTE_NO_CLOSE_PROMPT"):
            answer = QMessageBox.question(
                self, "Unsaved notes",
                f"{unnamed} image(s) have notes that cannot be saved without an examiner's "
                "name. Close anyway and discard them?",
                QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel)
            if answer != QMessageBox.StandardButton.Discard:
                event.ignore()
                return
        self.drafts.save_all()
        self._memory_timer.stop()
        self.queue.stop_after_current()
        self.queue.cancel_current()
        self.host.shutdown()
        self.forensics.shutdown()
        self.loader.shutdown(wait=False, drop_pending=True)
        self.case_checker.shutdown(wait=False, drop_pending=True)
        self.cases.close()  # nothing finished or saved is lost
        event.accept()
