"""The main window: queue on the left, the live Locate-Then-Examine view, the batch table.

Thin by design: the worker thread runs the pipeline, the models hold the queue and the table,
the widgets draw. This module only wires them and keeps, per image, what the view needs to show
it again (its close-ups and analysis). Every finished analysis is written to the open case at
once, so nothing is lost if the app is closed or crashes.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from inspector import __version__
from inspector.core.casestore import CaseError, CaseStore
from inspector.core.imageio import ImageLoadError, iter_image_files, load_image
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
from inspector.gui.closeup_strip import CloseupStrip
from inspector.gui.evidence_panel import EvidencePanel
from inspector.gui.examiner_panel import ExaminerPanel
from inspector.gui.image_view import ImageView
from inspector.gui.models import BatchFilterProxy, BatchTableModel, QueueModel
from inspector.gui.settings import AppSettings, to_closeup_policy
from inspector.gui.verdict_panel import VerdictPanel
from inspector.gui.worker import AnalysisQueue, WorkerHost

BackendFactory = Callable[[], Any]


@dataclass
class ImageRecord:
    """What the window keeps per image to show it again."""

    image: Any = None  # PIL image while it is live; reloaded from disk when needed
    regions: list = field(default_factory=list)
    closeups: dict[int, tuple[str, Any]] = field(default_factory=dict)  # number -> (label, image)
    analysis: Any = None
    evidence: Any = None
    streams: dict[int, str] = field(default_factory=lambda: {1: "", 2: ""})


def default_case_folder() -> Path:
    """Today's session case, used until the user opens another one."""
    from platformdirs import user_data_dir

    day = dt.datetime.now().strftime("%Y%m%d")
    return Path(user_data_dir("lte-inspector")) / "cases" / f"session-{day}"


class MainWindow(QMainWindow):
    # case writes run on a background thread (PNG encoding and fsync can take 100+ ms);
    # their failures come back to the GUI thread through this signal
    case_write_failed = Signal(str)

    def __init__(
        self,
        settings: AppSettings,
        backend_factory: BackendFactory | None,
        *,
        notices: list[str] | None = None,
        case_folder: Path | None = None,
        is_demo: bool = False,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.records: dict[str, ImageRecord] = {}
        self.shown_path: str | None = None
        self.follow_live = True
        self.setWindowTitle("LTE Inspector")
        self.setAcceptDrops(True)

        self._case_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="case-writer")
        self.host = WorkerHost(self)
        self.queue = AnalysisQueue(self.host, self._pipeline_options(), self)
        self.queue_model = QueueModel(self)
        self.queue_model.connect_queue(self.queue, self.host)
        self.table_model = BatchTableModel(self)
        self.table_proxy = BatchFilterProxy(self)
        self.table_proxy.setSourceModel(self.table_model)

        self._build_widgets()
        self._build_menus()
        self._wire()
        self._open_case(case_folder or default_case_folder())

        banner = []
        if is_demo:
            banner.append("DEMO MODEL — this checkpoint shows how the app works; it is not a "
                          "detector. Configure a real model in Settings.")
        banner.extend(notices or [])
        self.set_banner("\n".join(banner))
        self.host.start()
        if backend_factory is not None:
            self.host.load(backend_factory)
        self._memory_timer = QTimer(self)
        self._memory_timer.timeout.connect(self._update_status)
        self._memory_timer.start(2000)
        self._update_status()

    # -- construction ---------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(
            "QLabel { background: #b35c00; color: white; padding: 6px; font-weight: bold; }"
        )
        self.queue_view = QListView()
        self.queue_view.setModel(self.queue_model)
        self.queue_view.setIconSize(self.queue_view.iconSize() * 2)
        self.open_button = QPushButton("Add images…")
        self.cancel_button = QPushButton("Cancel")
        self.stop_button = QPushButton("Stop after current")
        self.stop_button.setCheckable(True)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel("Queue (drop images or folders anywhere)"))
        left_layout.addWidget(self.queue_view, 1)
        buttons = QHBoxLayout()
        for b in (self.open_button, self.cancel_button, self.stop_button):
            buttons.addWidget(b)
        left_layout.addLayout(buttons)

        self.view = ImageView()
        self.view.animations_enabled = self.settings.animation
        self.strip = CloseupStrip()
        self.verdicts = VerdictPanel()
        self.examiner = ExaminerPanel()
        self.examiner.set_default_examiner(self.settings.examiner)
        self.examiner.set_analysis(None)

        image_side = QSplitter(Qt.Orientation.Vertical)
        image_side.addWidget(self.view)
        image_side.addWidget(self.strip)
        image_side.setStretchFactor(0, 5)
        image_side.setStretchFactor(1, 1)
        self.evidence = EvidencePanel()
        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(self.verdicts, "Verdicts")
        self.side_tabs.addTab(self.evidence, "Evidence and provenance")
        right_side = QSplitter(Qt.Orientation.Vertical)
        right_side.addWidget(self.side_tabs)
        right_side.addWidget(self.examiner)
        right_side.setStretchFactor(0, 3)
        inspect = QSplitter(Qt.Orientation.Horizontal)
        inspect.addWidget(image_side)
        inspect.addWidget(right_side)
        inspect.setStretchFactor(0, 3)
        inspect.setStretchFactor(1, 2)

        self.changed_only = QCheckBox("Changed only")
        self.verdict_filter = QComboBox()
        self.verdict_filter.addItem("All final verdicts", None)
        self.verdict_filter.addItem("Real", "real")
        self.verdict_filter.addItem("AI-generated", "ai-generated")
        self.verdict_filter.addItem("Unparsed", "unparsed")
        self.table = QTableView()
        self.table.setModel(self.table_proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        batch = QWidget()
        batch_layout = QVBoxLayout(batch)
        filters = QHBoxLayout()
        filters.addWidget(self.changed_only)
        filters.addWidget(self.verdict_filter)
        filters.addStretch(1)
        batch_layout.addLayout(filters)
        batch_layout.addWidget(self.table, 1)

        self.tabs = QTabWidget()
        self.tabs.addTab(inspect, "Inspect")
        self.tabs.addTab(batch, "Batch comparison")

        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(left)
        main.addWidget(self.tabs)
        main.setStretchFactor(1, 4)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.banner)
        layout.addWidget(main, 1)
        self.setCentralWidget(central)
        self.model_label = QLabel("no model loaded")
        self.memory_label = QLabel()
        self.case_label = QLabel()
        self.statusBar().addWidget(self.model_label, 1)
        self.statusBar().addPermanentWidget(self.case_label)
        self.statusBar().addPermanentWidget(self.memory_label)
        self.resize(1400, 900)

    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "&Open images…", self.open_images, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Open &folder…", self.open_folder, "Ctrl+Shift+O")
        self._action(file_menu, "&Paste image or paths", self.paste, QKeySequence.StandardKey.Paste)
        file_menu.addSeparator()
        self._action(file_menu, "&New case…", self.new_case, QKeySequence.StandardKey.New)
        self._action(file_menu, "Open &case…", self.open_case, "Ctrl+Shift+C")
        self._action(file_menu, "&Export report…", self.export_report_dialog, "Ctrl+E")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        analysis = bar.addMenu("&Analysis")
        self._action(analysis, "&Cancel current analysis", self.queue.cancel_current, "Ctrl+.")
        self._action(analysis, "&Stop after current", lambda: self.stop_button.setChecked(True))
        self._action(analysis, "&Resume queue", lambda: self.stop_button.setChecked(False))
        view = bar.addMenu("&View")
        self._action(view, "&Fit to window", self.view.fit_to_window, "Ctrl+0")
        self.animation_action = QAction("&Animate the examine step", self, checkable=True)
        self.animation_action.setChecked(self.settings.animation)
        self.animation_action.toggled.connect(self._set_animation)
        view.addAction(self.animation_action)
        settings_menu = bar.addMenu("&Settings")
        self._action(settings_menu, "&Settings…", self.open_settings, "Ctrl+,")
        self._action(settings_menu, "&Download a model…", self.download_model_dialog)
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About LTE Inspector", self.about)

    def _wire(self) -> None:
        self.open_button.clicked.connect(self.open_images)
        self.cancel_button.clicked.connect(self.queue.cancel_current)
        self.stop_button.toggled.connect(self._stop_toggled)
        self.queue_view.clicked.connect(self._queue_clicked)
        self.table.doubleClicked.connect(self._table_double_clicked)
        self.changed_only.toggled.connect(self.table_proxy.set_changed_only)
        self.verdict_filter.currentIndexChanged.connect(
            lambda _: self.table_proxy.set_verdict_filter(self.verdict_filter.currentData())
        )
        self.host.loading.connect(lambda text: self.model_label.setText(f"Loading: {text}"))
        self.host.loaded.connect(self._model_loaded)
        self.host.load_failed.connect(self._model_failed)
        self.host.pipeline_event.connect(self._on_event)
        self.queue.item_finished.connect(self._item_finished)
        self.queue.item_failed.connect(self._item_failed)
        self.view.region_clicked.connect(self._region_selected)
        self.strip.closeup_clicked.connect(self._region_selected)
        self.verdicts.finding_selected.connect(self._region_selected)
        self.examiner.saved.connect(self._examiner_saved)
        self.case_write_failed.connect(self.notify)

    # -- case -----------------------------------------------------------------------------------

    def _open_case(self, folder: Path, create: bool = True) -> None:
        try:
            if create:
                self.case = CaseStore.open_or_create(folder, examiner=self.settings.examiner)
            else:
                self.case = CaseStore.open(folder)
        except CaseError as exc:
            self.case = None
            self.notify(f"Could not open the case folder {folder}: {exc}")
            return
        self.case_label.setText(f"case {self.case.meta.number}")
        self.table_model.set_analyses(self.case.latest())

    def new_case(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        folder = QFileDialog.getExistingDirectory(self, "Folder for the new case (empty)")
        if not folder:
            return
        number, ok = QInputDialog.getText(self, "New case", "Case number:")
        if not ok:
            return
        title, _ = QInputDialog.getText(self, "New case", "Title (optional):")
        self.create_case(Path(folder), number.strip() or Path(folder).name, title.strip())

    def create_case(self, folder: Path, number: str, title: str = "") -> bool:
        self.flush_case_writes()
        try:
            CaseStore.create(folder, number, title, self.settings.examiner)
        except CaseError as exc:
            self.notify(f"Could not create the case: {exc}")
            return False
        self._open_case(folder)
        return True

    def open_case(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a case folder")
        if folder:
            self.flush_case_writes()
            self._open_case(Path(folder), create=False)

    def export_report_dialog(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export the case report", "report.pdf",
                                              "PDF (*.pdf)")
        if name:
            self.export_report(Path(name))

    def export_report(self, out: Path, page_size: str = "A4") -> int | None:
        """Render the open case's PDF report; returns the page count, None on failure."""
        from PySide6.QtGui import QCursor
        from PySide6.QtWidgets import QApplication

        from inspector.report.pdf import render_case_report

        if self.case is None:
            self.notify("No case is open.")
            return None
        self.flush_case_writes()
        QApplication.setOverrideCursor(QCursor(Qt.CursorShape.WaitCursor))
        try:
            pages = render_case_report(self.case, out, page_size)
        except (OSError, ValueError) as exc:
            self.notify(f"Could not write the report: {exc}")
            return None
        finally:
            QApplication.restoreOverrideCursor()
        import hashlib

        digest = hashlib.sha256(Path(out).read_bytes()).hexdigest()
        self.case.log("report-exported", self.settings.examiner, digest, str(out),
                      f"{pages} pages")
        self.notify(f"Report written: {out} ({pages} pages)")
        return pages

    # -- adding images --------------------------------------------------------------------------

    def add_paths(self, paths: list[str | Path]) -> int:
        """Queue images and folders (walked); returns how many files were queued."""
        files = [str(p) for p in iter_image_files(paths)]
        added = self.queue.add(files, self._pipeline_options())  # the queue model follows
        for path in added:
            self.records.setdefault(path, ImageRecord())
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

    # -- live analysis --------------------------------------------------------------------------

    def _on_event(self, path: str, event: Any) -> None:
        record = self.records.setdefault(path, ImageRecord())
        if isinstance(event, ImageLoaded):
            record.image = event.image
            record.evidence = event.evidence
            if self.follow_live or self.shown_path is None:
                if self.view.is_animating():  # let the previous image's examine play out
                    self.view.examine_finished.connect(
                        lambda p=path: self.follow_live and self._show(p),
                        Qt.ConnectionType.SingleShotConnection,
                    )
                else:
                    self._show(path)
            return
        if isinstance(event, RegionLocated):
            record.regions.append(event.region)
        elif isinstance(event, CloseupReady):
            record.closeups[event.closeup.region] = (event.label, event.image)
        elif isinstance(event, TokenGenerated):
            record.streams[event.query] += event.text
        if path != self.shown_path:
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

    def _show_final(self, path: str, analysis) -> None:
        if path == self.shown_path:
            self.verdicts.show_analysis(analysis)
            self.examiner.set_analysis(analysis)

    def _item_finished(self, path: str, analysis) -> None:
        record = self.records.setdefault(path, ImageRecord())
        record.analysis = analysis
        if self.case is not None:
            closeups = {n: image for n, (_, image) in record.closeups.items()}
            self._case_writer.submit(self._store, self.case, analysis, closeups, path)
        self.table_model.add_analysis(analysis)
        if path != self.shown_path:
            record.image = None  # reloaded from disk when shown again

    def _store(self, case: CaseStore, analysis, closeups: dict, path: str) -> None:
        """Runs on the case-writer thread, one analysis at a time, in finishing order."""
        try:
            case.add_analysis(analysis, closeups, examiner=self.settings.examiner)
        except (OSError, CaseError) as exc:
            self.case_write_failed.emit(f"Could not save the analysis of {Path(path).name}: {exc}")

    def flush_case_writes(self) -> None:
        """Wait until every finished analysis is on disk."""
        self._case_writer.submit(lambda: None).result()

    def _item_failed(self, path: str, message: str) -> None:
        self.notify(f"{Path(path).name}: {message}")

    # -- showing an image -----------------------------------------------------------------------

    def _show(self, path: str) -> None:
        """Show one image with whatever is known about it."""
        record = self.records.setdefault(path, ImageRecord())
        self.shown_path = path
        image = record.image
        if image is None:
            try:
                image = load_image(path).image
            except ImageLoadError as exc:
                self.view.clear()
                self.strip.clear()
                self.verdicts.clear()
                self.examiner.set_analysis(None)
                self.notify(exc.message)
                return
        self.view.set_image(image)
        self.strip.clear()
        self.verdicts.clear()
        self.evidence.clear()
        regions = record.regions or (record.analysis.regions if record.analysis else [])
        for r in regions:
            self.view.add_region(r.number, r.box, r.label, examined=r.number in record.closeups
                                 or getattr(r, "examined", False))
        for number, (label, closeup) in sorted(record.closeups.items()):
            self.strip.add_closeup(number, label, closeup)
        if record.analysis is not None:
            self.verdicts.show_analysis(record.analysis)
            self.examiner.set_analysis(record.analysis)
            self.evidence.show_evidence(record.analysis.evidence)
        elif record.evidence is not None:
            self.evidence.show_evidence(record.evidence)
        else:
            self.examiner.set_analysis(None)
            for query in (1, 2):
                if record.streams[query]:
                    self.verdicts.set_streaming(query, record.streams[query])

    def _queue_clicked(self, index: QModelIndex) -> None:
        path = self.queue_model.path_at(index.row())
        self.follow_live = path == self.queue.current
        self._show(path)

    def _table_double_clicked(self, index: QModelIndex) -> None:
        analysis = self.table_model.analysis_at(self.table_proxy.mapToSource(index).row())
        path = analysis.evidence.path
        record = self.records.setdefault(path, ImageRecord())
        record.analysis = record.analysis or analysis
        if not record.closeups and self.case is not None:
            for c in analysis.closeups:
                png = self.case.closeup_path(analysis.id, c.region)
                if png.exists():
                    from PIL import Image

                    label = next((r.label for r in analysis.regions if r.number == c.region), "")
                    record.closeups[c.region] = (label, Image.open(png).convert("RGB"))
        self.follow_live = False
        self.tabs.setCurrentIndex(0)
        self._show(path)

    def _region_selected(self, number: int) -> None:
        self.view.highlight_region(number)
        self.strip.highlight(number)
        self.verdicts.highlight_region(number)

    def _examiner_saved(self, analysis) -> None:
        if self.case is not None:
            self.flush_case_writes()  # the analysis file must exist before it is updated
            e = analysis.examiner
            try:
                self.case.update_examiner(analysis.id, e.examiner, e.notes, e.override_verdict)
            except (OSError, CaseError) as exc:
                self.notify(f"Could not save the examiner's input: {exc}")
                return
        self.table_model.add_analysis(analysis)
        self.statusBar().showMessage("Examiner input saved", 4000)

    # -- model, settings, status ----------------------------------------------------------------

    def _pipeline_options(self) -> PipelineOptions:
        return PipelineOptions(policy=to_closeup_policy(self.settings))

    def _model_loaded(self, provenance) -> None:
        demo = " — DEMO, not a detector" if provenance.is_demo else ""
        self.model_label.setText(
            f"Model: {provenance.model_id} ({provenance.model_type}, {provenance.dtype}, "
            f"{provenance.quantization}) on {provenance.device}{demo}"
        )

    def _model_failed(self, message: str) -> None:
        self.model_label.setText("Model not loaded")
        self.notify(f"The model could not be loaded: {message}. Open Settings to fix it.")

    def _set_animation(self, on: bool) -> None:
        self.settings.animation = on
        self.view.animations_enabled = on

    def _stop_toggled(self, stop: bool) -> None:
        if stop:
            self.queue.stop_after_current()
        else:
            self.queue.resume()

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
            self.queue.options = self._pipeline_options()
            self.notify("Settings saved. A changed model is loaded when you restart the app.")

    def download_model_dialog(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        from inspector.core.presets import DEFAULT_PRESET, preset_names

        names = [n for n in preset_names() if n not in ("local-folder", "lora-adapter",
                                                         "remote-server", "demo")]
        name, ok = QInputDialog.getItem(self, "Download a model", "Preset or hub id:", names,
                                        names.index(DEFAULT_PRESET), True)
        if ok and name.strip():
            self.start_download(name.strip())

    def start_download(self, model: str, **kwargs):
        """Start a non-modal download; the user can keep working meanwhile."""
        from inspector.gui.download_dialog import DownloadDialog

        dialog = DownloadDialog(model, self, **kwargs)
        dialog.finished_download.connect(
            lambda path: self.notify(f"Downloaded {model}; choose it in Settings ({path})")
        )
        dialog.download_failed.connect(lambda message: self.notify(f"{model}: {message}"))
        dialog.start()
        return dialog

    def set_banner(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.setVisible(bool(text))

    def notify(self, message: str) -> None:
        """A non-modal notice: the status bar, and the banner for lasting problems."""
        self.statusBar().showMessage(message, 15000)
        self.last_notice = message

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

    def about(self) -> None:
        import platform

        from PySide6 import __version__ as pyside_version

        versions = [f"LTE Inspector {__version__}", f"Python {platform.python_version()}",
                    f"PySide6 {pyside_version}"]
        for name in ("torch", "transformers"):
            module = sys.modules.get(name)
            if module is not None:
                versions.append(f"{name} {module.__version__}")
        QMessageBox.about(
            self, "About LTE Inspector",
            "<b>LTE Inspector</b><br>Locate-Then-Examine forensic inspection of images with "
            "vision-language models.<br><br>" + "<br>".join(versions)
            + "<br><br>A model's verdict is an assessment, not proof.",
        )

    # -- closing --------------------------------------------------------------------------------

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        """Cancel the running analysis and join the worker thread before closing."""
        self._memory_timer.stop()
        self.queue.stop_after_current()
        self.queue.cancel_current()
        self.host.shutdown()
        self._case_writer.shutdown(wait=True)  # nothing finished is lost
        event.accept()
