"""The examiner's notes and override verdict for one analysis.

Save builds an :class:`ExaminerInput` stamped with the current UTC time, stores it on the analysis
object and emits ``saved(analysis)``; writing it to the case is the caller's job. Saving needs an
examiner's name (an inline message says so; no modal dialog). Edits not yet saved are flagged.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from inspector.core.results import Analysis, ExaminerInput, utc_now
from inspector.gui.models import verdict_text

__all__ = ["ExaminerPanel", "saved_text"]

OVERRIDE_CHOICES: tuple[tuple[str, str | None], ...] = (
    ("No override", None),
    (verdict_text("real"), "real"),
    (verdict_text("ai-generated"), "ai-generated"),
)


def _format_time(stamp: str) -> str:
    try:
        when = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%d %H:%M UTC")


def saved_text(examiner: ExaminerInput) -> str:
    """"Saved by NAME at 2026-11-22 10:00 UTC", or "" when never saved."""
    if not examiner.updated:
        return ""
    return f"Saved by {examiner.examiner or 'unknown'} at {_format_time(examiner.updated)}"


class ExaminerPanel(QWidget):
    saved = Signal(object)  # the Analysis, its .examiner just replaced

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._analysis: Analysis | None = None
        self._default_examiner = ""
        self._baseline: tuple[str, str | None, str] = ("", None, "")
        self._loading = False

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Examiner's name (required to save)")
        self.override_combo = QComboBox()
        for text, value in OVERRIDE_CHOICES:
            self.override_combo.addItem(text, value)
        self.notes_edit = QPlainTextEdit()
        self.notes_edit.setPlaceholderText("Notes on this image")
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        self.message_label = QLabel("")  # inline error (e.g. missing name)
        self.message_label.setStyleSheet("color:#C00000;")
        self.message_label.setWordWrap(True)
        self.message_label.hide()
        self.unsaved_label = QLabel("unsaved changes")
        self.unsaved_label.setStyleSheet("color:#A04000; font-style:italic;")
        self.unsaved_label.hide()
        self.status_label = QLabel("")  # "Saved by NAME at …"
        self.status_label.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Examiner", self.name_edit)
        form.addRow("Override verdict", self.override_combo)
        form.addRow("Notes", self.notes_edit)
        row = QHBoxLayout()
        row.addWidget(self.save_button)
        row.addWidget(self.unsaved_label)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(form, 1)
        layout.addLayout(row)
        layout.addWidget(self.message_label)
        layout.addWidget(self.status_label)

        self.name_edit.textChanged.connect(self._edited)
        self.override_combo.currentIndexChanged.connect(self._edited)
        self.notes_edit.textChanged.connect(self._edited)
        self.set_analysis(None)

    # -- public ---------------------------------------------------------------------------------

    @property
    def analysis(self) -> Analysis | None:
        return self._analysis

    def set_default_examiner(self, name: str) -> None:
        """The name prefilled when an analysis has no examiner yet (from the settings)."""
        old = self._default_examiner
        self._default_examiner = name or ""
        a = self._analysis
        if a is not None and not a.examiner.examiner and self.name_edit.text() == old:
            self._loading = True
            try:
                self.name_edit.setText(self._default_examiner)
            finally:
                self._loading = False
            self._baseline = (self._default_examiner, *self._baseline[1:])
            self._edited()

    def set_analysis(self, analysis: Analysis | None) -> None:
        """Show `analysis`'s examiner input (unsaved edits of the previous one are dropped)."""
        self._analysis = analysis
        self._loading = True
        try:
            if analysis is None:
                name, override, notes = "", None, ""
                self.status_label.setText("")
            else:
                ex = analysis.examiner
                name = ex.examiner or self._default_examiner
                override, notes = ex.override_verdict, ex.notes or ""
                self.status_label.setText(saved_text(ex) or "Not saved yet")
            self.name_edit.setText(name)
            self._set_override(override)
            self.notes_edit.setPlainText(notes)
            self._baseline = (name, override, notes)
        finally:
            self._loading = False
        self.message_label.hide()
        self.setEnabled(analysis is not None)
        self._edited()

    def has_unsaved_changes(self) -> bool:
        return self._analysis is not None and self._current() != self._baseline

    def save(self) -> bool:
        """Save into the analysis and emit ``saved``; False (with an inline message) if refused."""
        if self._analysis is None:
            return False
        name = self.name_edit.text().strip()
        if not name:
            self.message_label.setText("Enter the examiner's name before saving.")
            self.message_label.show()
            self.name_edit.setFocus()
            return False
        self.message_label.hide()
        _, override, notes = self._current()
        entry = ExaminerInput(name, notes, override, updated=utc_now())
        self._analysis.examiner = entry
        self._loading = True
        try:
            self.name_edit.setText(name)
        finally:
            self._loading = False
        self._baseline = (name, override, notes)
        self.status_label.setText(saved_text(entry))
        self._edited()
        self.saved.emit(self._analysis)
        return True

    # -- internals ------------------------------------------------------------------------------

    def _current(self) -> tuple[str, str | None, str]:
        return (
            self.name_edit.text(),
            self.override_combo.currentData(),
            self.notes_edit.toPlainText(),
        )

    def _set_override(self, value: str | None) -> None:
        index = self.override_combo.findData(value)
        if index < 0:  # an unknown value in a case file: shown, not silently dropped
            self.override_combo.addItem(f"{value} (unknown)", value)
            index = self.override_combo.count() - 1
        self.override_combo.setCurrentIndex(index)

    def _edited(self, *_args: object) -> None:
        if self._loading:
            return
        dirty = self.has_unsaved_changes()
        self.unsaved_label.setVisible(dirty)
        if dirty and self.name_edit.text().strip():
            self.message_label.hide()
