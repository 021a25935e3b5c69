"""The main window's case actions: open, create, export (a mixin of MainWindow).

A case is opened through :class:`CaseSession` (which writes it); the window's queue and table then
show that case's analyses. Exports save the examiner's drafts and wait for pending writes first,
so a report or table never misses what was typed or finished a moment ago.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from inspector.core.casestore import CaseError, CaseStore
from inspector.gui.image_records import ImageRecord, check_for_queue

__all__ = ["CaseActions"]


class CaseActions:
    """Mixin of MainWindow: the File menu's case commands."""

    def _open_case(self, folder: Path, create: bool = True) -> bool:
        """Open a case and show *its* analyses: its images in the queue and the table."""
        self.drafts.keep()
        self.drafts.save_all()
        try:
            case = self.cases.open(folder, create=create, examiner=self.settings.examiner)
        except (CaseError, OSError) as exc:
            self.show_error(f"Could not open the case folder {folder}: {exc}")
            return False
        self.case = case
        self.case_label.setText(f"case {case.meta.number}")
        for problem in case.problems[:3]:
            self.notify(f"Case {case.meta.number}: {problem}")
        # the queue keeps what is waiting or running; finished rows of the old case go
        keep = set(self.queue.pending) | set(self.queue.running)
        for path in self.queue_model.paths():
            if path not in keep:
                self.queue_model.remove_path(path)
                self.records.pop(path, None)
        for future in self._case_checks:  # the previous case's rows are gone
            future.cancel()
        self._case_checks = []
        for analysis in case.latest():
            path = analysis.evidence.path
            if path in keep:
                continue
            self.records[path] = ImageRecord(analysis=analysis)
            self.queue_model.set_state(path, "done")
            self.queue_model.set_analysis(path, analysis)
            # each row's thumbnail and whether its file still is what was analysed, without
            # waiting for the examiner to select it (one file at a time, behind the selection)
            future = self.case_checker.submit(
                check_for_queue, path, analysis.evidence.sha256,
                on_done=lambda result, p=path, a=analysis: self._case_row_checked(p, a, result))
            if future is not None:
                self._case_checks.append(future)
        self.table_model.set_analyses(case.latest())
        self._clear_shown()
        return True

    def _case_row_checked(self, path: str, analysis, result: tuple) -> None:
        record = self.records.get(path)
        if record is None or record.analysis is not analysis:
            return  # re-analysed or another case opened meanwhile
        state, thumbnail = result
        self.queue_model.set_evidence_state(path, state)
        if thumbnail is not None:
            self.queue_model.set_icon(path, thumbnail)

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
            self.show_error(f"Could not create the case: {exc}")
            return False
        return self._open_case(folder, create=False)

    def open_case(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a case folder")
        if folder:
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

        from inspector.report.export import export_case_report

        if self.case is None:
            self.show_error("No case is open: open or create a case before exporting a report.")
            return None
        self.drafts.save_all()
        self.flush_case_writes()
        QApplication.setOverrideCursor(QCursor(Qt.CursorShape.WaitCursor))
        try:
            exported = export_case_report(self.case, out, page_size,
                                          examiner=self.settings.examiner)
        except (OSError, ValueError, CaseError) as exc:
            self.show_error(f"Could not write the report {out}: {exc}")
            return None
        finally:
            QApplication.restoreOverrideCursor()
        self.notify(f"Report written: {out} ({exported.pages} pages)")
        return exported.pages

    def export_tables_dialog(self, kind: str) -> None:
        suffix = {"csv": "CSV (*.csv)", "jsonl": "JSON lines (*.jsonl)"}[kind]
        name, _ = QFileDialog.getSaveFileName(self, "Export the case", f"case.{kind}", suffix)
        if name:
            self.export_tables(**{kind: Path(name)})

    def export_tables(self, csv: Path | None = None, jsonl: Path | None = None) -> bool:
        """The case's table and/or results with the examiners' verdicts of record (drafts are
        saved first)."""
        from inspector.core.exports import export_case_tables

        if self.case is None:
            self.show_error("No case is open: open or create a case before exporting.")
            return False
        self.drafts.save_all()
        self.flush_case_writes()
        try:
            written = export_case_tables(self.case, csv=csv, jsonl=jsonl,
                                         examiner=self.settings.examiner)
        except (OSError, CaseError) as exc:
            self.show_error(f"Could not export the case: {exc}")
            return False
        self.notify("Exported " + ", ".join(str(p) for p in written))
        return True

    def flush_case_writes(self) -> None:
        """Wait until every finished analysis and examiner edit is on disk."""
        self.cases.flush()
