"""Screenshots of the real window at the moments the README shows.

    QT_QPA_PLATFORM=offscreen python docs/screenshots/make_screenshots.py

A tiny Qwen2.5-VL is taught (a few seconds) to answer on a photograph, then the real main window
analyses it: the initial verdict with its boxes, the view in the middle of the examine animation,
the final comparison, the batch table, an examiner's override, a file changed on disk after its
analysis, the empty window, and a model that failed to load — each grabbed with QWidget.grab().
Photographs keep their aspect ratio (cropped, never squashed).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))


def _photo(name: str, size: tuple[int, int]):
    """A scikit-image photograph cropped to the aspect of ``size``, then scaled: no distortion."""
    from PIL import ImageOps

    from tests.conftest import skimage_photo

    return ImageOps.fit(skimage_photo(name), size)


def main() -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from inspector.core.backends.base import BackendError, GenerationSettings
    from inspector.core.backends.local import LocalBackend, LocalModelSpec
    from inspector.core.pipeline import InitialVerdict
    from inspector.gui.main_window import MainWindow
    from inspector.gui.settings import AppSettings
    from tests.conftest import teach_lte_answers
    from trainer.tiny import MAX_PIXELS, MIN_PIXELS, build_tiny_model

    app = QApplication.instance() or QApplication([])
    taken: set[str] = set()

    def wait_until(done, seconds: float = 120) -> None:
        end = time.monotonic() + seconds
        while not done():
            if time.monotonic() > end:
                raise TimeoutError("the window did not reach the expected state")
            app.processEvents()
            time.sleep(0.01)

    def settle(seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        wait_until(lambda: time.monotonic() > end)

    def shoot(window, name: str) -> None:
        if name not in taken:
            taken.add(name)
            window.grab().save(str(HERE / f"{name}.png"))

    with tempfile.TemporaryDirectory(prefix="lte-shots-") as tmp:
        tmp = Path(tmp)
        os.environ["LTE_SETTINGS"] = str(tmp / "settings.toml")
        photo = tmp / "astronaut.jpg"
        _photo("astronaut", (320, 240)).save(photo, quality=92)
        model = build_tiny_model(tmp / "model", seed=1)
        teach_lte_answers(model, photo, "qwen2_5_vl", MIN_PIXELS, MAX_PIXELS)
        second = tmp / "second.jpg"
        shutil.copy(photo, second)
        settings = GenerationSettings(400, 400)

        # a model that does not load: the reason and the next steps, in the window
        def missing_model():
            raise BackendError("no model folder at /models/Qwen2.5-VL-7B-Instruct "
                               "(was the drive unplugged?)")

        failed = MainWindow(AppSettings(examiner="J. Doe"), missing_model,
                            case_folder=tmp / "failed-case")
        failed.resize(1400, 860)
        failed.show()
        wait_until(failed.error_bar.isVisible)
        failed.add_paths([photo])
        settle()
        shoot(failed, "failed-load")
        failed.close()

        window = MainWindow(
            AppSettings(examiner="J. Doe", animation=True),
            lambda: LocalBackend(LocalModelSpec(source=str(model), device="cpu"), settings),
            case_folder=tmp / "case",
        )
        window.resize(1400, 860)
        window.show()
        settle()
        shoot(window, "empty-window")

        def on_event(path: str, event) -> None:
            if isinstance(event, InitialVerdict) and path == str(photo):
                QTimer.singleShot(0, lambda: shoot(window, "initial-verdict"))

        window.host.pipeline_event.connect(on_event)
        window.view.examining.connect(
            lambda index: index == 1 and QTimer.singleShot(
                250, lambda: shoot(window, "examine-animation")))
        idle = []
        window.queue.queue_idle.connect(lambda: idle.append(True))
        window.add_paths([photo, second])
        wait_until(lambda: idle, 300)
        settle(1.5)
        window.show_path(str(photo))
        wait_until(lambda: window.displayed_path == str(photo))
        settle()
        shoot(window, "final-comparison")
        window.tabs.setCurrentIndex(1)
        settle()
        shoot(window, "batch-table")
        window.tabs.setCurrentIndex(0)

        # the examiner overrides: the verdict of record everywhere
        panel = window.examiner
        panel.override_combo.setCurrentIndex(panel.override_combo.findData("real"))
        panel.notes_edit.setPlainText("The camera original was recovered from the phone; "
                                      "its hash matches the upload.")
        panel.save()
        wait_until(lambda: panel.status_label.text().startswith("Saved by"))
        settle()
        shoot(window, "override")

        # the second file is overwritten with another photograph after its analysis
        _photo("coffee", (400, 300)).save(second, quality=90)
        window.show_path(str(second))
        wait_until(lambda: window.displayed_path == str(second))
        settle()
        shoot(window, "changed-evidence")
        window.close()
    print("wrote", ", ".join(sorted(taken)))
    return 0 if len(taken) == 8 else 1


if __name__ == "__main__":
    sys.exit(main())
