"""Does the window stay responsive while a batch runs with the examine animation on?

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_responsiveness.py [--images 6]

Builds a tiny Qwen2.5-VL, teaches it (a few seconds) to locate two regions on a photo so every
analysis runs Query 1, the close-ups, the animated zoom into each box and Query 2, then queues N
copies of the photo in the real main window. A heartbeat timer firing every 5 ms records the
longest gap between two ticks: the longest the event loop was blocked. Goal: no stall over 50 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=6)
    args = parser.parse_args(argv)

    from PIL import Image
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from inspector.core.backends.base import GenerationSettings
    from inspector.core.backends.local import LocalBackend, LocalModelSpec
    from inspector.gui.main_window import MainWindow
    from inspector.gui.settings import AppSettings
    from tests.conftest import skimage_photo, teach_lte_answers
    from trainer.tiny import MAX_PIXELS, MIN_PIXELS, build_tiny_model

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="lte-gui-bench-") as tmp:
        tmp = Path(tmp)
        photo = tmp / "astronaut.jpg"
        skimage_photo("astronaut").resize((320, 240), Image.LANCZOS).save(photo, quality=92)
        model = build_tiny_model(tmp / "model", seed=1)
        teach_lte_answers(model, photo, "qwen2_5_vl", MIN_PIXELS, MAX_PIXELS)
        copies = []
        for i in range(args.images):
            copies.append(tmp / f"copy{i}.jpg")
            shutil.copy(photo, copies[-1])
        settings = GenerationSettings(400, 400)
        window = MainWindow(
            AppSettings(examiner="bench", animation=True),
            lambda: LocalBackend(LocalModelSpec(source=str(model), device="cpu"), settings),
            case_folder=tmp / "case",
        )
        window.show()
        clock, gaps, last = QElapsedTimer(), [], [0]
        clock.start()
        phase = ["loading the model"]
        stalls: list[tuple[int, str]] = []
        window.host.loaded.connect(lambda _p: phase.__setitem__(0, "analysing"))

        def beat() -> None:
            now = clock.elapsed()
            gaps.append(now - last[0])
            if len(gaps) > 1 and gaps[-1] > 50:
                stalls.append((gaps[-1], phase[0]))
            last[0] = now

        heartbeat = QTimer()
        heartbeat.timeout.connect(beat)
        animations = [0]
        window.view.examine_finished.connect(lambda: animations.__setitem__(0, animations[0] + 1))
        window.queue.queue_idle.connect(app.quit)
        QTimer.singleShot(600_000, app.quit)  # a bound, should the batch never finish
        started = time.perf_counter()
        window.add_paths(copies)
        heartbeat.start(5)
        app.exec()
        heartbeat.stop()
        seconds = time.perf_counter() - started
        window.close()
    gaps = gaps[1:]
    analysing = [g for g, where in stalls if where == "analysing"]
    worst = max(gaps) if gaps else float("nan")
    print(f"{args.images} analyses in {seconds:.1f} s, {animations[0]} examine animations played")
    print(f"heartbeat ticks: {len(gaps)}, longest gap {worst} ms")
    print(f"gaps over 50 ms: {len(stalls)} "
          + (", ".join(f"{g} ms while {where}" for g, where in stalls) if stalls else ""))
    return 0 if not analysing else 1


if __name__ == "__main__":
    sys.exit(main())
