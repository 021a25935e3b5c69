"""The Settings dialog, and the window's one import point for the settings.

The settings themselves (keys, defaults, validation, the TOML file) are Qt-free and live in
:mod:`inspector.core.app_settings`; they are re-exported here so the window's code and its tests
import everything about settings from one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from inspector.core import app_settings
from inspector.core.app_settings import *  # noqa: F403  (re-exported: see the docstring)
from inspector.core.app_settings import MIN_CLOSEUP_PIXELS, AppSettings, settings_path, validate
from inspector.core.app_settings.schema import MAX_BATCH_SIZE, looks_like_path
from inspector.core.backends.spec import DEVICES, QUANTIZATIONS
from inspector.core.region_choice import CLOSEUP_MODES, REGION_ORDERS

__all__ = [*app_settings.__all__, "SettingsDialog"]


class SettingsDialog(QDialog):
    """Edit the settings. OK validates; while anything is invalid the dialog stays open and
    lists the problems inline. ``settings()`` returns the edited values (saving is the caller's
    job: ``save_settings(dialog.settings())`` after ``exec()`` returns Accepted)."""

    def __init__(
        self,
        settings: AppSettings | None = None,
        parent: QWidget | None = None,
        problems: list[str] | None = None,
        path: str | Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        s = settings if settings is not None else AppSettings()

        self.model_source_edit = QLineEdit(s.model_source)
        self.model_source_edit.setPlaceholderText("hub id (org/name) or a local folder")
        self.model_folder_button = QPushButton("Folder…")
        self.model_folder_button.clicked.connect(
            lambda: self._pick_folder(self.model_source_edit, "Model folder")
        )
        self.adapter_edit = QLineEdit(s.adapter)
        self.adapter_edit.setPlaceholderText("optional PEFT adapter over the model")
        self.adapter_folder_button = QPushButton("Folder…")
        self.adapter_folder_button.clicked.connect(
            lambda: self._pick_folder(self.adapter_edit, "Adapter folder")
        )
        self.device_combo = self._combo(DEVICES, s.device)
        self.quantization_combo = self._combo(QUANTIZATIONS, s.quantization)
        self.max_regions_spin = _int_spin(s.max_regions, 1, 64)
        self.closeup_pixels_spin = _int_spin(s.closeup_max_pixels, MIN_CLOSEUP_PIXELS,
                                             4096 * 4096, step=64 * 64, suffix=" px")
        self.magnification_spin = QDoubleSpinBox()
        self.magnification_spin.setRange(0.1, 16.0)
        self.magnification_spin.setSingleStep(0.5)
        self.magnification_spin.setDecimals(2)
        self.magnification_spin.setSuffix(" ×")
        self.magnification_spin.setValue(float(s.magnification))
        self.closeup_budget_spin = QDoubleSpinBox()
        self.closeup_budget_spin.setRange(0.0, 16.0)
        self.closeup_budget_spin.setSingleStep(0.25)
        self.closeup_budget_spin.setDecimals(2)
        self.closeup_budget_spin.setSuffix(" × global view")
        self.closeup_budget_spin.setSpecialValueText("no budget")  # shown at 0
        self.closeup_budget_spin.setToolTip(
            "All close-ups of an image together get at most this share of the whole image's "
            "pixels (vision tokens); magnification is lowered per region, never below native "
            "resolution.")
        self.closeup_budget_spin.setValue(float(s.closeup_budget))
        # The LTE paper's ablations, for research: an investigator keeps "located".
        self.closeup_mode_combo = self._combo(CLOSEUP_MODES, s.closeup_mode)
        self.closeup_mode_combo.setToolTip(
            "located: the regions the model found (LTE). random: boxes of the same sizes at "
            "random places (ablation). none: no second look; the initial verdict stands.")
        self.region_order_combo = self._combo(REGION_ORDERS, s.region_order)
        self.region_order_combo.setToolTip(
            "Which regions get the close-ups when there are more than Max regions: the model's "
            "order, the largest first, or the ones the model wrote most surely first (its token "
            "probabilities).")
        self.closeup_seed_spin = _int_spin(
            s.closeup_seed, 0, 2**31 - 1,
            tooltip="Seed of random close-ups (with each image's SHA-256)")
        self.batch_size_spin = _int_spin(
            s.batch_size, 0, MAX_BATCH_SIZE, special="automatic", suffix=" images",
            tooltip="Queued images a local model analyses together (their answers are generated "
            "in one batch; the one you watch is still shown live). Automatic: 1 on a CPU, as "
            "many as the GPU's free memory holds (at most 8) on a GPU. A server answers one at "
            "a time.")
        self.prompt_lookup_spin = _int_spin(
            s.prompt_lookup, 0, 64, special="off", suffix=" tokens",
            tooltip="Query 2 drafts up to this many tokens from the conversation so far and "
            "keeps what the model confirms: the same answer, faster when Query 2 restates Query "
            "1 (local model, greedy). Applies when the model is next loaded.")
        self.animation_check = QCheckBox("Animate the analysis")
        self.animation_check.setChecked(bool(s.animation))
        self.examiner_edit = QLineEdit(s.examiner)
        self.server_url_edit = QLineEdit(s.server_url)
        self.server_url_edit.setPlaceholderText("https://host:port/v1 (empty: local model)")
        self.server_model_edit = QLineEdit(s.server_model)
        self.forensics_check = QCheckBox("Run forensic analyses")
        self.forensics_check.setToolTip(
            "Classic forensic analyses (JPEG structure, double compression, spectrum, copy-move, "
            "noise, ELA, metadata) after the model, or alone when no model is loaded. They are "
            "shown beside the verdict and never change it.")
        self.forensics_check.setChecked(bool(s.forensics))

        form = QFormLayout()
        form.addRow("Model source", _row(self.model_source_edit, self.model_folder_button))
        form.addRow("Adapter", _row(self.adapter_edit, self.adapter_folder_button))
        form.addRow("Device", self.device_combo)
        form.addRow("Quantization", self.quantization_combo)
        form.addRow("Max regions", self.max_regions_spin)
        form.addRow("Close-up size (max pixels)", self.closeup_pixels_spin)
        form.addRow("Magnification", self.magnification_spin)
        form.addRow("Close-up budget", self.closeup_budget_spin)
        form.addRow("Close-ups (ablation)", _row(self.closeup_mode_combo, QLabel("seed"),
                                                 self.closeup_seed_spin))
        form.addRow("Region order", self.region_order_combo)
        form.addRow("Batch size", self.batch_size_spin)
        form.addRow("Prompt lookup (Query 2)", self.prompt_lookup_spin)
        form.addRow("", self.animation_check)
        form.addRow("", self.forensics_check)
        form.addRow("Examiner name", self.examiner_edit)
        form.addRow("Server URL", self.server_url_edit)
        form.addRow("Server model", self.server_model_edit)
        key_note = QLabel(
            "The server's API key is never stored in the settings: set $LTE_API_KEY "
            "or store it in the system keyring."
        )
        key_note.setWordWrap(True)
        where = Path(path) if path is not None else settings_path()
        self.path_label = QLabel(f"Settings file: {where}")
        self.path_label.setWordWrap(True)
        self.problems_label = QLabel("")
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet("color:#C00000;")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(key_note)
        layout.addWidget(self.path_label)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.buttons)
        self.show_problems(problems or [])

    def settings(self) -> AppSettings:
        return AppSettings(
            model_source=self.model_source_edit.text().strip(),
            adapter=self.adapter_edit.text().strip(),
            device=self.device_combo.currentText(),
            quantization=self.quantization_combo.currentText(),
            max_regions=self.max_regions_spin.value(),
            closeup_max_pixels=self.closeup_pixels_spin.value(),
            magnification=float(self.magnification_spin.value()),
            closeup_mode=self.closeup_mode_combo.currentText(),
            region_order=self.region_order_combo.currentText(),
            closeup_seed=self.closeup_seed_spin.value(),
            closeup_budget=float(self.closeup_budget_spin.value()),
            batch_size=self.batch_size_spin.value(),
            prompt_lookup=self.prompt_lookup_spin.value(),
            animation=self.animation_check.isChecked(),
            examiner=self.examiner_edit.text().strip(),
            server_url=self.server_url_edit.text().strip(),
            server_model=self.server_model_edit.text().strip(),
            forensics=self.forensics_check.isChecked(),
        )

    def show_problems(self, problems: list[str]) -> None:
        self.problems_label.setText("\n".join(f"• {p}" for p in problems))
        self.problems_label.setVisible(bool(problems))

    def accept(self) -> None:
        problems = validate(self.settings())
        if problems:
            self.show_problems(problems)
            return
        self.show_problems([])
        super().accept()

    @staticmethod
    def _combo(choices: tuple[str, ...], value: str) -> QComboBox:
        combo = QComboBox()
        combo.addItems(list(choices))
        if value not in choices:  # shown (and then reported by validate), never replaced
            combo.addItem(value)
        combo.setCurrentText(value)
        return combo

    def _pick_folder(self, edit: QLineEdit, title: str) -> None:
        start = edit.text().strip()
        start = str(Path(start).expanduser()) if start and looks_like_path(start) else ""
        folder = QFileDialog.getExistingDirectory(self, title, start)
        if folder:
            edit.setText(folder)


def _int_spin(value: Any, low: int, high: int, *, step: int = 1, suffix: str = "",
              special: str = "", tooltip: str = "") -> QSpinBox:
    """A spin box over ``low..high`` showing ``value`` clamped into it; ``special`` is the text
    shown at ``low`` (e.g. "off")."""
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setSuffix(suffix)
    spin.setSpecialValueText(special)
    spin.setToolTip(tooltip)
    spin.setValue(_clamp(value, low, high))
    return spin


def _clamp(value: Any, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(value)))
    except (TypeError, ValueError):
        return low


def _row(*widgets: QWidget) -> QWidget:
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(widgets[0], 1)
    for widget in widgets[1:]:
        layout.addWidget(widget)
    return box
