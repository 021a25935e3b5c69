"""The main window's dialogs: downloads, keyboard shortcuts, about (a mixin of MainWindow)."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QMessageBox

from inspector import __version__
from inspector.gui.window_layout import SHORTCUTS

__all__ = ["WindowDialogs"]


class WindowDialogs:
    """Mixin of MainWindow: dialogs that only read the window's state."""

    def download_model_dialog(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        from inspector.core.presets import DEFAULT_PRESET, preset_names

        names = [n for n in preset_names() if n not in ("local-folder", "lora-adapter",
                                                         "remote-server", "demo")]
        name, ok = QInputDialog.getItem(self, "Download a model", "Preset or hub id:", names,
                                        names.index(DEFAULT_PRESET), True)
        if ok and name.strip():
            self.start_download(name.strip())

    def start_download(self, model: str, **kwargs):
        """Start a non-modal download; the user can keep working meanwhile."""
        from inspector.gui.download_dialog import DownloadDialog

        dialog = DownloadDialog(model, self, **kwargs)
        dialog.finished_download.connect(
            lambda path: self.notify(f"Downloaded {model}; choose it in Settings ({path})")
        )
        dialog.download_failed.connect(lambda message: self.notify(f"{model}: {message}"))
        dialog.start()
        return dialog

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{keys}</b></td><td>{what}</td></tr>"
                       for keys, what in SHORTCUTS)
        box = QMessageBox(self)
        box.setWindowTitle("Keyboard shortcuts")
        box.setText(f"<table cellspacing=6>{rows}</table>")
        box.setModal(False)
        box.show()
        self._shortcuts_box = box

    def about(self) -> None:
        import platform

        from PySide6 import __version__ as pyside_version

        versions = [f"LTE Inspector {__version__}", f"Python {platform.python_version()}",
                    f"PySide6 {pyside_version}"]
        for name in ("torch", "transformers"):
            module = sys.modules.get(name)
            if module is not None:
                versions.append(f"{name} {module.__version__}")
        QMessageBox.about(
            self, "About LTE Inspector",
            "<b>LTE Inspector</b><br>Locate-Then-Examine forensic inspection of images with "
            "vision-language models.<br><br>" + "<br>".join(versions)
            + "<br><br>A model's verdict is an assessment, not proof.",
        )
