"""The examiner's notes and override verdict for one analysis.

Save validates (an examiner's name is required; an inline message says so) and emits
``save_requested(analysis, entry)`` with an :class:`ExaminerInput` stamped with the current UTC
time. Writing it to the case is the window's job, off the GUI thread; the panel says "Saving…"
until the window reports back with :meth:`save_succeeded` ("Saved by … at …", the analysis now
holds the entry) or :meth:`save_failed` (a red message; the text stays as typed, nothing lost).
Edits not yet saved are flagged; :meth:`draft` and ``set_analysis(..., draft=...)`` let the
window keep them per image while the examiner moves between images.
"""

from __future__ import annotations

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

from inspector.core.results import OVERRIDE_VERDICTS, Analysis, ExaminerInput, utc_now
from inspector.core.wording import format_time, verdict_text

__all__ = ["Draft", "ExaminerPanel", "saved_text"]

OVERRIDE_CHOICES: tuple[tuple[str, str | None], ...] = (
    ("No override", None),
    *((verdict_text(v), v) for v in OVERRIDE_VERDICTS),
)
UNSAVED_COLOUR = "#0072B2"  # blue: orange means AI-generated everywhere in the app

Draft = tuple[str, str | None, str]  # (examiner, override verdict, notes) as typed


def saved_text(examiner: ExaminerInput) -> str:
    """"Saved by NAME at 2026-11-22 10:00 UTC", or "" when never saved."""
    if not examiner.updated:
        return ""
    return f"Saved by {examiner.examiner or 'unknown'} at {format_time(examiner.updated)}"


class ExaminerPanel(QWidget):
    save_requested = Signal(object, object)  # Analysis, ExaminerInput to write
    edited = Signal()  # the examiner typed or chose something (not when an analysis is loaded)

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
        self.unsaved_label.setStyleSheet(f"color:{UNSAVED_COLOUR}; font-style:italic;")
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

        self.name_edit.textChanged.connect(self._widget_changed)
        self.override_combo.currentIndexChanged.connect(self._widget_changed)
        self.notes_edit.textChanged.connect(self._widget_changed)
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

    def set_analysis(self, analysis: Analysis | None, draft: Draft | None = None) -> None:
        """Show `analysis`'s examiner input, or an unsaved ``draft`` of it kept by the window.

        The window keeps the previous analysis's draft (see :meth:`draft`) before calling this.
        """
        self._analysis = analysis
        self._loading = True
        try:
            self.status_label.setStyleSheet("")
            if analysis is None:
                name, override, notes = "", None, ""
                self.status_label.setText("")
            else:
                ex = analysis.examiner
                name = ex.examiner or self._default_examiner
                override, notes = ex.override_verdict, ex.notes or ""
                self.status_label.setText(saved_text(ex) or "Not saved yet")
            self._baseline = (name, override, notes)
            if analysis is not None and draft is not None:
                name, override, notes = draft
            self.name_edit.setText(name)
            self._set_override(override)
            self.notes_edit.setPlainText(notes)
        finally:
            self._loading = False
        self.message_label.hide()
        self.setEnabled(analysis is not None)
        self._edited()

    def has_unsaved_changes(self) -> bool:
        return self._analysis is not None and self._current() != self._baseline

    def draft(self) -> Draft | None:
        """What is typed, when it differs from what is saved; None otherwise."""
        return self._current() if self.has_unsaved_changes() else None

    def entry(self) -> ExaminerInput | None:
        """The typed input as an entry to save (stamped now); None without a name."""
        name, override, notes = self._current()
        if not name.strip():
            return None
        return ExaminerInput(name.strip(), notes, override, updated=utc_now())

    def save_succeeded(self, analysis_id: str, entry: ExaminerInput) -> None:
        """The window wrote ``entry`` to the case: now it is saved (if this analysis is shown)."""
        if self._analysis is None or self._analysis.id != analysis_id:
            return
        self._analysis.examiner = entry
        self._baseline = (entry.examiner, entry.override_verdict, entry.notes)
        self.status_label.setStyleSheet("")
        self.status_label.setText(saved_text(entry))
        self._edited()

    def save_failed(self, analysis_id: str, message: str) -> None:
        """The write failed: say so in red; what was typed stays, still marked unsaved."""
        if self._analysis is None or self._analysis.id != analysis_id:
            return
        self.status_label.setStyleSheet("color:#C00000; font-weight:bold;")
        self.status_label.setText(f"NOT SAVED: {message}")
        self._edited()

    def save(self) -> bool:
        """Ask the window to save (``save_requested``); False (with an inline message) if refused.
        """
        if self._analysis is None:
            return False
        name = self.name_edit.text().strip()
        if not name:
            self.message_label.setText("Enter the examiner's name before saving.")
            self.message_label.show()
            self.name_edit.setFocus()
            return False
        self.message_label.hide()
        entry = self.entry()
        self.status_label.setStyleSheet("")
        self.status_label.setText("Saving…")
        self.save_requested.emit(self._analysis, entry)
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

    def _widget_changed(self, *_args: object) -> None:
        if not self._loading:
            self.edited.emit()
        self._edited()

    def _edited(self) -> None:
        if self._loading:
            return
        dirty = self.has_unsaved_changes()
        self.unsaved_label.setVisible(dirty)
        if dirty and self.name_edit.text().strip():
            self.message_label.hide()
