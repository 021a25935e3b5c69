"""How the main window is laid out: its widgets and menus (construction only, no behaviour).

Kept apart from ``main_window.py`` so that module holds what the window *does*.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from inspector.core.wording import AGAINST_FINDINGS
from inspector.gui.closeup_strip import CloseupStrip
from inspector.gui.evidence_panel import EvidencePanel
from inspector.gui.examiner_panel import ExaminerPanel
from inspector.gui.forensics_panel import ForensicsPanel
from inspector.gui.image_view import ImageView
from inspector.gui.layer_bar import LayerBar
from inspector.gui.loupe import Loupe
from inspector.gui.metadata_tree import MetadataTree
from inspector.gui.verdict_panel import VerdictPanel
from inspector.gui.window_parts import ErrorBar, EvidenceStateBar

if TYPE_CHECKING:
    from inspector.gui.main_window import MainWindow

DEMO_BANNER_STYLE = "QLabel { background: #0072B2; color: white; padding: 6px; font-weight: bold; }"

SHORTCUTS = (
    ("Ctrl+O / Ctrl+Shift+O", "Add images / a folder (or drop them on the window)"),
    ("Ctrl+V", "Paste images or file paths"),
    ("Up / Down, Home / End", "Move through the queue or the batch table; the view follows"),
    ("Enter", "Open the selected batch-table row in the Inspect tab"),
    ("Ctrl+S", "Save the examiner's notes and override"),
    ("Ctrl+R", "Re-analyse the shown image (the old analysis stays in the case)"),
    ("Ctrl+.", "Cancel the running analysis"),
    ("+ / − / wheel", "Zoom in / out (the view must have focus)"),
    ("0 / 1", "Fit to window / 100 %"),
    ("L", "Loupe: the pixels under the cursor at 4×, full resolution"),
    ("Esc", "Skip the examine animation"),
    ("Ctrl+E", "Export the case report (PDF)"),
    ("Ctrl+,", "Settings"),
)


def build_widgets(window: MainWindow) -> None:
    window.banner = QLabel()
    window.banner.setWordWrap(True)
    window.banner.setStyleSheet(DEMO_BANNER_STYLE)
    window.error_bar = ErrorBar()
    window.queue_view = QListView()
    window.queue_view.setModel(window.queue_model)
    window.queue_view.setIconSize(window.queue_view.iconSize() * 2)
    window.queue_view.setAccessibleName("Queue")
    window.open_button = QPushButton("Add images…")
    window.cancel_button = QPushButton("Cancel")
    window.stop_button = QPushButton("Stop after current")
    window.stop_button.setCheckable(True)
    left = QWidget()
    left_layout = QVBoxLayout(left)
    left_layout.setContentsMargins(0, 0, 0, 0)
    left_layout.addWidget(QLabel("Queue (drop images or folders anywhere)"))
    left_layout.addWidget(window.queue_view, 1)
    buttons = QHBoxLayout()
    for b in (window.open_button, window.cancel_button, window.stop_button):
        buttons.addWidget(b)
    left_layout.addLayout(buttons)

    window.view = ImageView()
    window.view.animations_enabled = window.settings.animation
    window.state_bar = EvidenceStateBar()
    window.strip = CloseupStrip()
    window.verdicts = VerdictPanel()
    window.examiner = ExaminerPanel()
    window.examiner.set_default_examiner(window.settings.examiner)
    window.examiner.set_analysis(None)

    image_box = QWidget()
    image_layout = QVBoxLayout(image_box)
    image_layout.setContentsMargins(0, 0, 0, 0)
    image_layout.setSpacing(0)
    image_layout.addWidget(window.state_bar)
    image_layout.addWidget(window.view, 1)
    window.loupe_action = QAction("&Loupe (4×)", window, checkable=True)
    window.loupe_action.setShortcut(QKeySequence("L"))
    window.loupe_action.setToolTip("Loupe: the pixels under the cursor at 4× (L)")
    window.loupe = Loupe(window.view, window.loupe_tile)
    window.loupe_action.toggled.connect(window.loupe.set_active)
    window.layer_bar = LayerBar(window.loupe_action)
    image_layout.addWidget(window.layer_bar)
    image_side = QSplitter(Qt.Orientation.Vertical)
    image_side.addWidget(image_box)
    image_side.addWidget(window.strip)
    image_side.setStretchFactor(0, 5)
    image_side.setStretchFactor(1, 1)
    window.evidence = EvidencePanel()
    window.side_tabs = QTabWidget()
    window.side_tabs.addTab(window.verdicts, "Verdicts")
    window.side_tabs.addTab(window.evidence, "Evidence and provenance")
    window.forensics_panel = ForensicsPanel()
    window.side_tabs.addTab(window.forensics_panel, "Forensics")
    window.metadata_tree = MetadataTree()
    window.side_tabs.addTab(window.metadata_tree, "Metadata")
    right_side = QSplitter(Qt.Orientation.Vertical)
    right_side.addWidget(window.side_tabs)
    right_side.addWidget(window.examiner)
    right_side.setStretchFactor(0, 3)
    inspect = QSplitter(Qt.Orientation.Horizontal)
    inspect.addWidget(image_side)
    inspect.addWidget(right_side)
    inspect.setStretchFactor(0, 3)
    inspect.setStretchFactor(1, 2)

    window.changed_only = QCheckBox("Changed only")
    window.against_findings_only = QCheckBox(AGAINST_FINDINGS.capitalize() + " only")
    window.against_findings_only.setToolTip(
        "Only images whose corrected verdict follows none of the model's own Query-2 findings "
        "(marked ⚠ in the Final column)")
    window.verdict_filter = QComboBox()
    window.verdict_filter.addItem("All final verdicts", None)
    window.verdict_filter.addItem("Real", "real")
    window.verdict_filter.addItem("AI-generated", "ai-generated")
    window.verdict_filter.addItem("Unparsed", "unparsed")
    window.table = QTableView()
    window.table.setModel(window.table_proxy)
    window.table.setSortingEnabled(True)
    window.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    window.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    window.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
    header = window.table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    batch = QWidget()
    batch_layout = QVBoxLayout(batch)
    filters = QHBoxLayout()
    filters.addWidget(window.changed_only)
    filters.addWidget(window.against_findings_only)
    filters.addWidget(window.verdict_filter)
    filters.addStretch(1)
    batch_layout.addLayout(filters)
    batch_layout.addWidget(window.table, 1)

    window.tabs = QTabWidget()
    window.tabs.addTab(inspect, "Inspect")
    window.tabs.addTab(batch, "Batch comparison")

    main = QSplitter(Qt.Orientation.Horizontal)
    main.addWidget(left)
    main.addWidget(window.tabs)
    main.setStretchFactor(1, 4)
    central = QWidget()
    layout = QVBoxLayout(central)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(window.banner)
    layout.addWidget(window.error_bar)
    layout.addWidget(main, 1)
    window.setCentralWidget(central)
    window.model_label = QLabel("no model loaded")
    window.zoom_label = QLabel()
    window.pixel_label = QLabel()
    window.memory_label = QLabel()
    window.case_label = QLabel()
    window.statusBar().addWidget(window.model_label, 1)
    for label in (window.pixel_label, window.zoom_label, window.case_label, window.memory_label):
        window.statusBar().addPermanentWidget(label)
    window.resize(1400, 900)


def _action(window: MainWindow, menu, text: str, slot, shortcut=None) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(slot)
    menu.addAction(action)
    return action


def build_menus(window: MainWindow) -> None:
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    _action(window, file_menu, "&Open images…", window.open_images, QKeySequence.StandardKey.Open)
    _action(window, file_menu, "Open &folder…", window.open_folder, "Ctrl+Shift+O")
    _action(window, file_menu, "&Paste image or paths", window.paste,
            QKeySequence.StandardKey.Paste)
    file_menu.addSeparator()
    _action(window, file_menu, "&New case…", window.new_case, QKeySequence.StandardKey.New)
    _action(window, file_menu, "Open &case…", window.open_case, "Ctrl+Shift+C")
    _action(window, file_menu, "&Export report…", window.export_report_dialog, "Ctrl+E")
    _action(window, file_menu, "Export &table (CSV)…", lambda: window.export_tables_dialog("csv"))
    _action(window, file_menu, "Export &results (JSONL)…",
            lambda: window.export_tables_dialog("jsonl"))
    file_menu.addSeparator()
    _action(window, file_menu, "&Quit", window.close, QKeySequence.StandardKey.Quit)
    analysis = bar.addMenu("&Analysis")
    _action(window, analysis, "&Save examiner input", window.examiner.save, "Ctrl+S")
    _action(window, analysis, "&Re-analyse the shown image", window.reanalyse_shown, "Ctrl+R")
    _action(window, analysis, "&Cancel current analysis", window.queue.cancel_current, "Ctrl+.")
    _action(window, analysis, "&Stop after current", lambda: window.stop_button.setChecked(True))
    _action(window, analysis, "Resume &queue", lambda: window.stop_button.setChecked(False))
    view = bar.addMenu("&View")
    _action(window, view, "&Fit to window", window.view.fit_to_window, "Ctrl+0")
    view.addAction(window.loupe_action)
    window.animation_action = QAction("&Animate the examine step", window, checkable=True)
    window.animation_action.setChecked(window.settings.animation)
    window.animation_action.toggled.connect(window._set_animation)
    view.addAction(window.animation_action)
    window.follow_action = QAction("F&ollow the running analysis", window, checkable=True)
    window.follow_action.setChecked(True)
    window.follow_action.toggled.connect(window._set_follow)
    view.addAction(window.follow_action)
    settings_menu = bar.addMenu("&Settings")
    _action(window, settings_menu, "&Settings…", window.open_settings, "Ctrl+,")
    _action(window, settings_menu, "&Download a model…", window.download_model_dialog)
    help_menu = bar.addMenu("&Help")
    _action(window, help_menu, "&Keyboard shortcuts", window.show_shortcuts, "F1")
    _action(window, help_menu, "&About LTE Inspector", window.about)

