"""Initial and corrected verdicts side by side, the per-region findings, and the raw model text.

The left card holds Query 1's verdict, the right card Query 2's (or why Query 2 was skipped). A
banner across the top says whether the verdict changed; a change is shown in a strong colour *and*
in words, so it does not rest on colour alone. Each finding row carries its region's colour dot
(the same colour as the region's box). Selecting a finding emits ``finding_selected(number)``;
``highlight_region(number)`` selects the rows of a region without emitting, so the image view and
this list can follow each other without echo loops.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QFontDatabase, QIcon, QPainter, QPen, QPixmap, QTextCursor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from inspector.core.palette import region_colour
from inspector.core.protocol import StreamingView
from inspector.core.results import Analysis, QueryRecord
from inspector.core.wording import (
    changed_text,
    closeup_ablation_text,
    findings_disagreement_text,
    override_text,
    p_ai_reading,
    p_ai_text,
    verdict_text,
)

__all__ = ["RawTextDialog", "VerdictCard", "VerdictPanel", "confidence_line", "finding_text"]

# Colours mean one thing each: orange is AI-generated, green real, purple an examiner override,
# black-on-yellow a changed verdict, grey unparsed (Okabe–Ito, readable by colour-blind people).
VERDICT_COLOURS = {"real": "#009E73", "ai-generated": "#D55E00", "inconclusive": "#555555"}
UNPARSED_COLOUR = "#777777"
OVERRIDE_COLOUR = "#CC79A7"
CHANGED_STYLE = ("background:#F0E442; color:#000000; font-weight:bold; padding:6px; "
                 "border:2px solid #000000;")
UNCHANGED_STYLE = "border:1px solid palette(mid); padding:6px;"
NOT_COMPARABLE_STYLE = "background:#DDDDDD; color:#000000; padding:6px;"
FINDINGS_WARNING_STYLE = "color:#A04000; font-weight:bold; border:1px solid #A04000; padding:4px;"
OVERRIDE_STYLE = (f"background:{OVERRIDE_COLOUR}; color:#000000; font-weight:bold; "
                  "padding:6px;")

RegionRole = int(Qt.ItemDataRole.UserRole) + 1
DOT = "●"


def confidence_line(confidence: float | None) -> str:
    """"P(AI-generated) 0.87", or "P(AI-generated) not available" (never invented)."""
    return p_ai_text(confidence)


def finding_text(region: int, observation: str, points_to: str | None) -> str:
    """A findings row: "● 2  seams melt into the fabric → AI-generated"."""
    text = f"{DOT} {region}  {observation}"
    return text if points_to is None else f"{text} → {verdict_text(points_to)}"


def _dot_icon(number: int, size: int = 14) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor(0, 0, 0, 160), 1))  # keeps yellow visible on white
    painter.setBrush(QColor(region_colour(number)))
    painter.drawEllipse(QRectF(1.5, 1.5, size - 3, size - 3))
    painter.end()
    return QIcon(pixmap)


class _FindingDelegate(QStyledItemDelegate):
    """Paints the row's leading "●" as an icon in the region's colour (the text keeps it)."""

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        number = index.data(RegionRole)
        if isinstance(number, int) and option.text.startswith(DOT):
            option.text = option.text[len(DOT):].lstrip()
            option.icon = _dot_icon(number)
            option.features |= QStyleOptionViewItem.ViewItemFeature.HasDecoration


class VerdictCard(QFrame):
    """One query's verdict: title, the verdict word (big, colour-coded), confidence, explanation."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._default_title = title
        self.title = QLabel(title)
        bold = QFont(self.title.font())
        bold.setBold(True)
        self.title.setFont(bold)
        self.title.setWordWrap(True)
        self.verdict = QLabel("—")
        big = QFont(self.verdict.font())
        big.setPointSizeF(max(big.pointSizeF(), 9.0) * 2)
        big.setBold(True)
        self.verdict.setFont(big)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.confidence = QLabel("")
        self.explanation = QPlainTextEdit()
        self.explanation.setReadOnly(True)
        self.explanation.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.explanation.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.problems = QLabel("")
        small = QFont(self.problems.font())
        small.setPointSizeF(max(small.pointSizeF(), 9.0) * 0.85)
        self.problems.setFont(small)
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color:#A04000;")
        self.problems.hide()
        layout = QVBoxLayout(self)
        for widget in (self.title, self.verdict, self.confidence):
            layout.addWidget(widget)
        layout.addWidget(self.explanation, 1)
        layout.addWidget(self.problems)
        # The running query's answer, parsed as it grows (one view per card: each card follows
        # its own answer), and the text show_streaming last put in the widget, so that each new
        # token costs its own length, not the whole explanation's.
        self._stream = StreamingView()
        self._streamed = ""

    def clear(self, title: str | None = None) -> None:
        self.title.setText(title or self._default_title)
        self._set_verdict_label("—", None)
        self.confidence.setText("")
        self.explanation.clear()
        self.problems.clear()
        self.problems.hide()

    def show_query(self, query: QueryRecord, title: str | None = None) -> None:
        self.title.setText(title or self._default_title)
        self._set_verdict_label(verdict_text(query.verdict), query.verdict)
        self.confidence.setText(confidence_line(query.confidence))
        self.confidence.setToolTip(p_ai_reading(query.confidence))
        self.explanation.setPlainText(query.explanation or "(no explanation given)")
        if query.problems:
            self.problems.setText("Problems: " + "; ".join(query.problems))
            self.problems.show()
        else:
            self.problems.clear()
            self.problems.hide()

    def show_streaming(self, raw: str) -> None:
        """Show a running query's explanation as it grows (parsed from the raw text so far:
        never tags or JSON), and its verdict as soon as it closes; scrolled to the end."""
        text, verdict = self._stream(raw)
        if verdict is not None:
            self._set_verdict_label(verdict_text(verdict), verdict)
        elif self.verdict.text() == "—":
            self._set_verdict_label("…", None)
        if not text:
            text = "(the model is writing…)" if raw.strip() else ""
        shown = self._streamed
        # characterCount() counts the final paragraph separator; it tells in O(1) whether the
        # widget still holds what was streamed into it (clear() or setPlainText() elsewhere)
        unchanged = self.explanation.document().characterCount() - 1 == len(shown)
        if shown and unchanged and text.startswith(shown):
            if len(text) > len(shown):
                cursor = self.explanation.textCursor()
                cursor.movePosition(QTextCursor.MoveOperation.End)
                cursor.insertText(text[len(shown):])
        else:
            self.explanation.setPlainText(text)
        self._streamed = text
        self.explanation.moveCursor(QTextCursor.MoveOperation.End)
        self.explanation.ensureCursorVisible()

    def _set_verdict_label(self, text: str, verdict: str | None) -> None:
        colour = VERDICT_COLOURS.get(verdict or "", UNPARSED_COLOUR)
        self.verdict.setText(text)
        self.verdict.setStyleSheet(f"color:{colour};")


class RawTextDialog(QDialog):
    """Non-modal: Query 1 and Query 2 raw model text in two tabs (monospace, selectable)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Raw model text")
        self.setModal(False)
        self.resize(720, 520)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.tabs = QTabWidget()
        self.query1_text = self._text_area(mono)
        self.query2_text = self._text_area(mono)
        self.tabs.addTab(self.query1_text, "Query 1 (Locate)")
        self.tabs.addTab(self.query2_text, "Query 2 (Examine)")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)

    @staticmethod
    def _text_area(font: QFont) -> QPlainTextEdit:
        area = QPlainTextEdit()
        area.setReadOnly(True)
        area.setFont(font)
        area.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        area.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        return area

    def set_texts(self, query1: str, query2: str) -> None:
        self.query1_text.setPlainText(query1)
        self.query2_text.setPlainText(query2)


class VerdictPanel(QWidget):
    """Verdict comparison, findings and raw text for one analysis (GUI thread only)."""

    finding_selected = Signal(int)  # region number

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._analysis: Analysis | None = None
        self._query1: QueryRecord | None = None
        self._silent = False
        self._raw_dialog: RawTextDialog | None = None

        self.banner = QLabel("")
        self.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.banner.setWordWrap(True)
        self.banner.hide()
        # Random close-ups carry the located regions' labels: say that they are not those.
        self.ablation_label = QLabel("")
        self.ablation_label.setWordWrap(True)
        self.ablation_label.setStyleSheet("color:#C00000; font-weight:bold;")
        self.ablation_label.hide()
        # A corrected verdict that none of the model's own findings supports: said beside the
        # verdict, since the findings list below shows each finding but not the disagreement.
        self.findings_warning = QLabel("")
        self.findings_warning.setWordWrap(True)
        self.findings_warning.setStyleSheet(FINDINGS_WARNING_STYLE)
        self.findings_warning.hide()
        self.initial_card = VerdictCard("Initial (Query 1)")
        self.final_card = VerdictCard("Corrected (Query 2)")
        cards = QHBoxLayout()
        cards.addWidget(self.initial_card, 1)
        cards.addWidget(self.final_card, 1)

        self.findings_label = QLabel("Findings (Query 2)")
        self.findings_list = QListWidget()
        self.findings_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.findings_list.setWordWrap(True)
        self.findings_list.setItemDelegate(_FindingDelegate(self.findings_list))
        self.findings_list.itemSelectionChanged.connect(self._on_selection_changed)
        self.tags_label = QLabel("")
        self.tags_label.setWordWrap(True)
        self.raw_button = QPushButton("Raw model text…")
        self.raw_button.setEnabled(False)
        self.raw_button.clicked.connect(self.open_raw_dialog)
        bottom = QHBoxLayout()
        bottom.addWidget(self.tags_label, 1)
        bottom.addWidget(self.raw_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.ablation_label)
        layout.addWidget(self.findings_warning)
        layout.addLayout(cards, 2)
        layout.addWidget(self.findings_label)
        layout.addWidget(self.findings_list, 1)
        layout.addLayout(bottom)
        self.clear()

    # -- content --------------------------------------------------------------------------------

    def clear(self) -> None:
        self._analysis, self._query1 = None, None
        self.banner.clear()
        self.banner.hide()
        self.ablation_label.clear()
        self.ablation_label.hide()
        self.findings_warning.clear()
        self.findings_warning.hide()
        self.initial_card.clear()
        self.final_card.clear()
        self._silent = True
        try:
            self.findings_list.clear()
        finally:
            self._silent = False
        self.tags_label.clear()
        self.raw_button.setEnabled(False)
        self._update_raw()

    def show_initial(self, query: QueryRecord) -> None:
        """Query 1 is in: fill the left card; the right card waits for Query 2."""
        self._query1 = query
        self.initial_card.show_query(query)
        self.raw_button.setEnabled(True)
        self._update_raw()

    def show_analysis(self, analysis: Analysis) -> None:
        """A finished analysis: both cards, the changed banner, findings and tags."""
        self._analysis, self._query1 = analysis, analysis.query1
        self.initial_card.show_query(analysis.query1)
        if analysis.query2 is not None:
            self.final_card.show_query(analysis.query2)
        else:
            reason = analysis.examine_skipped or "not run"
            self.final_card.clear(f"Query 2 skipped: {reason}")
            self.final_card.explanation.setPlainText(
                "Query 2 did not run; the initial verdict stands."
            )
        self._show_banner(analysis)
        self._fill_findings(analysis)
        if analysis.query2 is None:
            self.tags_label.setText("")
        else:
            self.tags_label.setText("Tags: " + (", ".join(analysis.tags) or "none"))
        ablation = closeup_ablation_text(analysis)
        self.ablation_label.setText(ablation or "")
        self.ablation_label.setVisible(ablation is not None)
        disagreement = findings_disagreement_text(analysis)
        self.findings_warning.setText(disagreement or "")
        self.findings_warning.setVisible(disagreement is not None)
        self.raw_button.setEnabled(True)
        self._update_raw()

    @Slot(int, str)
    def set_streaming(self, query: int, text: str) -> None:
        """Live text of the running query (``query`` 1 or 2; ``text`` is the whole text so far)."""
        card = self.initial_card if query == 1 else self.final_card
        card.show_streaming(text)

    def _show_banner(self, analysis: Analysis) -> None:
        changed = analysis.changed
        if changed is None:
            text, style = "Not comparable (unparsed verdict)", NOT_COMPARABLE_STYLE
        elif changed:
            text, style = f"CHANGED: {changed_text(analysis)}", CHANGED_STYLE
        else:
            text, style = f"Unchanged: {verdict_text(analysis.final_verdict)}", UNCHANGED_STYLE
        if analysis.overridden:  # the examiner's verdict is the verdict of record
            model = "model: " + (changed_text(analysis) if changed else text)
            text = f"{override_text(analysis.examiner)} ({model})"
            style = OVERRIDE_STYLE
        self.banner.setText(text)
        self.banner.setStyleSheet(style)
        self.banner.setAccessibleName(text)
        self.banner.show()

    def _fill_findings(self, analysis: Analysis) -> None:
        labels = {r.number: r.label for r in analysis.regions}
        self._silent = True
        try:
            self.findings_list.clear()
            for finding in analysis.findings:
                item = QListWidgetItem(
                    finding_text(finding.region, finding.observation, finding.points_to)
                )
                item.setData(RegionRole, int(finding.region))
                label = labels.get(finding.region)
                item.setToolTip(
                    f"Region {finding.region}" + (f": {label}" if label else "")
                )
                self.findings_list.addItem(item)
        finally:
            self._silent = False
        if analysis.query2 is None:
            self.findings_label.setText("Findings (Query 2): none — Query 2 did not run")
        elif not analysis.findings:
            self.findings_label.setText("Findings (Query 2): none reported")
        else:
            self.findings_label.setText("Findings (Query 2)")

    # -- selection ------------------------------------------------------------------------------

    def highlight_region(self, number: int | None) -> None:
        """Select the finding rows of region ``number`` (None: none) without emitting."""
        self._silent = True
        try:
            self.findings_list.clearSelection()
            first: QListWidgetItem | None = None
            for row in range(self.findings_list.count()):
                item = self.findings_list.item(row)
                if number is not None and item.data(RegionRole) == number:
                    item.setSelected(True)
                    first = first or item
            if first is not None:
                self.findings_list.scrollToItem(first)
        finally:
            self._silent = False

    def _on_selection_changed(self) -> None:
        if self._silent:
            return
        items = self.findings_list.selectedItems()
        if items:
            self.finding_selected.emit(int(items[0].data(RegionRole)))

    # -- raw text -------------------------------------------------------------------------------

    @property
    def raw_dialog(self) -> RawTextDialog:
        """The (reused, non-modal) raw-text dialog; created on first use."""
        if self._raw_dialog is None:
            self._raw_dialog = RawTextDialog(self)
            self._update_raw()
        return self._raw_dialog

    def open_raw_dialog(self) -> None:
        dialog = self.raw_dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    def _update_raw(self) -> None:
        if self._raw_dialog is None:
            return
        q1 = self._query1.raw_text if self._query1 is not None else "(Query 1 has not run)"
        a = self._analysis
        if a is None:
            q2 = "(Query 2 has not run)"
        elif a.query2 is not None:
            q2 = a.query2.raw_text
        else:
            q2 = f"(Query 2 skipped: {a.examine_skipped or 'not run'})"
        self._raw_dialog.set_texts(q1, q2)
