"""Closing the window never aborts the process (docs/decisions/0005-clean-shutdown.md).

Real windows in real processes, under CPU load (a busy helper process per core):

- `lte-inspector`'s own `main()` opens the window on the bundled demo model, whose load (torch,
  transformers, the checkpoint, in the worker thread) takes several seconds, and the window is
  closed 0.2 s, 1 s and 3 s after it opens -- while the model loads. Every run must exit 0 with
  no "Destroyed while thread" / "Aborted" on stderr.
- The window is closed while an analysis generates (an untrained tiny model that writes until its
  token limit): the analysis is cancelled within one token, the thread stops before the window
  has closed, and the process exits 0 the ordinary way.

The full check is 10 runs per delay (30 runs, several minutes on 2 loaded cores; the result is
recorded in docs/decisions/0005-clean-shutdown.md and the README). To keep this file near a minute
the suite runs one per delay (plus the generating run; test_gui_main_window's smoke test is one
more close during the load, at 1.5 s). The full set:

    LTE_SHUTDOWN_RUNS=10 .venv/bin/python -m pytest tests/test_gui_shutdown.py -s -k loads

Run as a script, this file is the driver of one such process (`main()` plus a timer that closes
the window the way the title bar's close button does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("LTE_SHUTDOWN_RUNS", "1"))
DELAYS = (0.2, 1.0, 3.0)
BAD_STDERR = ("Destroyed while thread", "Aborted", "Traceback", "Fatal Python error")


# --------------------------------------------------------------------------------------------
# The driver (runs in the child process)
# --------------------------------------------------------------------------------------------


def _drive(mode: str, delay_s: float) -> int:
    """Run the app's main() and close its window `delay_s` after it opens (mode "load") or once
    the analysis has streamed 20 tokens (mode "generate"); report on stdout as JSON lines."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication([sys.argv[0]])  # main() uses this one
    from inspector.core.pipeline import TokenGenerated
    from inspector.gui import app as gui_app
    from inspector.gui.main_window import MainWindow

    started = time.monotonic()

    def say(**fields) -> None:
        print(json.dumps(fields), flush=True)

    def window() -> MainWindow | None:
        return next((w for w in app.topLevelWidgets() if isinstance(w, MainWindow)), None)

    def close(w: MainWindow, **extra) -> None:
        state = w.host.model_state
        at = time.monotonic()
        w.close()  # what the close button does: closeEvent, then the app quits
        say(event="closed", at=round(at - started, 3), model_state=state,
            close_seconds=round(time.monotonic() - at, 3),
            thread_running=w.host.thread_handle.isRunning(), **extra)

    if mode == "load":
        QTimer.singleShot(int(delay_s * 1000), lambda: close(window()))
    else:
        tokens = {"all": 0, "after_cancel": 0}
        cancelled: list[float] = []
        hooked: list[MainWindow] = []

        def on_event(_path, event) -> None:  # worker thread, as the pipeline emits
            if isinstance(event, TokenGenerated):
                tokens["all"] += 1
                if hooked[0].host.worker.is_cancelled():
                    tokens["after_cancel"] += 1

        def poll() -> None:
            w = window()
            if w is None:
                return
            if not hooked:
                hooked.append(w)
                direct = Qt.ConnectionType.DirectConnection
                w.host.worker.pipeline_event.connect(on_event, direct)
                w.host.worker.cancelled.connect(
                    lambda _path: cancelled.append(time.monotonic()), direct)
            if tokens["all"] >= 20 or time.monotonic() - started > 240:
                timer.stop()
                before = tokens["all"]
                close(w, tokens_before_close=before)
                say(event="generation", tokens_before_close=before,
                    tokens_after_cancel=tokens["after_cancel"], cancelled=bool(cancelled))

        timer = QTimer()
        timer.timeout.connect(poll)
        timer.start(10)

    code = gui_app.main([sys.argv[0], *sys.argv[3:]])
    say(event="main returned", code=code)  # only when main() did not leave with os._exit
    return code


# --------------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cpu_load():
    """One busy process per core for the duration of this module."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 2)]
    yield
    for hog in hogs:
        hog.kill()
        hog.wait()


def _run(mode: str, delay_s: float, tmp_path: Path, settings: str = "", args=()) -> tuple:
    pytest.importorskip("PySide6.QtWidgets")
    settings_file = tmp_path / "settings.toml"
    if settings:
        settings_file.write_text(settings)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LTE_SETTINGS=str(settings_file),
               XDG_DATA_HOME=str(tmp_path / "data"), HF_HUB_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, __file__, mode, str(delay_s), *map(str, args)],
        capture_output=True, text=True, env=env, timeout=300, cwd=ROOT,
    )
    seconds = time.monotonic() - started
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    reports = {line["event"]: line for line in lines}
    where = f"{mode} {delay_s}s: rc={result.returncode}\n{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, where
    assert not [bad for bad in BAD_STDERR if bad in result.stderr], where
    assert "closed" in reports, where  # the window really was closed by the driver
    return reports, seconds, where


def test_closing_while_analysing_cancels_within_one_token(tiny_model_dir, photo_path, cpu_load,
                                                          tmp_path):
    # (first in the file, so the session fixtures are built before the CPU load starts)
    settings = f'model_source = {json.dumps(str(tiny_model_dir))}\ndevice = "cpu"\n'
    reports, seconds, where = _run("generate", 0, tmp_path, settings, [photo_path])
    closed, generation = reports["closed"], reports["generation"]
    assert closed["model_state"] == "loaded", where
    assert generation["tokens_before_close"] >= 20, where  # it really was generating
    assert generation["cancelled"], where
    assert generation["tokens_after_cancel"] <= 1, where
    assert not closed["thread_running"], where  # stopped before the window closed...
    assert closed["close_seconds"] < 5, where
    assert reports["main returned"]["code"] == 0, where  # ...so main() returned normally


@pytest.mark.parametrize("run", range(RUNS))
@pytest.mark.parametrize("delay_s", DELAYS)
def test_closing_while_the_demo_model_loads_exits_0(cpu_load, tmp_path, delay_s, run):
    if not (ROOT / "resources" / "demo-model" / "config.json").exists():
        pytest.skip("no bundled demo checkpoint")
    reports, seconds, where = _run("load", delay_s, tmp_path)
    closed = reports["closed"]
    print(f"delay {delay_s}s run {run}: closed at {closed['at']} s while "
          f"{closed['model_state']}, close took {closed['close_seconds']} s, "
          f"thread left running={closed['thread_running']}, process {seconds:.1f} s")
    # closing never blocks the window on the load (it is not waited for)
    assert closed["close_seconds"] < 3, where


if __name__ == "__main__":
    sys.exit(_drive(sys.argv[1], float(sys.argv[2])))
