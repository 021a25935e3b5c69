"""Does the window stay responsive while a batch runs and the examiner browses big photos?

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_responsiveness.py [--images 6] [--big 20]

Builds a tiny Qwen2.5-VL, teaches it (a few seconds) to locate two regions on a photo so every
analysis runs Query 1, the close-ups, the animated zoom into each box and Query 2, then queues N
copies of the photo in the real main window. While that batch runs, the examiner (scripted)
selects a 42-megapixel photograph (8000 × 5336), zooms it to 100 % (full-resolution detail), and
then steps through ``--big`` 12-megapixel JPEGs (4000 × 3000), each as soon as the previous one
is on screen. A heartbeat timer firing every 5 ms records the longest gap between two ticks: the
longest the event loop was blocked. Goal: no stall over 50 ms.
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
    parser.add_argument("--big", type=int, default=20, help="12-megapixel JPEGs to step through")
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
        big = tmp / "big-42mp.jpg"
        cat = skimage_photo("chelsea")
        cat.resize((8000, 5336), Image.BILINEAR).save(big, quality=90)
        twelve = []
        for i in range(args.big):
            twelve.append(tmp / f"photo-12mp-{i:02d}.jpg")
            cat.rotate(i * 7).resize((4000, 3000), Image.BILINEAR).save(twelve[-1], quality=90)
        print(f"made {big.name} ({big.stat().st_size / 1e6:.1f} MB) and {len(twelve)} 12-MP "
              "JPEGs", flush=True)
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

        worst: dict[str, int] = {}

        def beat() -> None:
            now = clock.elapsed()
            gaps.append(now - last[0])
            if len(gaps) > 1:
                kind = phase[0].split(" ")[0]  # loading / analysing / selecting / zooming
                worst[kind] = max(worst.get(kind, 0), gaps[-1])
            if len(gaps) > 1 and gaps[-1] > 50:
                stalls.append((gaps[-1], phase[0]))
            last[0] = now

        heartbeat = QTimer()
        heartbeat.timeout.connect(beat)
        animations = [0]
        window.view.examine_finished.connect(lambda: animations.__setitem__(0, animations[0] + 1))
        browse = [str(big), "zoom", *map(str, twelve)]
        shown: list[tuple[str, float]] = []
        batch_done = [False]
        step_started = [0.0]

        def next_step() -> None:
            if not browse:
                phase[0] = "analysing"
                if batch_done[0]:
                    app.quit()
                return
            item = browse.pop(0)
            step_started[0] = time.perf_counter()
            if item == "zoom":
                phase[0] = "zooming the 42-MP photo to 100 %"
                window.view.set_zoom(1.0)
                wait_for(lambda: window.view.detail_rect() is not None, "detail at 100 %")
                return
            phase[0] = f"selecting {Path(item).name}"
            window.show_path(item)
            wait_for(lambda p=item: window.displayed_path == p, Path(item).name)

        def wait_for(done, what: str) -> None:
            def poll() -> None:
                if done():
                    shown.append((what, time.perf_counter() - step_started[0]))
                    QTimer.singleShot(0, next_step)
                else:
                    QTimer.singleShot(5, poll)
            poll()

        def batch_idle() -> None:
            batch_done[0] = True
            if not browse:
                app.quit()

        window.queue.queue_idle.connect(batch_idle)
        window.host.loaded.connect(lambda _p: QTimer.singleShot(200, next_step))
        QTimer.singleShot(600_000, app.quit)  # a bound, should the batch never finish
        started = time.perf_counter()
        window.add_paths(copies)
        heartbeat.start(5)
        app.exec()
        heartbeat.stop()
        seconds = time.perf_counter() - started
        window.close()
    gaps = gaps[1:]
    after_load = [g for g, where in stalls if where != "loading the model"]
    worst_by_phase = worst
    worst = max(gaps) if gaps else float("nan")
    print(f"{args.images} analyses in {seconds:.1f} s, {animations[0]} examine animations played")
    for what, took in shown[:3]:
        print(f"  {what}: on screen after {took * 1000:.0f} ms")
    if len(shown) > 3:
        rest = [took for _, took in shown[2:]]
        print(f"  {len(rest)} × 12-MP photos: on screen after {min(rest) * 1000:.0f}–"
              f"{max(rest) * 1000:.0f} ms (median {sorted(rest)[len(rest) // 2] * 1000:.0f})")
    print(f"heartbeat ticks: {len(gaps)}, longest gap {worst} ms; by phase: "
          + ", ".join(f"{k} {v} ms" for k, v in worst_by_phase.items()))
    print(f"gaps over 50 ms: {len(stalls)} "
          + (", ".join(f"{g} ms while {where}" for g, where in stalls) if stalls else ""))
    return 0 if not after_load else 1


if __name__ == "__main__":
    sys.exit(main())
