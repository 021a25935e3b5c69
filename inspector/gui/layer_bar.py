"""Under the image: which forensic layer is shown, how opaque, its legend, and the loupe.

One button per analysis that has something to draw (a map or regions); at most one layer is on
(click it again to hide it). The legend is the colour ramp from low to high with the analysis'
own words for it (``map_legend``) and the layer's limits as a tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from inspector.gui.forensic_layers import ramp_qimage

__all__ = ["LayerBar", "SHORT_NAMES"]

SHORT_NAMES = {
    "jpeg": "JPEG", "double_jpeg": "Double JPEG", "spectrum": "Spectrum",
    "copy_move": "Copy-move", "noise": "Noise", "ela": "ELA", "metadata": "Metadata",
}  # fmt: skip
RAMP_SIZE = (96, 12)
HINT = "Choose a layer to lay it over the image (and the close-ups)."


class _ElidedLabel(QLabel):
    """One line of text, cut with "…" to the width it gets (the whole text is its tooltip)."""

    def __init__(self) -> None:
        super().__init__()
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(80)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt API)
        self._full = text
        self._elide()

    def text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight,
                                              max(10, self.width()))
        super().setText(shown)


class LayerBar(QWidget):
    layer_changed = Signal(object)  # analysis name, or None for no layer
    opacity_changed = Signal(float)  # 0..1

    def __init__(self, loupe_action: QAction | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._buttons: dict[str, QToolButton] = {}
        self._current: str | None = None
        self._ramp_on = True
        self.caption = QLabel("Forensic layer:")
        self.none_label = QLabel("none yet")
        self.none_label.setEnabled(False)
        self._button_row = QHBoxLayout()
        self._button_row.setContentsMargins(0, 0, 0, 0)
        self._button_row.setSpacing(2)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(60)
        self.opacity.setFixedWidth(90)
        self.opacity.setToolTip("Opacity of the forensic layer")
        self.opacity.setAccessibleName("Layer opacity")
        self.opacity.valueChanged.connect(lambda v: self.opacity_changed.emit(v / 100.0))
        self.opacity_label = QLabel("Opacity")
        ramp = QLabel()
        ramp.setPixmap(QPixmap.fromImage(ramp_qimage(*RAMP_SIZE)))
        ramp.setToolTip("Colour scale of the layer, low (black) to high (pale yellow). Where a "
                        "legend says black, grey or white it means the bottom, the middle and "
                        "the top of this scale.")
        self.ramp = ramp
        self.low_label, self.high_label = QLabel("low"), QLabel("high")
        self.legend = _ElidedLabel()
        self.legend.setAccessibleName("Layer legend")
        self._legend_widgets = (self.opacity_label, self.opacity, self.low_label, self.ramp,
                                self.high_label, self.legend)
        self.loupe_button = QToolButton()
        if loupe_action is not None:
            self.loupe_button.setDefaultAction(loupe_action)
        top = QHBoxLayout()  # the layers and the loupe
        top.addWidget(self.caption)
        top.addWidget(self.none_label)
        top.addLayout(self._button_row)
        top.addStretch(1)
        top.addWidget(self.loupe_button)
        bottom = QHBoxLayout()  # the shown layer: opacity and legend
        for widget in self._legend_widgets:
            bottom.addWidget(widget, 1 if widget is self.legend else 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addLayout(bottom)
        self.set_layers([])

    # -- layers ---------------------------------------------------------------------------------

    def set_layers(self, layers: list[tuple[str, str]]) -> None:
        """The layers on offer, (name, tooltip) in display order; the chosen one stays chosen
        when it is among them (so the same layer follows the examiner from image to image)."""
        for button in self._buttons.values():
            self._button_row.removeWidget(button)
            button.deleteLater()
        self._buttons = {}
        for name, tooltip in layers:
            button = QToolButton()
            button.setText(SHORT_NAMES.get(name, name))
            button.setCheckable(True)
            button.setToolTip(tooltip)
            button.setAccessibleName(f"Layer {SHORT_NAMES.get(name, name)}")
            button.clicked.connect(lambda checked, n=name: self.choose(n if checked else None))
            self._button_row.addWidget(button)
            self._buttons[name] = button
        self.none_label.setVisible(not layers)
        self._sync()

    def layers(self) -> list[str]:
        return list(self._buttons)

    def button(self, name: str) -> QToolButton | None:
        return self._buttons.get(name)

    def chosen(self) -> str | None:
        """The layer the examiner chose (kept across images even when one lacks it)."""
        return self._current

    def shown(self) -> str | None:
        """The layer shown now: the chosen one, when this image has it."""
        return self._current if self._current in self._buttons else None

    def choose(self, name: str | None) -> None:
        """Show layer ``name`` (None: none); emits ``layer_changed`` when that changes."""
        if name is not None and name not in self._buttons:
            return
        changed = name != self._current
        self._current = name
        self._sync()
        if changed:
            self.layer_changed.emit(name)

    def set_legend(self, text: str, tooltip: str = "", *, ramp: bool = True) -> None:
        """The shown layer's legend; ``ramp=False`` for a layer of outlines only (no map)."""
        self.legend.setText(text)
        self.legend.setToolTip(tooltip or text)
        self._ramp_on = ramp
        self._sync()

    def legend_visible(self) -> bool:
        """A layer's legend is on show (not the hint)."""
        return self.shown() is not None and bool(self.legend.text())

    def _sync(self) -> None:
        shown = self.shown()
        for name, button in self._buttons.items():
            button.setChecked(name == shown)
        for widget in self._legend_widgets[:-1]:  # the legend line itself always holds its row
            widget.setVisible(shown is not None and self._ramp_on)
        self.legend.setEnabled(shown is not None)  # muted while it only gives the hint
        if shown is None:
            self.legend.setText(HINT if self._buttons else "")
            self.legend.setToolTip("")
