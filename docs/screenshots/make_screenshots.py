"""Screenshots of the real window at the moments the README shows.

    QT_QPA_PLATFORM=offscreen python docs/screenshots/make_screenshots.py

A tiny Qwen2.5-VL is taught (a few seconds) to answer on a photograph, then the real main window
analyses it: the initial verdict with its boxes, the view in the middle of the examine animation,
the final comparison, the batch table, an examiner's override, a file changed on disk after its
analysis, the empty window, and a model that failed to load — each grabbed with QWidget.grab().
Photographs keep their aspect ratio (cropped, never squashed).
"""

from __future__ import annotations

import shutil
import sys

from window_driver import HERE, photo, scratch_folder, settle, show_window, wait_until


def main() -> int:
    from PySide6.QtCore import QTimer

    from inspector.core.backends.base import BackendError, GenerationSettings
    from inspector.core.backends.local import LocalBackend, LocalModelSpec
    from inspector.core.pipeline import InitialVerdict
    from tests.conftest import teach_lte_answers
    from trainer.tiny import MAX_PIXELS, MIN_PIXELS, build_tiny_model

    taken: set[str] = set()

    def shoot(window, name: str) -> None:
        if name not in taken:
            taken.add(name)
            window.grab().save(str(HERE / f"{name}.png"))

    with scratch_folder("lte-shots-") as tmp:
        evidence = tmp / "astronaut.jpg"
        photo("astronaut", (320, 240)).save(evidence, quality=92)
        model = build_tiny_model(tmp / "model", seed=1)
        teach_lte_answers(model, evidence, "qwen2_5_vl", MIN_PIXELS, MAX_PIXELS)
        second = tmp / "second.jpg"
        shutil.copy(evidence, second)
        settings = GenerationSettings(400, 400)

        # a model that does not load: the reason and the next steps, in the window
        def missing_model():
            raise BackendError("no model folder at /models/Qwen2.5-VL-7B-Instruct "
                               "(was the drive unplugged?)")

        failed = show_window(missing_model, tmp / "failed-case", examiner="J. Doe")
        wait_until(failed.error_bar.isVisible)
        failed.add_paths([evidence])
        settle()
        shoot(failed, "failed-load")
        failed.close()

        window = show_window(
            lambda: LocalBackend(LocalModelSpec(source=str(model), device="cpu"), settings),
            tmp / "case", examiner="J. Doe", animation=True,
        )
        settle()
        shoot(window, "empty-window")

        def on_event(path: str, event) -> None:
            if isinstance(event, InitialVerdict) and path == str(evidence):
                QTimer.singleShot(0, lambda: shoot(window, "initial-verdict"))

        window.host.pipeline_event.connect(on_event)
        window.view.examining.connect(
            lambda index: index == 1 and QTimer.singleShot(
                250, lambda: shoot(window, "examine-animation")))
        idle = []
        window.queue.queue_idle.connect(lambda: idle.append(True))
        window.add_paths([evidence, second])
        wait_until(lambda: idle, 300)
        settle(1.5)
        window.show_path(str(evidence))
        wait_until(lambda: window.displayed_path == str(evidence))
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
        photo("coffee", (400, 300)).save(second, quality=90)
        window.show_path(str(second))
        wait_until(lambda: window.displayed_path == str(second))
        settle()
        shoot(window, "changed-evidence")
        window.close()
    print("wrote", ", ".join(sorted(taken)))
    return 0 if len(taken) == 8 else 1


if __name__ == "__main__":
    sys.exit(main())
