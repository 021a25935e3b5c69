"""Download a model from the GUI: progress (bytes, speed, ETA), cancel, resume on the next try."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from inspector.core.download import DownloadCancelled, DownloadError, download_model


class _Relay(QObject):
    """Carries the download thread's news to the GUI thread (queued signals)."""

    progress = Signal(object)
    done = Signal(str)
    failed = Signal(str)


class DownloadDialog(QProgressDialog):
    """Downloads `model` (preset name or hub id) into the models folder on a background thread.

    Emits `finished_download(path)` on success and `download_failed(message)` otherwise; a
    cancelled download keeps its partial files, so starting it again resumes.
    """

    finished_download = Signal(str)
    download_failed = Signal(str)

    def __init__(self, model: str, parent: QWidget | None = None, *, dest: Path | None = None,
                 endpoint: str | None = None) -> None:
        super().__init__(f"Downloading {model}…", "Cancel", 0, 1000, parent)
        self.setWindowTitle("Download model")
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.setAutoClose(False)
        self.setAutoReset(False)
        self.setMinimumDuration(0)
        self.model = model
        self.result_path: str | None = None
        self.error: str | None = None
        self._cancel = threading.Event()
        self._relay = _Relay()
        self._relay.progress.connect(self._on_progress)
        self._relay.done.connect(self._on_done)
        self._relay.failed.connect(self._on_failed)
        self.canceled.connect(self._cancel.set)
        self._thread = threading.Thread(
            target=self._run, args=(dest, endpoint), name="model-download", daemon=True
        )

    def start(self) -> None:
        self.show()
        self._thread.start()

    def _run(self, dest: Path | None, endpoint: str | None) -> None:
        try:
            path = download_model(self.model, dest=dest, endpoint=endpoint,
                                  on_progress=self._relay.progress.emit,
                                  is_cancelled=self._cancel.is_set)
        except DownloadCancelled:
            self._relay.failed.emit("stopped; start the download again to resume")
        except DownloadError as exc:
            self._relay.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - reported to the user, never kills the app
            self._relay.failed.emit(f"download failed: {exc}")
        else:
            self._relay.done.emit(str(path))

    def _on_progress(self, progress) -> None:
        self.setValue(int(progress.fraction * 1000))
        self.setLabelText(f"Downloading {self.model}\n{progress.describe()}")

    def _on_done(self, path: str) -> None:
        self.result_path = path
        self.setValue(1000)
        self.setLabelText(f"Downloaded to {path}")
        self.setCancelButtonText("Close")
        self.finished_download.emit(path)

    def _on_failed(self, message: str) -> None:
        self.error = message
        self.setLabelText(f"{self.model}: {message}")
        self.setCancelButtonText("Close")
        self.download_failed.emit(message)

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)
