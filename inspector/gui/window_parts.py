"""Two small bars of the main window: the error bar and the evidence-state bar."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

__all__ = ["ErrorBar", "EvidenceStateBar"]

_RED_BAR = ("QFrame { background: #C00000; } QLabel { color: white; font-weight: bold; } "
            "QPushButton { padding: 2px 10px; }")


class ErrorBar(QFrame):
    """A red bar across the window for problems the examiner must not miss (a failed save, a
    model that did not load): the whole message, optional actions, and Dismiss."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet(_RED_BAR)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(8, 4, 8, 4)
        self._layout.addWidget(self.label, 1)
        self.dismiss = QPushButton("Dismiss")
        self.dismiss.clicked.connect(self.clear)
        self._layout.addWidget(self.dismiss)
        self._buttons: list[QPushButton] = []
        self.hide()

    def show_message(self, text: str, actions: list[tuple[str, Callable[[], None]]]) -> None:
        for button in self._buttons:
            self._layout.removeWidget(button)
            button.deleteLater()
        self._buttons = []
        for label, slot in actions:
            button = QPushButton(label)
            button.clicked.connect(slot)
            self._layout.insertWidget(self._layout.count() - 1, button)
            self._buttons.append(button)
        self.label.setText(text)
        self.show()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    def buttons(self) -> list[QPushButton]:
        return list(self._buttons)

    def clear(self) -> None:
        self.label.clear()
        self.hide()


class EvidenceStateBar(QFrame):
    """Above the image: why the recorded results are not shown (file changed, missing, failed),
    with Re-analyse where it makes sense."""

    reanalyse_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet(_RED_BAR)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.reanalyse = QPushButton("Re-analyse")
        self.reanalyse.setToolTip("Analyse the file as it is now; the earlier analysis stays in "
                                  "the case as history.")
        self.reanalyse.clicked.connect(self.reanalyse_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.reanalyse)
        self.hide()

    def show_state(self, text: str, *, can_reanalyse: bool) -> None:
        self.label.setText(text)
        self.reanalyse.setVisible(can_reanalyse)
        self.show()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    def clear(self) -> None:
        self.label.clear()
        self.hide()
