"""Screenshots of the real window at the moments the README shows.

    QT_QPA_PLATFORM=offscreen python docs/screenshots/make_screenshots.py

A tiny Qwen2.5-VL is taught (a few seconds) to answer on a photograph, then the real main window
analyses it: the initial verdict with its boxes, the view in the middle of the examine animation,
the final comparison, and the batch table are grabbed with QWidget.grab().
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from PIL import Image
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from inspector.core.backends.base import GenerationSettings
    from inspector.core.backends.local import LocalBackend, LocalModelSpec
    from inspector.core.pipeline import InitialVerdict
    from inspector.gui.main_window import MainWindow
    from inspector.gui.settings import AppSettings
    from tests.conftest import skimage_photo, teach_lte_answers
    from trainer.tiny import MAX_PIXELS, MIN_PIXELS, build_tiny_model

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="lte-shots-") as tmp:
        tmp = Path(tmp)
        photo = tmp / "astronaut.jpg"
        skimage_photo("astronaut").resize((320, 240), Image.LANCZOS).save(photo, quality=92)
        model = build_tiny_model(tmp / "model", seed=1)
        teach_lte_answers(model, photo, "qwen2_5_vl", MIN_PIXELS, MAX_PIXELS)
        shutil.copy(photo, tmp / "second.jpg")
        settings = GenerationSettings(400, 400)
        window = MainWindow(
            AppSettings(examiner="J. Doe", animation=True),
            lambda: LocalBackend(LocalModelSpec(source=str(model), device="cpu"), settings),
            case_folder=tmp / "case",
        )
        window.resize(1400, 860)
        window.show()
        taken: set[str] = set()

        def shoot(name: str) -> None:
            if name not in taken:
                taken.add(name)
                window.grab().save(str(HERE / f"{name}.png"))

        def on_event(path: str, event) -> None:
            if isinstance(event, InitialVerdict):
                QTimer.singleShot(0, lambda: shoot("initial-verdict"))

        window.host.pipeline_event.connect(on_event)
        window.view.examining.connect(
            lambda index: index == 1 and QTimer.singleShot(250, lambda: shoot("examine-animation"))
        )

        def finish() -> None:
            QTimer.singleShot(1500, lambda: (
                window._show(str(photo)), shoot("final-comparison"),
                window.tabs.setCurrentIndex(1), shoot("batch-table"), app.quit(),
            ))

        window.queue.queue_idle.connect(finish)
        window.add_paths([photo, tmp / "second.jpg"])
        QTimer.singleShot(300_000, app.quit)
        app.exec()
        window.close()
    print("wrote", ", ".join(sorted(taken)))
    return 0 if len(taken) == 4 else 1


if __name__ == "__main__":
    sys.exit(main())
