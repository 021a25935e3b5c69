"""The case the window writes to: opening and creating it, and every write, off the GUI thread.

Writes (finished analyses with their close-up and forensic-map PNGs, examiner input) run one at
a time, in order, on one background thread, so an examiner's edit always lands after the
analysis it edits. Each analysis remembers the case it was written to, so an edit goes to the
case that holds it even after another case was opened. Results come back as callbacks on the
GUI thread: "saved" is said only once the write succeeded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from inspector.core.casestore import CaseStore
from inspector.core.results import Analysis, ExaminerInput
from inspector.gui.background import Background

__all__ = ["CaseSession"]


class CaseSession(QObject):
    write_failed = Signal(str)  # a finished analysis could not be stored; the message says why

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store: CaseStore | None = None
        self._writer = Background(1, "case-writer", self)
        self._owners: dict[str, CaseStore] = {}  # analysis id -> the case it was written to

    # -- opening ----------------------------------------------------------------------------------

    def open(self, folder: Path, *, create: bool, examiner: str = "") -> CaseStore:
        """Open (or create) the case at ``folder`` and make it the one written to.

        Raises CaseError; the previous case stays open then.
        """
        self.flush()
        if create:
            store = CaseStore.open_or_create(folder, examiner=examiner)
        else:
            store = CaseStore.open(folder)
        self.store = store
        for analysis in store.all_analyses():
            self._owners[analysis.id] = store
        return store

    def create(self, folder: Path, number: str, title: str, examiner: str) -> CaseStore:
        self.flush()
        CaseStore.create(folder, number, title, examiner)
        return self.open(folder, create=False)

    def owner(self, analysis_id: str) -> CaseStore | None:
        return self._owners.get(analysis_id)

    # -- writes -----------------------------------------------------------------------------------

    def add_analysis(self, analysis: Analysis, closeups: dict[int, Any], examiner: str,
                     name: str, forensic_maps: dict[str, Any] | None = None) -> None:
        """Store a finished analysis, its close-ups and its forensic maps (name -> [0, 1] array)
        in the open case (in the background)."""
        store = self.store
        if store is None:
            self.write_failed.emit(f"{name} was analysed but no case is open: not saved")
            return
        self._owners[analysis.id] = store

        def write() -> None:
            store.add_analysis(analysis, closeups, examiner=examiner,
                               forensic_maps=forensic_maps or None)

        def failed(exc: BaseException) -> None:
            self.write_failed.emit(f"Could not save the analysis of {name}: {exc}")

        self._writer.submit(write, on_error=failed)

    def save_examiner(
        self,
        analysis_id: str,
        entry: ExaminerInput,
        on_saved: Callable[[ExaminerInput], None],
        on_failed: Callable[[str], None],
    ) -> None:
        """Write the examiner's input into the case holding the analysis; then one callback."""
        store = self._owners.get(analysis_id)
        if store is None:
            on_failed("this analysis is not in any open case (it was never saved)")
            return

        def write() -> ExaminerInput:
            stored = store.update_examiner(analysis_id, entry.examiner, entry.notes,
                                           entry.override_verdict)
            return stored.examiner

        def failed(exc: BaseException) -> None:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            on_failed(f"{detail} (case {store.root})")

        if not isinstance(entry, ExaminerInput):
            raise TypeError("entry must be an ExaminerInput")
        self._writer.submit(write, on_done=on_saved, on_error=failed)

    def flush(self) -> None:
        """Wait until every write submitted so far is on disk (their callbacks come later)."""
        self._writer.wait_idle()

    def close(self) -> None:
        """Finish every pending write (nothing is dropped) and stop."""
        self._writer.shutdown(wait=True, drop_pending=False)
