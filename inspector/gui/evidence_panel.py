"""The evidence and provenance signals of the shown image, kept apart from the model's verdict."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

from inspector.core.preview import EvidenceCheck
from inspector.core.provenance import PROVENANCE_NOTE, Provenance

ALERT = "color:#C00000; font-weight:bold;"


class EvidencePanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.browser)
        self.clear()

    def clear(self, message: str = "No image selected.") -> None:
        self.browser.setHtml(f"<i>{html.escape(message)}</i>")

    def show_error(self, path: str, message: str) -> None:
        """A file that could not be read or analysed: its own path and error, nothing else."""
        self.browser.setHtml(
            f"<table cellspacing=4><tr><td><b>File</b></td><td>{html.escape(path)}</td></tr>"
            f"<tr><td><b>Problem</b></td><td style='{ALERT}'>{html.escape(message)}</td></tr>"
            "</table><p>Nothing about this file was recorded.</p>")

    def show_unanalysed(self, check: EvidenceCheck) -> None:
        """A file read and hashed now, not analysed yet."""
        rows = [("File", check.path), ("SHA-256", check.sha256 or "—"),
                ("Size", f"{check.size_bytes:,} bytes"),
                ("Dimensions", f"{check.width} × {check.height} px"),
                ("State", "not analysed yet")]
        self.browser.setHtml("<table cellspacing=4>" + "".join(
            f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(str(v))}</td></tr>"
            for k, v in rows) + "</table>")

    def show_evidence(self, evidence, check: EvidenceCheck | None = None) -> None:
        """Evidence block (`results.Evidence`) with its provenance signals, and the result of
        re-hashing the file now (``check``): a changed or missing file is said in red first."""
        integrity = ""
        if check is not None:
            style = "color:#006B4F;" if check.matches else ALERT
            integrity = (f"<p style='{style}'>{html.escape(check.describe(evidence.sha256))}"
                         "</p>")
        rows = [
            ("File", evidence.path),
            ("SHA-256", evidence.sha256),
            ("Size", f"{evidence.size_bytes:,} bytes"),
            ("Dimensions", f"{evidence.width} × {evidence.height} px"),
            ("Format", f"{evidence.format}, mode {evidence.original_mode}, "
                       f"{evidence.frame_count} frame(s)"),
            ("EXIF", ", ".join(f"{k}: {v}" for k, v in evidence.exif.items()) or "none"),
        ]
        signals: list[str] = []
        if evidence.provenance is None:
            rows.append(("Provenance", "not checked"))
        else:
            prov = Provenance.from_dict(evidence.provenance)
            c2pa = prov.c2pa
            rows.append(("C2PA", c2pa.status + (f" — {c2pa.claim_generator}"
                                                  if c2pa.claim_generator else "")))
            if c2pa.signer:
                rows.append(("C2PA signer", c2pa.signer))
            for error in c2pa.validation_errors:
                rows.append(("C2PA validation", error))
            rows.append(("Digital source type", prov.digital_source_type or "none found"))
            rows.append(("Generator text", ", ".join(prov.generator_text) or "none found"))
            rows.append(("Software", prov.software or "none"))
            signals = prov.ai_signals
        table = "".join(
            f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(str(v))}</td></tr>"
            for k, v in rows
        )
        listed = "".join(f"<li>{html.escape(s)}</li>" for s in signals)
        signals_html = (f"<p><b>Provenance signals pointing to AI generation:</b></p><ul>{listed}"
                        "</ul>" if signals else "<p>No provenance signal of AI generation.</p>")
        self.browser.setHtml(
            f"{integrity}<table cellspacing=4>{table}</table>{signals_html}"
            f"<p><small>{html.escape(PROVENANCE_NOTE)}</small></p>"
        )

    def text(self) -> str:
        return self.browser.toPlainText()
