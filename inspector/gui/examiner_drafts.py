"""The examiner's input on its way to the case: drafts kept per analysis, saves confirmed.

What the examiner types in the :class:`ExaminerPanel` is a *draft* until the case write succeeds.
Drafts are kept per analysis while the window is open; moving to another image saves the draft
(when it has an examiner's name; otherwise it is kept and the examiner is told); closing the
window saves every draft it can. A save is a request to :class:`CaseSession`; the panel and the
window hear back only when the write succeeded (``saved``) or failed (``failed``), so "saved" is
never said early and a failure is never silent.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from inspector.core.results import Analysis, ExaminerInput
from inspector.gui.case_session import CaseSession
from inspector.gui.examiner_panel import Draft, ExaminerPanel

__all__ = ["ExaminerDrafts"]


class ExaminerDrafts(QObject):
    saved = Signal(object)  # the Analysis whose examiner input is now in its case
    failed = Signal(str)  # a message the examiner must see; the text stays in the panel
    notice = Signal(str)  # a passing remark for the status bar

    def __init__(self, panel: ExaminerPanel, cases: CaseSession,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self.cases = cases
        self.drafts: dict[str, Draft] = {}  # analysis id -> unsaved input
        self._writing: dict[str, Draft] = {}  # analysis id -> input being written now
        self._analyses: dict[str, Analysis] = {}  # analysis id -> the object drafts belong to
        panel.save_requested.connect(self._save_requested)

    def show(self, analysis: Analysis | None) -> None:
        """Put ``analysis`` in the panel with its draft, keeping the previous one's first."""
        self.keep()
        self.panel.set_analysis(analysis, self.drafts.get(analysis.id) if analysis else None)

    def keep(self) -> None:
        """Before the panel shows something else: keep (and try to save) what is typed."""
        analysis, draft = self.panel.analysis, self.panel.draft()
        if analysis is None or draft is None:
            return
        self.drafts[analysis.id] = draft
        self._analyses[analysis.id] = analysis
        entry = self.panel.entry()
        if entry is None:
            self.notice.emit(f"Notes on {Path(analysis.evidence.path).name} are kept but not "
                             "saved: enter the examiner's name and press Save (Ctrl+S).")
            return
        self._write(analysis, entry)

    def save_all(self) -> None:
        """Save every kept draft that has an examiner's name (the rest stay in memory)."""
        self.keep()
        for analysis_id, (name, override, notes) in list(self.drafts.items()):
            if name.strip():
                entry = ExaminerInput(name.strip(), notes, override)
                self._write(self._analyses[analysis_id], entry)

    def unnamed(self) -> int:
        """How many drafts cannot be saved because no examiner's name was given."""
        return sum(1 for name, _, _ in self.drafts.values() if not name.strip())

    def _save_requested(self, analysis: Analysis, entry: ExaminerInput) -> None:
        self.drafts[analysis.id] = (entry.examiner, entry.override_verdict, entry.notes)
        self._analyses[analysis.id] = analysis
        self._write(analysis, entry)

    def _write(self, analysis: Analysis, entry: ExaminerInput) -> None:
        name = Path(analysis.evidence.path).name
        typed = (entry.examiner, entry.override_verdict, entry.notes)
        if self._writing.get(analysis.id) == typed:
            return  # this very input is already on its way to the case
        self._writing[analysis.id] = typed

        def saved(stored: ExaminerInput) -> None:
            self._writing.pop(analysis.id, None)
            analysis.examiner = stored
            if self.drafts.get(analysis.id) == typed:
                del self.drafts[analysis.id]
            self.panel.save_succeeded(analysis.id, stored)
            self.saved.emit(analysis)

        def failed(message: str) -> None:
            self._writing.pop(analysis.id, None)
            self.panel.save_failed(analysis.id, message)
            self.failed.emit(f"NOT SAVED — the examiner input for {name} could not be written: "
                             f"{message}. Your text is kept; fix the problem and press Save "
                             "(Ctrl+S) again.")

        self.cases.save_examiner(analysis.id, entry, saved, failed)
